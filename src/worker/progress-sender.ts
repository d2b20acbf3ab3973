import { PROGRESS_INTERVAL_MS, progressText } from '../core/progress.ts';
import { ClientError, type TaskctlClient } from '../client/client.ts';

/**
 * Sends each task's progress to the server (`work --progress`): its last output line, or what it reported
 * with `::progress TEXT`, which from then on wins over its plain lines. Cleaned and cut before it leaves
 * (see progressText); all tasks' latest lines go in one request per interval, so a task is updated at
 * most once per interval however much it prints. Best effort: a failed send is tried again with the next.
 */
export class ProgressSender {
  readonly #client: TaskctlClient;
  readonly #timer: NodeJS.Timeout;
  /** The latest line of each task not yet sent. */
  readonly #pending = new Map<string, string>();
  /** What the server last got for each task, so an unchanged line is not sent again. */
  readonly #sent = new Map<string, string>();
  /** Tasks that report explicitly: their plain output lines are not progress. */
  readonly #explicit = new Set<string>();
  #sending: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(client: TaskctlClient, intervalMs: number = PROGRESS_INTERVAL_MS) {
    this.#client = client;
    this.#timer = setInterval(() => void this.#send(), intervalMs).unref();
  }

  /** A line of the task's output (not an explicit report). */
  output(id: string, line: string): void {
    if (this.#explicit.has(id)) return;
    this.#note(id, line);
  }

  /** The text of a `::progress TEXT` line. */
  explicit(id: string, text: string): void {
    this.#explicit.add(id);
    this.#note(id, text);
  }

  /** Sends what is pending one last time (within `timeoutMs`) and stops. */
  async close(timeoutMs: number): Promise<void> {
    clearInterval(this.#timer);
    await this.#send(AbortSignal.timeout(timeoutMs));
    this.#stopped = true;
  }

  #note(id: string, line: string): void {
    if (this.#stopped) return;
    const text = progressText(line);
    if (text === undefined) return;
    if (this.#sent.get(id) === text) this.#pending.delete(id);
    else this.#pending.set(id, text);
  }

  #send(signal?: AbortSignal): Promise<void> {
    this.#sending = this.#sending.then(async () => {
      if (this.#pending.size === 0 || this.#stopped) return;
      const updates = [...this.#pending].map(([id, text]) => ({ id, text }));
      this.#pending.clear();
      try {
        await this.#client.progress(updates, signal ? { signal } : {});
        for (const { id, text } of updates) this.#sent.set(id, text);
      } catch (error) {
        // A server that refuses progress (an older one, or a token without the right) will not change its mind.
        if (error instanceof ClientError && (error.kind === 'unauthorized' || (error.status !== undefined && error.status < 500 && error.status !== 408))) {
          this.#stopped = true;
          return;
        }
        for (const { id, text } of updates) if (!this.#pending.has(id)) this.#pending.set(id, text);
      }
    });
    return this.#sending;
  }
}
