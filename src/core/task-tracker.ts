import { type Clock, type TimerHandle, systemClock } from './clock.ts';
import { coalesced } from './coalesce.ts';
import { PROGRESS_INTERVAL_MS, type TaskProgress } from './progress.ts';
import { nextTurn } from './turns.ts';
import type { CancelRecord, CancelSource, CancelStore, LinkCheck, StatusChange, StatusQuery, StatusUpdate } from './store.ts';
import type { TaskUpdate } from './task-updates.ts';
import {
  ENDED_STATES,
  isLost,
  isRunning,
  onCancelRequested,
  onLost,
  onParentCancelled,
  onReport,
  onWatch,
  runMayBeGoing,
  reasonViaParent,
  type TaskReport,
  type TaskStatus,
  type WorkerIdentity,
} from './task-status.ts';

/** The updates the tracker makes: states entered, progress, tasks forgotten. */
export type TrackerUpdate = Extract<TaskUpdate, { kind: 'state' | 'progress' | 'forgotten' }>;

export interface TaskTrackerOptions {
  readonly store: CancelStore;
  readonly clock?: Clock;
  /** How long a watched task's worker may stay silent before the task is lost. */
  readonly leaseMs: number;
  /** How often quiet tasks are looked for (and last-seen times written). */
  readonly sweepIntervalMs?: number;
  readonly onError?: (error: unknown) => void;
  /**
   * Told of what the tracker changed: each state a task enters and each progress line, once stored (not
   * bare last-seen updates), and how many tasks each retention pass forgot.
   */
  readonly onUpdate?: (update: TrackerUpdate) => void;
  /**
   * A task nobody watches is forgotten (status and history) once its last activity is this old. Never
   * when not set. Must be longer than the lease, so a watched task is always seen within it.
   */
  readonly retentionMs?: number;
  /** How often reported progress is written (at most one write and one notice per task per interval). */
  readonly progressIntervalMs?: number;
}

// Work per step of a sweep: ids whose last-seen time is written at once, quiet or old tasks handled at once.
const SWEEP_STEP = 1_000;
// Ids one step of a change loads, updates and saves before letting other work run.
const CHANGE_STEP = 500;
// What a change that writes nothing resolves with; one for all of them.
const NOTHING_WRITTEN: Promise<void> = Promise.resolve();
// Steps of lost or forgotten tasks one sweep takes on before it leaves the rest to the next one.
const MAX_STEPS_PER_SWEEP = 20;
// Progress waiting to be written, at most: beyond it, reports for tasks not already waiting are dropped.
const MAX_PENDING_PROGRESS = 100_000;

/** Cancels asked for in one turn: who asked for each, the changes queued before them, and their write. */
interface CancelBatch {
  readonly asked: Map<string, CancelSource | undefined>;
  readonly before: Promise<unknown>[];
  /** Never rejects: a failure goes to onError. */
  readonly written: Promise<void>;
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
  readonly #onUpdate: (update: TrackerUpdate) => void;
  readonly #retentionMs: number | undefined;
  #heldRefreshedAt = 0;

  /** Watches open on this server, per id: such a task is not lost whatever its last-seen time says. */
  readonly #held = new Map<string, number>();
  /** Ids known to be watched (or cancel requested) by the given worker, so that a re-poll needs no look-up. */
  readonly #watchingBy = new Map<string, string | undefined>();
  /** Cancels asked for in this turn, written together (see cancelRequested). */
  #cancelBatch: CancelBatch | undefined;
  /** Last-seen times not yet written. */
  readonly #seen = new Map<string, number>();
  readonly #timer: TimerHandle;
  /** Serializes changes per id, so a watch and a cancel arriving together do not overwrite each other. */
  readonly #queues = new Map<string, Promise<unknown>>();
  /** The parents (joined by newlines, which no id holds) known stored for ids, so a re-poll writes no links. */
  readonly #linkedTo = new Map<string, string>();

  constructor(options: TaskTrackerOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#leaseMs = options.leaseMs;
    this.#onError = options.onError ?? (() => {});
    this.#onUpdate = options.onUpdate ?? (() => {});
    this.#retentionMs = options.retentionMs;
    if (this.#retentionMs !== undefined && !(this.#retentionMs > this.#leaseMs)) throw new RangeError('retentionMs must be longer than leaseMs');
    this.#timer = this.#clock.setInterval(() => void this.sweep(), options.sweepIntervalMs ?? Math.max(1_000, Math.floor(this.#leaseMs / 3)));
    this.#progressTimer = this.#clock.setInterval(() => void this.flushProgress(), options.progressIntervalMs ?? PROGRESS_INTERVAL_MS);
  }

  /** A watch on `ids` began. Lost or ended tasks are watched again. */
  watchStarted(ids: readonly string[], worker: WorkerIdentity | undefined, token?: string): Promise<void> {
    for (const id of ids) this.#held.set(id, (this.#held.get(id) ?? 0) + 1);
    return this.#watched(ids, worker, token) ?? NOTHING_WRITTEN;
  }

  /**
   * A watch on `ids` answered as it came, a cancel among them being at hand: watchStarted and watchEnded in
   * one, nothing held. Undefined when there is nothing to write, as for a worker re-polling its cancelled
   * task, so that such a re-poll costs no promise.
   */
  watchAnsweredAtOnce(ids: readonly string[], worker: WorkerIdentity | undefined, token?: string): Promise<void> | undefined {
    return this.#watched(ids, worker, token);
  }

  /** Marks `ids` watched by `worker`; the writes this takes, if any. */
  #watched(ids: readonly string[], worker: WorkerIdentity | undefined, token: string | undefined): Promise<void> | undefined {
    const now = this.#clock.now();
    let unknown: string[] | undefined;
    for (const id of ids) {
      // A re-poll by the same worker changes nothing but the last-seen time, which waits for the sweep.
      if (this.#watchingBy.has(id) && this.#watchingBy.get(id) === worker?.id) this.#seen.set(id, now);
      else (unknown ??= []).push(id);
    }
    return (
      unknown &&
      this.#change(unknown, (status, id) => {
        const next = onWatch(status, id, worker, now, this.#leaseMs, token);
        // Watched or cancel requested: another watch by the same worker would change only the last-seen time.
        if (isRunning(next.state)) this.#watchingBy.set(id, worker?.id);
        if (status && next.state === status.state && next.worker?.id === status.worker?.id) {
          this.#seen.set(id, now);
          return undefined;
        }
        return next;
      })
    );
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

  /**
   * A cancel of `id` was requested (by `by`): its status becomes cancel_requested unless it ended already.
   * The cancels of one group commit are answered in the same turn, so those asked in one turn are written
   * together (one read and one write of statuses, not one each). Each takes its place in the id's order of
   * changes when asked, as a change of its own would: a report that arrives before the batch is written
   * waits for it. Resolves once written; a failure goes to onError, once for the whole batch.
   */
  cancelRequested(id: string, by?: CancelSource): Promise<void> {
    this.#watchingBy.delete(id);
    const batch = (this.#cancelBatch ??= this.#openCancelBatch());
    // A second cancel changes nothing: the first asker is the one recorded.
    if (!batch.asked.has(id)) {
      batch.asked.set(id, by);
      const before = this.#queues.get(id);
      if (before !== undefined) batch.before.push(before);
      this.#queues.set(id, batch.written);
    }
    return batch.written;
  }

  #openCancelBatch(): CancelBatch {
    const batch: { -readonly [K in keyof CancelBatch]: CancelBatch[K] } = { asked: new Map(), before: [], written: NOTHING_WRITTEN };
    batch.written = NOTHING_WRITTEN.then(() => this.#writeCancelBatch(batch));
    return batch;
  }

  /** Writes the cancels of one turn (see cancelRequested); never rejects. */
  async #writeCancelBatch(batch: CancelBatch): Promise<void> {
    this.#cancelBatch = undefined;
    const { asked, before } = batch;
    if (before.length > 0) await Promise.all(before);
    const now = this.#clock.now();
    const update: StatusUpdate = (status, id) => onCancelRequested(status, id, now, asked.get(id));
    const ids = [...asked.keys()];
    let failure: unknown;
    for (let i = 0; i < ids.length; i += CHANGE_STEP) {
      if (i > 0) await nextTurn();
      try {
        await this.#apply(ids.length <= CHANGE_STEP ? ids : ids.slice(i, i + CHANGE_STEP), update);
      } catch (error) {
        // One failed step does not keep the others from being written.
        failure ??= error;
      }
    }
    if (failure !== undefined) this.#onError(failure);
    // Written: a change asked for after this one no longer waits for it (nor does one that finds no entry).
    for (const id of ids) if (this.#queues.get(id) === batch.written) this.#queues.delete(id);
  }

  /**
   * Records `parents` as the direct parents of each of `ids`, after any change queued for them (a watch's
   * status comes first, so a link never outlives the status retention forgets it with). Ids already known
   * linked to the same parents write nothing: re-polls cost no writes. `check` is the store's (see saveParents);
   * `linkedBy` names the token that made the links.
   */
  async linkParents(ids: readonly string[], parents: readonly string[], check?: LinkCheck, linkedBy?: string): Promise<void> {
    const key = parents.join('\n');
    const changed = ids.filter((id) => this.#linkedTo.get(id) !== key);
    for (let i = 0; i < changed.length; i += CHANGE_STEP) {
      if (i > 0) await nextTurn();
      const step = changed.length <= CHANGE_STEP ? changed : changed.slice(i, i + CHANGE_STEP);
      await this.#queued(step, async () => {
        await this.#store.saveParents(
          step.map((child) => (linkedBy === undefined ? { child, parents } : { child, parents, linkedBy })),
          check,
        );
        for (const id of step) this.#linkedTo.set(id, key);
      });
    }
  }

  /**
   * The cancel `parent` records stopped `ids` (its descendants): each still running is marked
   * cancel_requested with the reason "parent P cancelled", and as cancelled by whoever cancelled the
   * parent, a step at a time.
   */
  parentCancelled(ids: readonly string[], parent: CancelRecord): Promise<void> {
    const now = this.#clock.now();
    const reason = reasonViaParent(parent);
    this.#forget(ids);
    return this.#change(ids, (status, id) => {
      const next = onParentCancelled(status, id, now, reason, parent.by);
      return next === status ? undefined : next;
    });
  }

  /** A worker's report of how `id` ended; resolves with the status it leads to. */
  async reported(id: string, report: TaskReport, reporter?: string): Promise<TaskStatus> {
    const now = this.#clock.now();
    this.#forget([id]);
    // Progress not yet written goes with the end, not after it: a reader of events never sees a task's
    // progress follow its end.
    const progress = this.#progress.get(id);
    this.#progress.delete(id);
    let result!: TaskStatus;
    await this.#change([id], (status) => {
      const ended = onReport(status, id, report, now, reporter);
      result = progress === undefined || ended === status ? ended : { ...ended, progress };
      return result;
    });
    return result;
  }

  /** Those of `ids` whose run may still be going (see runMayBeGoing): their statuses. */
  async goingRuns(ids: readonly string[]): Promise<TaskStatus[]> {
    const now = this.#clock.now();
    return (await this.statuses(ids)).filter((status) => this.#held.has(status.id) || runMayBeGoing(status, now, this.#leaseMs));
  }

  /** The statuses of `ids`, with tasks whose lease ran out shown as lost even before the sweep marks them. */
  async statuses(ids: readonly string[]): Promise<TaskStatus[]> {
    const now = this.#clock.now();
    return (await this.#store.loadStatuses(ids)).map((status) => this.#current(status, now));
  }

  /**
   * A page of statuses: work in proportion to the page. A listing of lost tasks first waits for a sweep,
   * so that it includes those that just went quiet.
   */
  async list(query: StatusQuery): Promise<TaskStatus[]> {
    if (query.state === 'lost') await this.sweep();
    const now = this.#clock.now();
    return (await this.#store.listStatuses(query)).map((status) => this.#current(status, now));
  }

  /**
   * Writes pending last-seen times, marks lost every watched task whose worker went quiet, and forgets
   * tasks past the retention. One sweep runs at a time (a caller during one gets the next), in steps small enough
   * to let requests in between. Resolves with how many tasks went lost.
   */
  readonly sweep: () => Promise<number> = coalesced(() => this.#sweepInSteps());

  async #sweepInSteps(): Promise<number> {
    try {
      await this.#writeSeen();
      const lost = await this.#markLost();
      if (this.#retentionMs !== undefined) await this.#forgetInactive(this.#retentionMs);
      return lost;
    } catch (error) {
      this.#onError(error);
      return 0;
    }
  }

  async #writeSeen(): Promise<void> {
    // Ids held without a new watch (a watch session's, polled by handle) are still seen: their last-seen time
    // is written every half lease, so that other servers sharing the store never take them for lost.
    const now = this.#clock.now();
    if (now - this.#heldRefreshedAt >= this.#leaseMs / 2) {
      this.#heldRefreshedAt = now;
      for (const id of this.#held.keys()) if (!this.#seen.has(id)) this.#seen.set(id, now);
    }
    const seen = [...this.#seen];
    this.#seen.clear();
    // Ids nobody watches any more need not be remembered as watching, nor as linked.
    for (const id of this.#watchingBy.keys()) if (!this.#held.has(id)) this.#watchingBy.delete(id);
    for (const id of this.#linkedTo.keys()) if (!this.#held.has(id)) this.#linkedTo.delete(id);
    for (let i = 0; i < seen.length; i += SWEEP_STEP) {
      const times = new Map(seen.slice(i, i + SWEEP_STEP));
      await this.#change([...times.keys()], (status) =>
        status && (status.lastSeenAt ?? 0) < times.get(status.id)! ? { ...status, lastSeenAt: times.get(status.id)! } : undefined,
      );
    }
  }

  async #markLost(): Promise<number> {
    let lost = 0;
    for (let step = 0; step < MAX_STEPS_PER_SWEEP; step++) {
      const now = this.#clock.now();
      const found = await this.#store.findQuiet(now - this.#leaseMs, SWEEP_STEP);
      const quiet = found.filter((s) => !this.#held.has(s.id));
      const changes: StatusChange[] = [];
      await this.#change(
        quiet.map((s) => s.id),
        (status) => {
          if (!status || this.#held.has(status.id) || !isLost(status, now, this.#leaseMs)) return undefined;
          this.#forget([status.id]);
          // Lost as of when the lease ran out, not when this sweep ran: servers sharing the store that both
          // see it agree on the change (a webhook event's id comes from it).
          return onLost(status, status.lastSeenAt! + this.#leaseMs);
        },
        changes,
      );
      // Counted once written: the store may apply the change more than once before one write wins.
      lost += changes.length;
      if (found.length < SWEEP_STEP || quiet.length === 0) break;
    }
    return lost;
  }

  /** Forgets tasks whose last activity is older than the retention, except those watched here. */
  async #forgetInactive(retentionMs: number): Promise<void> {
    for (let step = 0; step < MAX_STEPS_PER_SWEEP; step++) {
      const before = this.#clock.now() - retentionMs;
      const found = await this.#store.findInactive(before, SWEEP_STEP);
      // A watched task is never forgotten: it is marked seen instead, so its next write makes it active.
      const idle = found.filter((id) => {
        if (!this.#held.has(id)) return true;
        this.#seen.set(id, this.#clock.now());
        return false;
      });
      let forgotten = 0;
      // Behind any change already queued for these ids, and checking again that none is watched by then.
      await this.#queued(idle, async () => {
        const still = idle.filter((id) => !this.#held.has(id));
        forgotten = await this.#store.forgetStatuses(still, before);
        this.#forget(still);
        // A child's parent links go with it (those of a status kept meanwhile stay).
        await this.#store.forgetParents(still);
      });
      if (forgotten > 0) this.#onUpdate({ kind: 'forgotten', count: forgotten });
      if (found.length < SWEEP_STEP || idle.length === 0) break;
    }
  }

  // ---- Progress: frequent, so kept in memory and written at most once per task per interval ----

  readonly #progressTimer: TimerHandle;
  /** Progress reported and not yet written, by id: only the latest of each task counts. */
  readonly #progress = new Map<string, TaskProgress>();

  /**
   * Workers reported progress (texts already cleaned). It is written, and told of, on the next flush: a
   * task reporting every 100 ms costs one write per interval, not ten a second.
   */
  progressed(updates: ReadonlyArray<{ readonly id: string; readonly text: string }>): void {
    const at = this.#clock.now();
    for (const { id, text } of updates) {
      if (this.#progress.size >= MAX_PENDING_PROGRESS && !this.#progress.has(id)) continue;
      this.#progress.set(id, { text, at });
    }
  }

  /** Writes the progress reported since the last flush, a step at a time; tasks the store does not know are skipped. */
  readonly flushProgress: () => Promise<void> = coalesced(async () => {
    const pending = [...this.#progress];
    this.#progress.clear();
    try {
      for (let i = 0; i < pending.length; i += CHANGE_STEP) {
        if (i > 0) await nextTurn();
        const step = new Map(pending.slice(i, i + CHANGE_STEP));
        const ids = [...step.keys()];
        await this.#queued(ids, async () => {
          const changes = await this.#store.updateStatuses(ids, (status, id) => {
            const progress = step.get(id)!;
            // A run that ended (or went lost) makes no more progress: a line that comes after its end is late.
            if (status === undefined || ENDED_STATES.has(status.state) || status.state === 'lost') return undefined;
            return status.progress?.text === progress.text ? undefined : { ...status, progress };
          });
          for (const { after } of changes) this.#onUpdate({ kind: 'progress', status: after });
        });
      }
    } catch (error) {
      this.#onError(error);
    }
  });

  close(): void {
    this.#clock.clearTimer(this.#timer);
    this.#clock.clearTimer(this.#progressTimer);
  }

  #current(status: TaskStatus, now: number): TaskStatus {
    const seen = this.#seen.get(status.id);
    const progress = this.#progress.get(status.id);
    const withProgress = progress !== undefined ? { ...status, progress } : status;
    const fresh = seen !== undefined && seen > (status.lastSeenAt ?? 0) ? { ...withProgress, lastSeenAt: seen } : withProgress;
    return !this.#held.has(status.id) && isLost(fresh, now, this.#leaseMs) ? onLost(fresh, fresh.lastSeenAt! + this.#leaseMs) : fresh;
  }

  /**
   * Applies `update` to each of `ids` (undefined: no change) in the store, each id in turn after any change
   * already queued for it; what was written is added to `written`. Many ids go a step at a time, other
   * work running in between: a watch may name 10,000 fresh ids.
   */
  async #change(ids: readonly string[], update: StatusUpdate, written?: StatusChange[]): Promise<void> {
    for (let i = 0; i < ids.length; i += CHANGE_STEP) {
      if (i > 0) await nextTurn();
      const step = ids.length <= CHANGE_STEP ? ids : ids.slice(i, i + CHANGE_STEP);
      await this.#queued(step, async () => {
        const changes = await this.#apply(step, update);
        written?.push(...changes);
      });
    }
  }

  /**
   * Applies `update` to each of `ids` in the store (which reads, applies and writes each by compare-and-set,
   * so another server's change in between is never overwritten): one step of a change, in its turn.
   */
  async #apply(ids: readonly string[], update: StatusUpdate): Promise<StatusChange[]> {
    const changes = await this.#store.updateStatuses(ids, update);
    // Bare last-seen updates are bookkeeping, not news.
    for (const { before, after } of changes) if (before?.state !== after.state) this.#onUpdate({ kind: 'state', status: after });
    return changes;
  }

  /** Runs `work` once every change already queued for any of `ids` is done; later changes wait for it. */
  #queued(ids: readonly string[], work: () => Promise<void>): Promise<void> {
    if (ids.length === 0) return NOTHING_WRITTEN;
    // Only ids with a change in flight are waited for: usually none, and a watch may name 10,000.
    const pending: Promise<unknown>[] = [];
    for (const id of ids) {
      const queued = this.#queues.get(id);
      if (queued !== undefined) pending.push(queued);
    }
    const run = pending.length === 0 ? work() : Promise.all(pending).then(work);
    const settled = run.catch(() => {});
    for (const id of ids) this.#queues.set(id, settled);
    void settled.then(() => {
      for (const id of ids) if (this.#queues.get(id) === settled) this.#queues.delete(id);
    });
    return run;
  }
}
