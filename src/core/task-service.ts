// The one door to a task: every change (a cancel by route or schedule, a cancel through a parent, a
// report, a watch, progress, loss, forgetting) goes through TaskService, and so does every reading of a
// task (one task, a listing, an event's snapshot). What a change triggers is decided here, once; the parts
// it is made of each keep one job: the canceler (records and waits), the tracker (statuses), the family
// (parent links and cascades), the scheduler (cancels at a time). Subscribers hear the changes as one
// stream of TaskUpdate (task-updates.ts).

import { type Canceler, recordViaParent, type WaitResult } from './canceler.ts';
import { CancelScheduler } from './cancel-scheduler.ts';
import { type Clock, systemClock } from './clock.ts';
import type { CancelRecord, CancelSource, CancelStore, ScheduledCancel, StatusQuery } from './store.ts';
import type { SnapshotParts, TaskSnapshot } from './task-events.ts';
import { InvalidParentsError, LinkRefusedError, TaskFamily } from './task-family.ts';
import { answerInScope, pageCovered, recordInScope, type StopAnswer, statusInScope, type TaskScope } from './task-scope.ts';
import { reasonViaParent, statusAsRead, type TaskReport, type TaskStatus, type WorkerIdentity } from './task-status.ts';
import { TaskTracker } from './task-tracker.ts';
import { type Linker, type TaskUpdate, type TaskUpdateListener, TaskUpdates } from './task-updates.ts';

export interface TaskServiceOptions {
  readonly store: CancelStore;
  readonly canceler: Canceler;
  readonly clock?: Clock;
  /** How long a watched task's worker may stay silent before the task is lost. */
  readonly leaseMs: number;
  /** Tasks nobody watches are forgotten once their last activity is this old; never when not set. */
  readonly retentionMs?: number | undefined;
  /** How often reported progress is written (default 2 s). */
  readonly progressIntervalMs?: number | undefined;
  /** Told of failures the service survives (a status that could not be written, a cascade that failed). */
  readonly onError?: (error: unknown) => void;
}

/** One task as every reader shows it: its cancel (its own, or an ancestor's), schedule, status as read, links. */
export interface TaskView {
  readonly id: string;
  /** Its own cancel record, or the one an ancestor's cancel gives it (see recordViaParent). */
  readonly record?: CancelRecord | undefined;
  readonly schedule?: ScheduledCancel | undefined;
  /** The status as it reads (see statusAsRead): a live cancel over `watching` or `lost` reads cancel_requested. */
  readonly status?: TaskStatus | undefined;
  readonly parents: readonly string[];
  /** Up to the number of children asked for plus one (telling whether more follow), with their statuses as read. */
  readonly children: ChildrenPage;
}

/** A page of statuses (as read) in id order, with the reason of each one's cancel where its record gives one. */
export interface TaskPage {
  readonly statuses: readonly TaskStatus[];
  /** By task id: the reason its cancel record gives (its own, or its ancestor's), as the caller may read it. */
  readonly reasons: ReadonlyMap<string, string>;
  /** The last id of this page, when another follows. */
  readonly next?: string;
}

/** A page of a parent's children: ids in id order, and the statuses (as read) of those that have one. */
export interface ChildrenPage {
  readonly ids: readonly string[];
  readonly statuses: readonly TaskStatus[];
  /** As TaskPage's. */
  readonly reasons: ReadonlyMap<string, string>;
}

const EVERY_PART: SnapshotParts = { record: true, status: true, schedule: true };

// A schedule stored before taskctl kept who made it has no asker to name.
const UNKNOWN_SCHEDULER: CancelSource = { name: 'unknown', address: 'schedule', route: 'scheduled' };

/** Owns every change to a task and the one view of it; see the file's head. */
export class TaskService {
  readonly canceler: Canceler;
  readonly tracker: TaskTracker;
  readonly family: TaskFamily;
  readonly scheduler: CancelScheduler;
  readonly #store: CancelStore;
  readonly #updates: TaskUpdates;
  readonly #onError: (error: unknown) => void;
  readonly #clock: Clock;

  constructor(options: TaskServiceOptions) {
    const { store, canceler } = options;
    this.#store = store;
    const clock = options.clock ?? systemClock;
    this.#clock = clock;
    this.#onError = options.onError ?? (() => {});
    this.#updates = new TaskUpdates(this.#onError);
    const publish = (update: TaskUpdate) => this.#updates.publish(update);
    this.canceler = canceler;
    this.tracker = new TaskTracker({
      store,
      clock,
      leaseMs: options.leaseMs,
      onError: this.#onError,
      onUpdate: publish,
      ...(options.retentionMs !== undefined ? { retentionMs: options.retentionMs } : {}),
      ...(options.progressIntervalMs !== undefined ? { progressIntervalMs: options.progressIntervalMs } : {}),
    });
    this.family = new TaskFamily({
      store,
      canceler,
      tracker: this.tracker,
      clock,
      onError: this.#onError,
      onCascaded: (record, marked, ms) => publish({ kind: 'children_cancelled', record, marked, ms }),
    });
    this.scheduler = new CancelScheduler({
      store,
      canceler,
      clock,
      onError: this.#onError,
      onFired: (record, schedule) => this.#cancelRecorded(record, schedule.by ?? UNKNOWN_SCHEDULER, record.reason),
      onUpdate: publish,
    });
  }

  /** From now on `listener` hears every change to every task; returns the unsubscribe. */
  subscribe(listener: TaskUpdateListener): () => void {
    return this.#updates.subscribe(listener);
  }

  // ---- Cancels ----

  /** Cancels `id` now, as asked by `by`; resolves with the record once stored (a repeat keeps the first asker). */
  async cancel(id: string, by: CancelSource, reason?: string): Promise<CancelRecord> {
    const asked = this.#clock.now();
    const record = await this.canceler.cancel(id, { ...(reason === undefined ? {} : { reason }), by });
    // The store answers a repeat with the first record, made before this was asked.
    this.#cancelRecorded(record, by, reason, record.cancelledAt < asked);
    return record;
  }

  /**
   * What a recorded cancel triggers, wherever it came from (a route, a schedule falling due): the one place.
   * The record is stored and answered already; the status follows in the tracker's next group write (a
   * task with a record reads as cancel_requested meanwhile), and the children (and theirs) are marked in
   * the background, as cancelled by the same asker.
   */
  #cancelRecorded(record: CancelRecord, by: CancelSource, reason: string | undefined, repeat = false): void {
    this.tracker.cancelRequested(record.id, record.by ?? by).catch(this.#onError);
    this.family.cancelled(record.by === undefined ? { ...record, by } : record);
    this.#updates.publish(repeat ? { kind: 'cancelled', record, by, reason, repeat } : { kind: 'cancelled', record, by, reason });
  }

  /** Schedules (or moves) the cancel of `id` to `at`, recorded as made `by` whoever scheduled it. */
  schedule(id: string, at: number, reason: string | undefined, by: CancelSource): Promise<ScheduledCancel> {
    return this.scheduler.schedule(id, at, reason, by);
  }

  /** Up to `limit` cancels scheduled for later, in id order, those after `after`; with `scope`, only those it covers. */
  schedules(after: string | undefined, limit: number, scope?: TaskScope): Promise<ScheduledCancel[]> {
    return pageCovered(
      scope,
      after,
      limit,
      (from, max) => this.scheduler.list(from, max),
      (s) => s.id,
    );
  }

  /** Drops the cancel scheduled for `id`; resolves with it, if there was one. A cancel already made stays. */
  unschedule(id: string): Promise<ScheduledCancel | undefined> {
    return this.scheduler.drop(id);
  }

  // ---- Watches, reports, progress ----

  /**
   * Checks the links a watch (or report) of `ids` naming `parents` declares, made by `linkedBy`, and returns
   * the ancestors it waits on and the ids whose links change (for `link`). Throws InvalidParentsError or
   * LinkRefusedError (see TaskFamily.declare).
   */
  declareParents(
    ids: readonly string[],
    parents: readonly string[] | undefined,
    scope?: TaskScope,
    linkedBy?: Linker,
  ): Promise<{ ancestors: string[]; changed: string[] }> {
    if (parents === undefined || parents.length === 0) return Promise.resolve({ ancestors: [], changed: [] });
    return refusalsInScope(this.family.declare(ids, parents, linkedBy?.name, coveredBy(scope)), scope);
  }

  /**
   * Records `parents` as the direct parents of `ids`, after their statuses, as made by `linkedBy` (so a
   * cancel through them names it); refused as declareParents is.
   */
  link(ids: readonly string[], parents: readonly string[], scope?: TaskScope, linkedBy?: Linker): Promise<void> {
    return ids.length === 0 ? Promise.resolve() : refusalsInScope(this.family.link(ids, parents, linkedBy?.name, coveredBy(scope)), scope);
  }

  /** A watch on `ids` began (held here). Lost or ended tasks are watched again. */
  watchStarted(ids: readonly string[], worker: WorkerIdentity | undefined, token?: string): Promise<void> {
    return this.tracker.watchStarted(ids, worker, token);
  }

  /** A watch on `ids` answered as it came; undefined when there is nothing to write (see TaskTracker). */
  watchAnsweredAtOnce(ids: readonly string[], worker: WorkerIdentity | undefined, token?: string): Promise<void> | undefined {
    return this.tracker.watchAnsweredAtOnce(ids, worker, token);
  }

  /** A watch on `ids` ended (answered, timed out, or its client left). */
  watchEnded(ids: readonly string[]): void {
    this.tracker.watchEnded(ids);
  }

  /**
   * The parent rule, applied to every answer of a watch on `ids`: answered through an ancestor whose cancel
   * was found at once (not one that woke the watch), the ids started after that cancel, so its walk down
   * the tree did not know them. They are marked as the walk would have, those that are parents are
   * cancelled in turn, and the stop is told as made through `linkedBy`'s links.
   */
  watchAnswered<R extends WaitResult>(ids: readonly string[], result: R, linkedBy: Linker): R {
    if (result.parent === undefined || result.cancelArrivedAt !== undefined) return result;
    // Stored with the children's statuses (and the cancels of those that are parents themselves), so that
    // status, events and webhooks name who made the link, not only the log. A record from before cancels
    // kept their asker has no source to add it to.
    const parent = result.parent;
    const linked: CancelRecord = parent.by === undefined ? parent : { ...parent, by: { ...parent.by, linkedBy: linkedBy.name } };
    this.family.stoppedByParent(ids, linked);
    this.#updates.publish({ kind: 'stopped_through_parent', ids, parent, linkedBy });
    return { ...result, parent: linked };
  }

  /**
   * What a watch on `ids` answers with `result` (`stopped`: the ids an ancestor's cancel stopped), as the
   * caller's `scope` may read it: a stop through an ancestor outside it is told without naming that ancestor
   * (see answerInScope), so every id still reads cancelled and its worker stops it.
   */
  answerFor(result: WaitResult, stopped: readonly string[], scope: TaskScope | undefined): StopAnswer {
    const answer: StopAnswer = {
      cancelled: result.parent ? [...new Set(stopped)] : result.cancelled.map((record) => record.id),
      records: result.cancelled,
      ...(result.parent ? { parent: result.parent } : {}),
    };
    return answerInScope(scope, answer);
  }

  /**
   * A look without waiting (a watch with timeout 0): links declared and recorded as a watch's would be,
   * then what is cancelled now among `ids` and `ancestors`, with the parent rule applied.
   */
  async look(ids: readonly string[], parents: readonly string[] | undefined, linkedBy: Linker, scope?: TaskScope): Promise<WaitResult> {
    const { ancestors, changed } = await this.declareParents(ids, parents, scope, linkedBy);
    await this.link(changed, parents ?? [], scope, linkedBy);
    return this.watchAnswered(ids, await this.canceler.lookUp(ids, ancestors), linkedBy);
  }

  /** A worker's report of how `id` ended (with the parents its run names); resolves with the status it leads to, as `scope` reads it. */
  async report(id: string, report: TaskReport, parents: readonly string[] | undefined, scope?: TaskScope, linkedBy?: Linker): Promise<TaskStatus> {
    // Checked before anything is stored, as a watch's are.
    const { changed } = await this.declareParents([id], parents, scope, linkedBy);
    const status = await this.tracker.reported(id, report, linkedBy?.name);
    await this.link(changed, parents ?? [], scope, linkedBy);
    // The task is over: a cancel still scheduled for it (its deadline) has nothing left to stop.
    await this.scheduler.drop(id);
    // Answered as a scoped caller may read it, as GET /v1/tasks/:id would show it. An ended status reads as
    // stored otherwise (statusAsRead changes only a running one): no look-up for the unscoped.
    return scope === undefined ? status : (await this.#asRead([status], scope))[0]!;
  }

  /** Workers reported progress (texts already cleaned); written and told of at most once per task per interval. */
  progressed(updates: ReadonlyArray<{ readonly id: string; readonly text: string }>): void {
    this.tracker.progressed(updates);
  }

  // ---- Reading ----

  /**
   * `id` as every reader shows it, with up to `children` of its children (plus one, telling whether more
   * follow); with `scope`, only the parents and children it covers are named.
   */
  async task(id: string, children: number, scope?: TaskScope): Promise<TaskView> {
    const [[own], [status], [schedule], parents, page] = await Promise.all([
      this.canceler.find([id]),
      this.tracker.statuses([id]),
      this.scheduler.find([id]),
      this.family.parentsOf(id),
      this.children(id, undefined, children + 1, scope),
    ]);
    // Without a cancel of its own, a task is cancelled when one of its ancestors is.
    const viaParent = own ? undefined : await this.family.cancelledAncestor(id, parents);
    const { record, status: read } = readInScope(id, status, own, viaParent, scope);
    return {
      id,
      record,
      schedule,
      status: read,
      parents: scope === undefined ? parents : parents.filter((parent) => scope.covers(parent)),
      children: page,
    };
  }

  /**
   * A page of statuses as they read, in id order after `query.after`, of at most `query.limit`, and the
   * cursor of the next page when one follows. A task the lease made lost is listed as lost even before the
   * sweep wrote it down; with `query.state`, the state is the one read; with `scope`, only the tasks it
   * covers (and `next` is one of them).
   */
  async list(query: StatusQuery & { readonly limit: number }, scope?: TaskScope): Promise<TaskPage> {
    // One more than asked tells whether another page follows.
    const found = await pageCovered(
      scope,
      query.after,
      query.limit + 1,
      (after, limit) => this.tracker.list({ ...query, after, limit }),
      (s) => s.id,
    );
    const read = (await this.#readAll(found, scope)).slice(0, query.limit);
    const reasons = reasonsOf(read);
    const page = read.map((r) => r.status);
    const statuses = query.state ? page.filter((s) => s.state === query.state) : page;
    return found.length > query.limit ? { statuses, reasons, next: page.at(-1)!.id } : { statuses, reasons };
  }

  /**
   * A page of `parent`'s children (ids in id order, after a cursor) with the statuses, as read, of those
   * that have one; with `scope`, only the children it covers.
   */
  async children(parent: string, after: string | undefined, limit: number, scope?: TaskScope): Promise<ChildrenPage> {
    const ids = await pageCovered(
      scope,
      after,
      limit,
      (from, max) => this.#store.listChildren(parent, from, max),
      (id) => id,
    );
    const read = ids.length === 0 ? [] : await this.#readAll(await this.tracker.statuses(ids), scope);
    return { ids, statuses: read.map((r) => r.status), reasons: reasonsOf(read) };
  }

  /**
   * Records those of `ids` still running as `stopped` (`stoppedBy` says why), through the same path as a
   * worker's report: for tasks whose worker can no longer report them (its token revoked). A task that
   * ended meanwhile keeps its end.
   */
  async stopRunning(ids: readonly string[], stoppedBy: string): Promise<void> {
    for (const status of await this.tracker.statuses([...new Set(ids)])) {
      if (status.state !== 'watching' && status.state !== 'cancel_requested') continue;
      await this.tracker.reported(status.id, { outcome: 'stopped', stoppedBy });
    }
  }

  /**
   * What is known now of `ids`: records, schedules and statuses (as stored: events read them as they show
   * them); of the parts not `wanted`, none.
   */
  async snapshot(ids: readonly string[], wanted: SnapshotParts = EVERY_PART): Promise<TaskSnapshot[]> {
    const [records, statuses, schedules] = await Promise.all([
      wanted.record ? this.#records(ids) : [],
      wanted.status ? this.tracker.statuses(ids) : [],
      wanted.schedule ? this.scheduler.find(ids) : [],
    ]);
    const snapshots = new Map<string, { -readonly [K in keyof TaskSnapshot]: TaskSnapshot[K] }>(ids.map((id) => [id, { id }]));
    for (const record of records) snapshots.get(record.id)!.record = record;
    for (const status of statuses) snapshots.get(status.id)!.status = status;
    for (const schedule of schedules) snapshots.get(schedule.id)!.schedule = schedule;
    return [...snapshots.values()];
  }

  /**
   * The live records of `ids`: those the canceler keeps at hand when it has them all (a record never changes
   * until it expires, and an event follows every cancel, right after it), else the store's.
   */
  #records(ids: readonly string[]): readonly CancelRecord[] | Promise<readonly CancelRecord[]> {
    const kept = this.canceler.known(ids)?.cancelled;
    return kept !== undefined && kept.length === ids.length ? kept : this.canceler.find(ids);
  }

  /** Stops the timers (sweeps, progress, schedules); what is stored stays. */
  close(): void {
    this.tracker.close();
    this.scheduler.close();
  }

  /**
   * A cancel record as the caller's `scope` may read it (see recordInScope): what a cancel answers, so that
   * cancelling a task stopped through an ancestor outside the scope tells no more than reading it does.
   */
  recordAsRead(record: CancelRecord, scope: TaskScope | undefined): CancelRecord {
    return recordInScope(scope, record);
  }

  /**
   * Statuses as they read (see statusAsRead), and as `scope` may read them: by the very reading of one task
   * (readInScope). For a scoped reading, a stop through an ancestor (a status with a cancel reason and no
   * cancel of its own) is read with the nearest cancelled ancestor found through the links, as one task is,
   * so a page and one task never disagree. Unscoped readings skip that look-up: it changes nothing they show.
   */
  async #asRead(statuses: readonly TaskStatus[], scope: TaskScope | undefined): Promise<TaskStatus[]> {
    return (await this.#readAll(statuses, scope)).map((read) => read.status);
  }

  /** Each of `statuses` as #asRead reads it, with the cancel record it was read with, if any. */
  async #readAll(statuses: readonly TaskStatus[], scope: TaskScope | undefined): Promise<Array<{ status: TaskStatus; record?: CancelRecord | undefined }>> {
    if (statuses.length === 0) return [];
    const records = new Map((await this.canceler.find(statuses.map((s) => s.id))).map((r) => [r.id, r]));
    return Promise.all(
      statuses.map(async (s) => {
        const own = records.get(s.id);
        const throughAncestor = scope !== undefined && own === undefined && s.cancelReason !== undefined;
        const viaParent = throughAncestor ? await this.family.cancelledAncestor(s.id, await this.family.parentsOf(s.id)) : undefined;
        const read = readInScope(s.id, s, own, viaParent, scope);
        return { status: read.status!, record: read.record };
      }),
    );
  }
}

/**
 * By task id, why each was cancelled, as one task's reading shows it: its record's reason, or for a task
 * stopped through an ancestor (whose record an unscoped reading does not look up) its status's, which says
 * the same ("parent P cancelled").
 */
function reasonsOf(read: ReadonlyArray<{ status: TaskStatus; record?: CancelRecord | undefined }>): Map<string, string> {
  const reasons = new Map<string, string>();
  for (const { status, record } of read) {
    const reason = record?.reason ?? status.cancelReason;
    if (reason !== undefined) reasons.set(status.id, reason);
  }
  return reasons;
}

/**
 * The one reading of a task, for one task and a page alike: its own record, else the one its nearest
 * cancelled ancestor `viaParent` gives it, and its status as they read (see statusAsRead), as `scope` may
 * read them. A stop through an ancestor the scope does not cover is shown, but nothing of that ancestor;
 * whether it came through one is told by the record's `parent` and the ancestor's own record, not by words.
 */
function readInScope(
  id: string,
  status: TaskStatus | undefined,
  own: CancelRecord | undefined,
  viaParent: CancelRecord | undefined,
  scope: TaskScope | undefined,
): { record?: CancelRecord | undefined; status?: TaskStatus | undefined } {
  const found = own ?? (viaParent && recordViaParent(id, withLinkedBy(viaParent, status)));
  const record = found && recordInScope(scope, found, own ? undefined : viaParent);
  const hidden = record !== found;
  if (status === undefined) return { record };
  const reason = viaParent || hidden ? record?.reason : undefined;
  return { record, status: statusInScope(scope, statusAsRead(status, record, reason), hidden, record !== undefined && !hidden) };
}

/**
 * A link's refusal as a caller with `scope` may read it: a scoped token is told why in words that name no
 * task but those it sent, and do not confirm that its task has parents it cannot see.
 */
function refusalsInScope<T>(work: Promise<T>, scope: TaskScope | undefined): Promise<T> {
  if (scope === undefined) return work;
  return work.catch((error: unknown) => {
    if (error instanceof InvalidParentsError) throw new InvalidParentsError(error.scopedMessage);
    if (error instanceof LinkRefusedError) throw new LinkRefusedError(error.scopedMessage);
    throw error;
  });
}

/**
 * The ancestor's record as a task stopped through it reads it: naming the token that made this task's own
 * link when its status says it was stopped through this very ancestor by one (the late-child rule, or a
 * cancel that came down the links), and never the one that made the ancestor's link.
 */
function withLinkedBy(ancestor: CancelRecord, status: TaskStatus | undefined): CancelRecord {
  if (ancestor.by === undefined) return ancestor;
  const { linkedBy: _ancestors, ...by } = ancestor.by;
  const linkedBy = status?.cancelReason === reasonViaParent(ancestor) ? status.cancelledBy?.linkedBy : undefined;
  if (linkedBy === ancestor.by.linkedBy) return ancestor;
  return { ...ancestor, by: linkedBy === undefined ? by : { ...by, linkedBy } };
}

/** What a token scoped to `scope` covers, for the link rules; undefined for an unscoped one. */
function coveredBy(scope: TaskScope | undefined): ((id: string) => boolean) | undefined {
  return scope && ((id) => scope.covers(id));
}
