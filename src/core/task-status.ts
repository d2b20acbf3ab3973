// What the server knows of a task's life, beyond whether it was cancelled: who watches it, what became
// of it, and whether its worker went quiet. Pure rules; the tracker applies them and stores the result.

import type { TaskProgress } from './progress.ts';
import type { CancelSource } from './store/records.ts';

/** A task's state on the server. */
export type TaskLifeState =
  | 'watching' // a worker holds (or recently held) a watch on it
  | 'cancel_requested' // cancelled through the API; no worker has confirmed stopping it yet
  | 'cancelled' // a worker confirmed it stopped the task
  | 'succeeded' // the worker's command exited 0
  | 'failed' // the worker's command exited non-zero or died
  | 'timed_out' // its deadline passed and the worker stopped it
  | 'stopped' // its worker was stopped on purpose (a signal, q on its screen) and stopped the task first
  | 'lost'; // a worker was watching, then nothing for longer than the lease: it fell silent

export const TASK_LIFE_STATES: readonly TaskLifeState[] = ['watching', 'cancel_requested', 'cancelled', 'succeeded', 'failed', 'timed_out', 'stopped', 'lost'];

/** Whether a task in `state` is in the middle of a run: watched, or its cancel asked for and not yet confirmed by its worker. */
export function isRunning(state: TaskLifeState): boolean {
  return state === 'watching' || state === 'cancel_requested';
}

/** States a task leaves only when a new run starts (a new watch). */
export const ENDED_STATES: ReadonlySet<TaskLifeState> = new Set(['cancelled', 'succeeded', 'failed', 'timed_out', 'stopped']);

/** Who a watch came from. */
export interface WorkerIdentity {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
}

/** Who a watch came from: its worker, when it said who it is, and the name of the token it came with (the server's word, never the worker's). */
export interface Watcher {
  readonly worker?: WorkerIdentity | undefined;
  readonly token?: string | undefined;
}

/** What a worker reports about a task. */
export type TaskOutcome = 'cancelled' | 'succeeded' | 'failed' | 'timed_out' | 'stopped';

/** What a worker's report says of a task's end. */
export interface TaskReport {
  readonly outcome: TaskOutcome;
  readonly exitCode?: number | null | undefined;
  readonly signal?: string | null | undefined;
  readonly worker?: WorkerIdentity | undefined;
  /** With `stopped`: what stopped the worker, such as `SIGTERM` or `q` (see STOP_CAUSES). */
  readonly stoppedBy?: string | undefined;
}

export interface TaskStatus {
  readonly id: string;
  readonly state: TaskLifeState;
  /** When it entered `state`. */
  readonly since: number;
  /** The last time a worker watched it (a watch began or ended). */
  readonly lastSeenAt?: number;
  readonly worker?: WorkerIdentity;
  readonly exitCode?: number | null;
  readonly signal?: string | null;
  /** When `stopped`: what stopped its worker (`SIGTERM`, `SIGINT`, `SIGHUP`, `q`). */
  readonly stoppedBy?: string;
  /** Who asked for the cancel of this run, once one was asked for. */
  readonly cancelledBy?: CancelSource;
  /** Why a cancel was requested when it was not a cancel of this task's own: "parent job-42 cancelled". */
  readonly cancelReason?: string;
  /**
   * The name of the token whose watch started this run. A report from another token does not end its run for
   * the link rules (see runMayBeGoing), nor hand it to the next token that watches the task (see onWatch).
   */
  readonly runBy?: string;
  /** The name of the token whose report set this state, when a report did. */
  readonly reportedBy?: string;
  /** The last progress its worker reported for this run (`work --progress`), if any. */
  readonly progress?: TaskProgress;
  /** State changes, oldest first, the last HISTORY_LIMIT of them. */
  readonly history: ReadonlyArray<{ readonly state: TaskLifeState; readonly at: number }>;
}

/** State changes kept per task: the most recent ones. */
export const HISTORY_LIMIT = 20;

/**
 * When anything last happened to a task: it changed state or a worker was seen watching it. Retention
 * forgets a task nobody watches once this is older than the retention period.
 */
export function lastActivity(status: TaskStatus): number {
  return Math.max(status.since, status.lastSeenAt ?? 0);
}

// One spread and one array per change (it runs on every cancel): the same keys, in the same order, as
// spreading the status, then these, then the change.
function enter(status: TaskStatus | undefined, id: string, state: TaskLifeState, now: number, change?: Partial<TaskStatus>): TaskStatus {
  const entry = { state, at: now };
  const before = status?.history;
  const history = before === undefined ? [entry] : before.length < HISTORY_LIMIT ? [...before, entry] : [...before.slice(1 - HISTORY_LIMIT), entry];
  return { ...status, id, state, since: now, history, ...change };
}

/** A worker began watching: a new or lost task (or one that ended, run again) is watched now. */
export function onWatch(
  status: TaskStatus | undefined,
  id: string,
  worker: WorkerIdentity | undefined,
  now: number,
  leaseMs: number,
  token?: string,
): TaskStatus {
  const seen = { lastSeenAt: now, ...(worker ? { worker } : {}) };
  if (status && isRunning(status.state)) {
    return status.runBy === undefined && token !== undefined ? { ...status, ...seen, runBy: token } : { ...status, ...seen };
  }
  // A new run, its watcher's token's; unless the last run may still be going (another token said it ended,
  // and its own worker was seen within the lease): then it stays that run's token's.
  const lastRunGoing = status !== undefined && status.runBy !== token && runMayBeGoing(status, now, leaseMs);
  return enter(status, id, 'watching', now, {
    ...seen,
    runBy: lastRunGoing ? status.runBy : token,
    reportedBy: undefined,
    exitCode: undefined,
    signal: undefined,
    stoppedBy: undefined,
    cancelledBy: undefined,
    cancelReason: undefined,
    progress: undefined,
  });
}

/**
 * A cancel was requested through the API, `by` someone when known. A task that already ended stays as it
 * ended, and a second request changes nothing: the first cancel is the one that counts.
 */
export function onCancelRequested(status: TaskStatus | undefined, id: string, now: number, by?: CancelSource): TaskStatus {
  if (status && (ENDED_STATES.has(status.state) || status.state === 'cancel_requested')) return status;
  return enter(status, id, 'cancel_requested', now, { ...afterLost(status), ...(by === undefined ? {} : { cancelledBy: by }) });
}

/**
 * What a lost task's cancel leaves of its last sight: none. Its silence was counted as lost already, and
 * kept, it would make the task lost again at the next sweep (a second `lost` event, which may have a
 * webhook's receiver run it again); the next worker to watch it is seen afresh. The lost entry of the
 * history keeps when it went quiet.
 */
function afterLost(status: TaskStatus | undefined): Partial<TaskStatus> {
  return status?.state === 'lost' ? { lastSeenAt: undefined } : {};
}

/**
 * An ancestor of the task was cancelled, `by` someone when known, which stops it as a cancel of its own
 * would: the same rule as onCancelRequested, with `reason` ("parent job-42 cancelled") kept on the status.
 */
export function onParentCancelled(status: TaskStatus | undefined, id: string, now: number, reason: string, by?: CancelSource): TaskStatus {
  if (status && (ENDED_STATES.has(status.state) || status.state === 'cancel_requested')) return status;
  return enter(status, id, 'cancel_requested', now, { ...afterLost(status), cancelReason: reason, ...(by === undefined ? {} : { cancelledBy: by }) });
}

/** The reason a task is stopped with when its ancestor `parentId` was cancelled. */
export function parentCancelledReason(parentId: string): string {
  return `parent ${parentId} cancelled`;
}

/**
 * The reason a task stopped by `ancestor`'s cancel is given: "parent <ancestor> cancelled", unless the
 * ancestor was itself stopped by one higher up, whose reason is passed on. So every task of a tree
 * cancelled together names the task that was cancelled, whichever ancestor's record reached it first. A
 * reason of that form is the server's own: the cancel route refuses it from a canceller, so it names a real
 * ancestor (a record kept from before that rule may not; scoped readings do not rest on it, see task-scope).
 */
export function reasonViaParent(ancestor: { readonly id: string; readonly reason?: string | undefined }): string {
  return ancestor.reason !== undefined && /^parent \S+ cancelled$/.test(ancestor.reason) ? ancestor.reason : parentCancelledReason(ancestor.id);
}

/** A worker reported how the task ended. Reports are idempotent: the same one twice changes nothing. */
export function onReport(status: TaskStatus | undefined, id: string, report: TaskReport, now: number, reporter?: string): TaskStatus {
  if (status?.state === report.outcome && status.exitCode === (report.exitCode ?? status.exitCode)) return status;
  // A report from another token than the run's is no sight of the run's worker.
  const fromTheRun = status?.runBy === undefined || reporter === status.runBy;
  return enter(status, id, report.outcome, now, {
    ...(fromTheRun ? { lastSeenAt: now } : {}),
    ...(reporter === undefined ? {} : { reportedBy: reporter }),
    ...(report.worker ? { worker: report.worker } : {}),
    // What an earlier report said of how its command ended is not this report's: a watch-only worker's
    // `stopped` after another worker's `failed, exit 3` is not "stopped, exit 3".
    exitCode: report.exitCode,
    signal: report.signal,
    stoppedBy: report.outcome === 'stopped' ? report.stoppedBy : undefined,
  });
}

/** Whether a task whose worker has been silent since `lastSeenAt` is lost by `now`. */
export function isLost(status: TaskStatus, now: number, leaseMs: number): boolean {
  return isRunning(status.state) && status.lastSeenAt !== undefined && now - status.lastSeenAt > leaseMs;
}

export function onLost(status: TaskStatus, now: number): TaskStatus {
  return enter(status, status.id, 'lost', now);
}

/**
 * How far along its run each state is: a status is never replaced by one further back, unless it was made
 * from it (see statusToKeep). Every ended state ranks alike: the first end reported is the one kept.
 */
export const STATE_RANK: Readonly<Record<TaskLifeState, number>> = {
  watching: 0,
  cancel_requested: 1,
  lost: 2,
  cancelled: 3,
  succeeded: 3,
  failed: 3,
  timed_out: 3,
  stopped: 3,
};

/** A status's version: its last state change, as `state@at`. A status made from another lists it in its history. */
export function statusVersion(status: TaskStatus): string | undefined {
  const last = status.history.at(-1);
  return last && `${last.state}@${last.at}`;
}

/**
 * The status to keep when `incoming`, made elsewhere, is written over `stored` (see saveStatuses in
 * core/store/statuses.ts): the ordering rule, so that a task's state only moves forward. A status made from
 * the stored one (its history holds the stored version) replaces it, whatever its state: a new run may
 * follow an end. One made from an older version raced another writer: it replaces the stored one only if
 * its state is further along, so a confirmed cancel is never overwritten by the `cancel_requested`
 * computed before it. The tracker needs no such rule: its changes are made from the stored status and
 * written by compare-and-set (updateStatuses), so none is made from an older version.
 */
export function statusToKeep(stored: TaskStatus | undefined, incoming: TaskStatus): TaskStatus {
  const version = stored && statusVersion(stored);
  if (stored === undefined || version === undefined) return incoming;
  if (incoming.history.some((h) => `${h.state}@${h.at}` === version)) return incoming;
  return STATE_RANK[incoming.state] > STATE_RANK[stored.state] ? incoming : stored;
}

/**
 * A task as it reads, wherever it is shown (one task, a listing, an event, a webhook): a live cancel record
 * over a `watching` or `lost` status means a cancel no worker has confirmed yet, whatever the stored state
 * says (the status is written after the record, and on another server maybe not yet), so it reads as
 * `cancel_requested`, by whoever asked, with `reason` when the cancel came through an ancestor.
 */
export function statusAsRead(status: TaskStatus, record: { readonly by?: CancelSource } | undefined, reason?: string): TaskStatus {
  if (!record || (status.state !== 'watching' && status.state !== 'lost')) return status;
  return { ...status, state: 'cancel_requested', ...(record.by ? { cancelledBy: record.by } : {}), ...(reason === undefined ? {} : { cancelReason: reason }) };
}

/**
 * Whether `status`'s run may still be going, for the link rules: it is watched or its cancel was requested,
 * a worker was seen and it is not lost; or it ended by the word of another token than the run's, and the
 * run's worker was seen within the lease (it may be polling still).
 */
export function runMayBeGoing(status: TaskStatus, now: number, leaseMs: number): boolean {
  if (status.lastSeenAt === undefined) return false;
  if (isRunning(status.state)) return !isLost(status, now, leaseMs);
  return ENDED_STATES.has(status.state) && status.runBy !== undefined && status.reportedBy !== status.runBy && now - status.lastSeenAt <= leaseMs;
}
