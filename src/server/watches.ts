import type { ServerResponse } from 'node:http';
import type { Canceler, WaitResult } from '../core/canceler.ts';
import type { Clock } from '../core/clock.ts';
import type { TaskTracker } from '../core/task-tracker.ts';
import type { WorkerIdentity } from '../core/task-status.ts';
import { HttpError } from '../protocol/errors.ts';
import { MIN_WATCH_TIMEOUT_MS } from '../protocol/limits.ts';
import type { ServerMetrics } from './metrics.ts';

export interface WatchHolderOptions {
  readonly canceler: Canceler;
  readonly tracker: TaskTracker;
  readonly metrics: ServerMetrics;
  readonly clock: Clock;
  /** The longest a watch is held; also what a watch that names no timeout gets. */
  readonly watchTimeoutMs: number;
  readonly maxOpenWatches: number;
  readonly maxWatchedIds: number;
  readonly onBackgroundError: (error: unknown) => void;
  /** Told of each answered watch. */
  readonly onAnswered?: (outcome: 'cancelled' | 'timeout' | 'gone') => void;
  /** Other watch-like connections held (event streams): they count towards maxOpenWatches too. */
  readonly alsoHeld?: () => number;
}

/** Holds long polls: counts them against the cap, ends them on cancel, timeout, departure or shutdown. */
export class WatchHolder {
  readonly #options: WatchHolderOptions;
  #open = 0;
  #heldIds = 0;
  #closing = false;
  /** The ends of watches held by tokens a reload may take away, by token. */
  readonly #byToken = new Map<string, Set<() => void>>();

  constructor(options: WatchHolderOptions) {
    this.#options = options;
  }

  /** Watches held open now. */
  get open(): number {
    return this.#open;
  }

  /** Ids held across the open watches (an id in two watches counts twice). */
  get heldIds(): number {
    return this.#heldIds;
  }

  /** From now on each answered watch closes its connection, so workers re-poll elsewhere. */
  beginShutdown(): void {
    this.#closing = true;
  }

  /** The timeout a watch gets: the client's, if it asked for less than the server's. */
  timeoutFor(requestedMs: number | undefined): number {
    if (requestedMs === undefined) return this.#options.watchTimeoutMs;
    if (requestedMs < MIN_WATCH_TIMEOUT_MS) throw new HttpError('invalid_request', `timeout: at least ${MIN_WATCH_TIMEOUT_MS}ms`);
    // The server decides how long a worker may wait: asking for more gets the server's limit.
    return Math.min(requestedMs, this.#options.watchTimeoutMs);
  }

  /**
   * Holds a long poll on `ids` until one is cancelled, the timeout passes, or the client leaves. Written
   * without async/await and with as few objects as possible: thousands of these are held at once, and
   * every byte here is multiplied by them.
   */
  hold(res: ServerResponse, ids: readonly string[], timeoutMs: number, worker?: WorkerIdentity, tokenId?: string): Promise<WaitResult> {
    const { canceler, tracker, metrics } = this.#options;
    if (this.#open + (this.#options.alsoHeld?.() ?? 0) >= this.#options.maxOpenWatches) {
      metrics.rejectedWatches.inc();
      throw new HttpError('too_many_watches', `this server holds ${this.#options.maxOpenWatches} watches already; retry shortly`, { 'retry-after': '1' });
    }
    if (this.#heldIds + ids.length > this.#options.maxWatchedIds) {
      metrics.rejectedWatches.inc();
      throw new HttpError('too_many_watches', `this server watches ${this.#heldIds} of at most ${this.#options.maxWatchedIds} ids already; retry shortly`, { 'retry-after': '1' });
    }
    this.#open++;
    this.#heldIds += ids.length;
    metrics.openWatches.inc();
    tracker.watchStarted(ids, worker).catch(this.#options.onBackgroundError);
    return new Promise((resolve) => {
      let timedOut = false;
      const end = canceler.waitFor(ids, (result) => {
        clearTimeout(timer);
        res.off('close', end);
        if (tokenId !== undefined) this.#forgetHeldBy(tokenId, end);
        tracker.watchEnded(ids);
        this.#open--;
        this.#heldIds -= ids.length;
        metrics.openWatches.dec();
        // "gone": the client left, or the server is stopping and ended the wait early.
        const outcome = result.cancelled.length > 0 ? 'cancelled' : timedOut ? 'timeout' : 'gone';
        metrics.watchRequests.inc({ outcome });
        this.#options.onAnswered?.(outcome);
        if (this.#closing) res.shouldKeepAlive = false;
        resolve(result);
      });
      const timer = setTimeout(() => {
        timedOut = true;
        end();
      }, timeoutMs);
      // 'close' before the answer is written means the client left.
      res.once('close', end);
      if (tokenId !== undefined) {
        const held = this.#byToken.get(tokenId);
        if (held) held.add(end);
        else this.#byToken.set(tokenId, new Set([end]));
      }
    });
  }

  /** Answers "not cancelled" every watch held by a token `keep` says no; its next request meets the new rules. */
  endWhere(keep: (tokenId: string) => boolean): number {
    let ended = 0;
    for (const [tokenId, ends] of [...this.#byToken]) {
      if (keep(tokenId)) continue;
      for (const end of [...ends]) {
        end();
        ended++;
      }
    }
    return ended;
  }

  #forgetHeldBy(tokenId: string, end: () => void): void {
    const held = this.#byToken.get(tokenId);
    held?.delete(end);
    if (held?.size === 0) this.#byToken.delete(tokenId);
  }

  /** Records how long the cancel that answered a watch took to reach it. */
  observeLatency(result: WaitResult): void {
    if (result.cancelArrivedAt !== undefined) this.#options.metrics.notifyLatency.observe((this.#options.clock.monotonic() - result.cancelArrivedAt) / 1_000);
  }
}
