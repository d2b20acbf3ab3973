import { type BackoffPolicy, DEFAULT_BACKOFF, backoffDelay } from '../core/backoff.ts';
import type { ReportRequest } from '../protocol/schemas.ts';
import { ClientError, type TaskctlClient } from './client.ts';
import { sleep } from './sleep.ts';

/**
 * Delivers what a worker tells the server (task reports, deadlines), retrying through network failures like the watch does. Reports
 * are idempotent on the server, so a retry after a lost answer is harmless.
 */
export class Reporter {
  readonly #client: TaskctlClient;
  readonly #backoff: BackoffPolicy;
  readonly #pending = new Set<Promise<unknown>>();
  readonly #stop = new AbortController();
  readonly #onGiveUp: (id: string, error: ClientError) => void;
  /** Tasks whose report the server did not take: refused, or still being retried when flush() gave up. */
  readonly #unheard = new Set<string>();

  constructor(client: TaskctlClient, options: { backoff?: BackoffPolicy | undefined; onGiveUp?: (id: string, error: ClientError) => void } = {}) {
    this.#client = client;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#onGiveUp = options.onGiveUp ?? (() => {});
  }

  report(id: string, report: ReportRequest): void {
    this.#track(
      this.#deliver(id, (signal) => this.#client.report(id, report, { signal })).then((delivered) => {
        if (!delivered) this.#unheard.add(id);
      }),
    );
  }

  /** Registers a deadline with the server: it cancels `id` after `afterMs` even if this worker cannot. */
  scheduleCancel(id: string, afterMs: number, reason: string): void {
    const at = new Date(Date.now() + afterMs).toISOString();
    this.#track(this.#deliver(id, (signal) => this.#client.scheduleCancel(id, { at, reason }, { signal, oneShot: true })));
  }

  #track(delivery: Promise<unknown>): void {
    const tracked: Promise<unknown> = delivery.finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  /** Waits for every report to be delivered, up to `timeoutMs`; resolves with the tasks whose report was not. */
  async flush(timeoutMs: number): Promise<readonly string[]> {
    const timer = setTimeout(() => this.#stop.abort(), timeoutMs);
    await Promise.all([...this.#pending]);
    clearTimeout(timer);
    return [...this.#unheard];
  }

  /** Sends until the server takes it; resolves whether it did (not when refused, or stopped first). */
  async #deliver(id: string, send: (signal: AbortSignal) => Promise<unknown>): Promise<boolean> {
    for (let attempt = 1; !this.#stop.signal.aborted; attempt++) {
      try {
        await send(this.#stop.signal);
        return true;
      } catch (error) {
        if (this.#stop.signal.aborted) return false;
        const clientError = ClientError.from(error);
        // A 4xx will not get better by asking again.
        if (clientError.status !== undefined && clientError.status < 500) {
          this.#onGiveUp(id, clientError);
          return false;
        }
        await sleep(backoffDelay(attempt, this.#backoff), this.#stop.signal);
      }
    }
    return false;
  }
}
