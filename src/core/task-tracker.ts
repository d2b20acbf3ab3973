import { type Clock, type TimerHandle, systemClock } from './clock.ts';
import type { CancelSource, CancelStore, StatusQuery } from './store.ts';
import { isLost, onCancelRequested, onLost, onReport, onWatch, type TaskOutcome, type TaskStatus, type WorkerIdentity } from './task-status.ts';

export interface TaskTrackerOptions {
  readonly store: CancelStore;
  readonly clock?: Clock;
  /** How long a watched task's worker may stay silent before the task is lost. */
  readonly leaseMs: number;
  /** How often quiet tasks are looked for (and last-seen times written). */
  readonly sweepIntervalMs?: number;
  readonly onError?: (error: unknown) => void;
  /** Told each time a task goes lost. */
  readonly onLost?: (status: TaskStatus) => void;
  /** Told of every status change once stored (not of bare last-seen updates). */
  readonly onChange?: (status: TaskStatus) => void;
}

/**
 * Keeps each task's status: watched, cancel requested, how it ended, lost. Watches only touch an
 * in-memory last-seen time, written out on the sweep timer, so holding many watches costs no writes.
 */
export class TaskTracker {
  readonly #store: CancelStore;
  readonly #clock: Clock;
  readonly #leaseMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #onLost: (status: TaskStatus) => void;
  readonly #onChange: (status: TaskStatus) => void;
  /** Watches open on this server, per id: such a task is not lost whatever its last-seen time says. */
  readonly #held = new Map<string, number>();
  /** Ids known to be in state "watching" by the given worker, so a re-poll needs no look-up. */
  readonly #watchingBy = new Map<string, string | undefined>();
  /** Last-seen times not yet written. */
  readonly #seen = new Map<string, number>();
  readonly #timer: TimerHandle;
  /** Serializes changes per id, so a watch and a cancel arriving together do not overwrite each other. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(options: TaskTrackerOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#leaseMs = options.leaseMs;
    this.#onError = options.onError ?? (() => {});
    this.#onLost = options.onLost ?? (() => {});
    this.#onChange = options.onChange ?? (() => {});
    this.#timer = this.#clock.setInterval(() => void this.sweep(), options.sweepIntervalMs ?? Math.max(1_000, Math.floor(this.#leaseMs / 3)));
  }

  /** A watch on `ids` began. Lost or ended tasks are watched again. */
  watchStarted(ids: readonly string[], worker: WorkerIdentity | undefined): Promise<void> {
    const now = this.#clock.now();
    const unknown: string[] = [];
    for (const id of ids) {
      this.#held.set(id, (this.#held.get(id) ?? 0) + 1);
      // A re-poll by the same worker changes nothing but the last-seen time, which waits for the sweep.
      if (this.#watchingBy.has(id) && this.#watchingBy.get(id) === worker?.id) this.#seen.set(id, now);
      else unknown.push(id);
    }
    return this.#change(unknown, (status, id) => {
      const next = onWatch(status, id, worker, now);
      if (next.state === 'watching') this.#watchingBy.set(id, worker?.id);
      if (status && next.state === status.state && next.worker?.id === status.worker?.id) {
        this.#seen.set(id, now);
        return undefined;
      }
      return next;
    });
  }

  /** A watch on `ids` ended (answered, timed out, or its client left). */
  watchEnded(ids: readonly string[]): void {
    const now = this.#clock.now();
    for (const id of ids) {
      const held = (this.#held.get(id) ?? 1) - 1;
      if (held > 0) this.#held.set(id, held);
      else this.#held.delete(id);
      this.#seen.set(id, now);
    }
  }

  /** Any change but a re-poll: the id's state is no longer known to be "watching". */
  #forget(ids: readonly string[]): void {
    for (const id of ids) this.#watchingBy.delete(id);
  }

  cancelRequested(id: string, by?: CancelSource): Promise<void> {
    const now = this.#clock.now();
    this.#forget([id]);
    return this.#change([id], (status) => onCancelRequested(status, id, now, by));
  }

  /** A worker's report of how `id` ended; resolves with the status it leads to. */
  async reported(id: string, report: { outcome: TaskOutcome; exitCode?: number | null; signal?: string | null; worker?: WorkerIdentity }): Promise<TaskStatus> {
    const now = this.#clock.now();
    this.#forget([id]);
    let result!: TaskStatus;
    await this.#change([id], (status) => (result = onReport(status, id, report, now)));
    return result;
  }

  /** The statuses of `ids`, with tasks whose lease ran out shown as lost even before the sweep marks them. */
  async statuses(ids: readonly string[]): Promise<TaskStatus[]> {
    const now = this.#clock.now();
    return (await this.#store.loadStatuses(ids)).map((status) => this.#current(status, now));
  }

  /** A page of statuses. Sweeps first, so that a listing of lost tasks includes those just gone quiet. */
  async list(query: StatusQuery): Promise<TaskStatus[]> {
    await this.sweep();
    const now = this.#clock.now();
    return (await this.#store.listStatuses(query)).map((status) => this.#current(status, now));
  }

  /** Writes pending last-seen times, then marks lost every watched task whose worker went quiet. */
  async sweep(): Promise<number> {
    try {
      const seen = [...this.#seen];
      this.#seen.clear();
      // Ids nobody watches any more need not be remembered as watching.
      for (const id of this.#watchingBy.keys()) if (!this.#held.has(id)) this.#watchingBy.delete(id);
      if (seen.length > 0) {
        const times = new Map(seen);
        await this.#change(
          seen.map(([id]) => id),
          (status) => (status && (status.lastSeenAt ?? 0) < times.get(status.id)! ? { ...status, lastSeenAt: times.get(status.id)! } : undefined),
        );
      }
      const now = this.#clock.now();
      const quiet = (await this.#store.findQuiet(now - this.#leaseMs, 1_000)).filter((s) => !this.#held.has(s.id));
      let lost = 0;
      await this.#change(
        quiet.map((s) => s.id),
        (status) => {
          if (!status || this.#held.has(status.id) || !isLost(status, now, this.#leaseMs)) return undefined;
          lost++;
          this.#forget([status.id]);
          const next = onLost(status, now);
          this.#onLost(next);
          return next;
        },
      );
      return lost;
    } catch (error) {
      this.#onError(error);
      return 0;
    }
  }

  close(): void {
    this.#clock.clearTimer(this.#timer);
  }

  #current(status: TaskStatus, now: number): TaskStatus {
    const seen = this.#seen.get(status.id);
    const fresh = seen !== undefined && seen > (status.lastSeenAt ?? 0) ? { ...status, lastSeenAt: seen } : status;
    return !this.#held.has(status.id) && isLost(fresh, now, this.#leaseMs) ? onLost(fresh, fresh.lastSeenAt! + this.#leaseMs) : fresh;
  }

  /** Loads `ids`, applies `update` to each (undefined: no change), and saves what changed, one id at a time. */
  #change(ids: readonly string[], update: (status: TaskStatus | undefined, id: string) => TaskStatus | undefined): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    const previous = Promise.all(ids.map((id) => this.#queues.get(id)));
    const run = previous.then(async () => {
      const loaded = new Map((await this.#store.loadStatuses(ids)).map((s) => [s.id, s]));
      const changed = ids.flatMap((id) => update(loaded.get(id), id) ?? []);
      await this.#store.saveStatuses(changed);
      // Bare last-seen updates are bookkeeping, not news.
      for (const status of changed) if (loaded.get(status.id)?.state !== status.state) this.#onChange(status);
    });
    const settled = run.catch(() => {});
    for (const id of ids) this.#queues.set(id, settled);
    void settled.then(() => {
      for (const id of ids) if (this.#queues.get(id) === settled) this.#queues.delete(id);
    });
    return run;
  }
}
