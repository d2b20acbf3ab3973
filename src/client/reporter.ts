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
  readonly #pending = new Set<Promise<void>>();
  readonly #stop = new AbortController();
  readonly #onGiveUp: (id: string, error: ClientError) => void;

  constructor(client: TaskctlClient, options: { backoff?: BackoffPolicy | undefined; onGiveUp?: (id: string, error: ClientError) => void } = {}) {
    this.#client = client;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#onGiveUp = options.onGiveUp ?? (() => {});
  }

  report(id: string, report: ReportRequest): void {
    this.#track(this.#deliver(id, (signal) => this.#client.report(id, report, { signal })));
  }

  /** Registers a deadline with the server: it cancels `id` after `afterMs` even if this worker cannot. */
  scheduleCancel(id: string, afterMs: number, reason: string): void {
    const at = new Date(Date.now() + afterMs).toISOString();
    this.#track(this.#deliver(id, (signal) => this.#client.scheduleCancel(id, { at, reason }, { signal, oneShot: true })));
  }

  #track(delivery: Promise<void>): void {
    const tracked = delivery.finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  /** Waits for every report to be delivered, up to `timeoutMs`; resolves whether all were. */
  async flush(timeoutMs: number): Promise<boolean> {
    const timer = setTimeout(() => this.#stop.abort(), timeoutMs);
    await Promise.all([...this.#pending]);
    clearTimeout(timer);
    return !this.#stop.signal.aborted;
  }

  async #deliver(id: string, send: (signal: AbortSignal) => Promise<unknown>): Promise<void> {
    for (let attempt = 1; !this.#stop.signal.aborted; attempt++) {
      try {
        await send(this.#stop.signal);
        return;
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        const clientError = ClientError.from(error);
        // A 4xx will not get better by asking again.
        if (clientError.status !== undefined && clientError.status < 500) {
          this.#onGiveUp(id, clientError);
          return;
        }
        await sleep(backoffDelay(attempt, this.#backoff), this.#stop.signal);
      }
    }
  }
}
