// Everything `taskctl work` knows, as one state that events move forward. The TUI renders the state; the
// plain and JSON outputs print the events. Both come from here, so they never disagree.

import type { CancelSourceReply } from '../protocol/schemas.ts';
import type { ConnectionView } from '../client/connection.ts';

/** Where one task stands. */
export type TaskState =
  | 'watching' // watched (the server's word too), nothing else under way: no command, or not started yet (until the server said it is not cancelled already)
  | 'running' // command mode: watched, and its command runs (the server, which knows no commands, says watching)
  | 'cancelling' // the command was sent SIGTERM (or SIGKILL) and has not exited yet
  | 'cancelled' // cancelled through the server
  | 'timed_out' // its --timeout passed
  | 'succeeded' // the command exited 0
  | 'failed' // the command exited non-zero, died of a signal taskctl did not send, or did not start
  | 'stopped'; // taskctl itself was interrupted

/** The states a task never leaves. */
export const FINAL_STATES: ReadonlySet<TaskState> = new Set(['cancelled', 'timed_out', 'succeeded', 'failed', 'stopped']);

/** Every event `work` emits; `ts` is milliseconds since the epoch. */
export type WorkEvent =
  | { event: 'watching'; ts: number; task: string }
  | { event: 'started'; ts: number; task: string; pid: number }
  | { event: 'output'; ts: number; task: string; stream: 'stdout' | 'stderr'; line: string }
  /** The command printed `::progress TEXT`: its progress, not output. */
  | { event: 'progress'; ts: number; task: string; text: string }
  /** `notStarted`: in command mode, cancelled before its command started, which then never does. */
  | { event: 'cancelled'; ts: number; task: string; reason?: string | undefined; by?: CancelSourceReply | undefined; notStarted?: true }
  | { event: 'timeout'; ts: number; task: string; afterMs: number }
  /** With SIGTERM, `graceMs`: how long the command has before SIGKILL. */
  | { event: 'killing'; ts: number; task: string; signal: 'SIGTERM' | 'SIGKILL'; graceMs?: number }
  | { event: 'exited'; ts: number; task: string; code: number | null; signal: string | null; error?: string }
  | { event: 'connected'; ts: number }
  | { event: 'disconnected'; ts: number; error: string; attempt: number; retryInMs: number }
  | { event: 'reconnected'; ts: number }
  | { event: 'answered'; ts: number }
  | { event: 'interrupted'; ts: number; signal: string }
  /** The server cannot be used: it refused the token (`unauthorized`), or TLS trust failed (`untrusted`). */
  | { event: 'refused'; ts: number; error: string; kind: 'unauthorized' | 'untrusted' }
  /** The server refused the watch itself: its parents cannot be (a cycle, too deep). Every task stops. */
  | { event: 'rejected'; ts: number; error: string }
  /** `unreported`: tasks whose end the server did not hear (it could not be reached in time, or refused it). */
  | { event: 'done'; ts: number; exitCode: number; unreported?: readonly string[] };

export interface TaskView {
  readonly id: string;
  readonly state: TaskState;
  /** When the task entered its current state. */
  readonly since: number;
  readonly startedAt: number;
  readonly endedAt?: number;
  readonly pid?: number;
  readonly reason?: string;
  /** Who cancelled it on the server (the token's name), when the server says. */
  readonly cancelledBy?: string;
  readonly exitCode?: number | null;
  readonly signal?: string | null;
  readonly error?: string;
  readonly lastLine?: string;
  /** What the command last reported with `::progress TEXT`. */
  readonly progress?: string;
  /** Its command never started: the task was cancelled already. */
  readonly notStarted?: boolean;
  /** While "cancelling": when the command gets SIGKILL if it has not exited by then. */
  readonly killAt?: number;
  /** Why the task is being stopped, while state is "cancelling". */
  readonly stopCause?: 'cancelled' | 'timed_out' | 'stopped';
}

export interface WorkState {
  readonly server: string;
  readonly mode: 'watch' | 'command';
  readonly startedAt: number;
  /** Tasks in the order they were given. */
  readonly tasks: ReadonlyMap<string, TaskView>;
  readonly connection: ConnectionView;
  /** Why the server will not serve this worker at all (its token was refused): every task was stopped. */
  readonly refusal?: string;
  /** Whether the refusal was the token's (`unauthorized`) or TLS trust (`untrusted`). */
  readonly refusalKind?: 'unauthorized' | 'untrusted';
  /** Why the server refused this worker's watch (its --parent makes a cycle): every task was stopped. */
  readonly rejection?: string;
  /**
   * What interrupted this worker, as its reports of `stopped` tasks name it: the signal (`SIGINT`, `SIGTERM`,
   * `SIGHUP`) or `q` (the screen's quit key).
   */
  readonly stoppedBy?: string;
  readonly exitCode?: number;
}

/** Every task starts out watching: in command mode its command starts once the server has been asked. */
export function initialWorkState(server: string, ids: readonly string[], mode: 'watch' | 'command', now: number): WorkState {
  const state: TaskState = 'watching';
  return {
    server,
    mode,
    startedAt: now,
    tasks: new Map(ids.map((id) => [id, { id, state, since: now, startedAt: now }])),
    connection: { state: 'connecting', since: now, attempt: 0 },
  };
}

/** The state after `event`. Pure: the same state and event always give the same result. */
export function reduceWork(state: WorkState, event: WorkEvent): WorkState {
  switch (event.event) {
    case 'watching':
      return updateTask(state, event.task, { state: 'watching', since: event.ts });
    case 'started':
      return updateTask(state, event.task, { state: 'running', since: event.ts, startedAt: event.ts, pid: event.pid });
    case 'output':
      return updateTask(state, event.task, { lastLine: event.line });
    case 'progress':
      return updateTask(state, event.task, { progress: event.text });
    case 'cancelled':
      return state.mode === 'watch' || !isLive(state, event.task)
        ? updateTask(state, event.task, {
            state: 'cancelled',
            since: event.ts,
            endedAt: event.ts,
            reason: event.reason,
            cancelledBy: event.by?.name,
            notStarted: event.notStarted,
          })
        : updateTask(state, event.task, { state: 'cancelling', since: event.ts, reason: event.reason, cancelledBy: event.by?.name, stopCause: 'cancelled' });
    case 'timeout':
      return state.mode === 'watch' || !isLive(state, event.task)
        ? updateTask(state, event.task, { state: 'timed_out', since: event.ts, endedAt: event.ts })
        : updateTask(state, event.task, { state: 'cancelling', since: event.ts, stopCause: 'timed_out' });
    case 'killing':
      return event.signal === 'SIGTERM' && event.graceMs !== undefined ? updateTask(state, event.task, { killAt: event.ts + event.graceMs }) : state;
    case 'exited': {
      const task = state.tasks.get(event.task);
      const final: TaskState = task?.stopCause ?? (event.code === 0 ? 'succeeded' : 'failed');
      return updateTask(state, event.task, {
        state: final,
        since: event.ts,
        endedAt: event.ts,
        exitCode: event.code,
        signal: event.signal,
        ...(event.error ? { error: event.error } : {}),
      });
    }
    case 'refused':
      return stopAll({ ...state, refusal: event.error, refusalKind: event.kind }, event.ts);
    case 'rejected':
      return stopAll({ ...state, rejection: event.error }, event.ts);
    case 'interrupted':
      return stopAll({ ...state, stoppedBy: event.signal === 'quit' ? 'q' : event.signal }, event.ts);
    case 'connected':
    case 'reconnected':
      return { ...state, connection: { state: 'connected', since: event.ts, attempt: 0, lastAnswerAt: state.connection.lastAnswerAt } };
    case 'disconnected':
      return {
        ...state,
        connection: {
          state: 'reconnecting',
          since: state.connection.state === 'reconnecting' ? state.connection.since : event.ts,
          downSince: state.connection.downSince && state.connection.state === 'reconnecting' ? state.connection.downSince : event.ts,
          attempt: event.attempt,
          lastError: event.error,
          nextRetryAt: event.ts + event.retryInMs,
          lastAnswerAt: state.connection.lastAnswerAt,
        },
      };
    case 'answered':
      return { ...state, connection: { ...state.connection, lastAnswerAt: event.ts } };
    case 'done':
      return { ...state, exitCode: event.exitCode };
  }
}

/** Every task not yet ended stops: watchers at once, commands through "cancelling" until they exit. */
function stopAll(state: WorkState, ts: number): WorkState {
  let next = state;
  for (const task of state.tasks.values()) {
    if (FINAL_STATES.has(task.state)) continue;
    next =
      state.mode === 'command' && task.state !== 'watching'
        ? updateTask(next, task.id, { state: 'cancelling', since: ts, stopCause: task.stopCause ?? 'stopped' })
        : updateTask(next, task.id, { state: 'stopped', since: ts, endedAt: ts });
  }
  return next;
}

function isLive(state: WorkState, id: string): boolean {
  const task = state.tasks.get(id);
  return task !== undefined && (task.state === 'running' || task.state === 'cancelling');
}

function updateTask(state: WorkState, id: string, change: Partial<TaskView>): WorkState {
  const task = state.tasks.get(id);
  if (!task || (FINAL_STATES.has(task.state) && change.state !== undefined)) return state;
  const tasks = new Map(state.tasks);
  tasks.set(id, { ...task, ...stripUndefined(change) });
  return { ...state, tasks };
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** How many tasks are in each state. */
export function countByState(state: WorkState): Partial<Record<TaskState, number>> {
  const counts: Partial<Record<TaskState, number>> = {};
  for (const task of state.tasks.values()) counts[task.state] = (counts[task.state] ?? 0) + 1;
  return counts;
}

/**
 * The exit code `work` ends with: 4 when the server refused its token, 5 when TLS trust failed; 1 when it
 * refused the watch (its parents make a cycle); 130 when interrupted; 1 when any
 * command failed; 124 when any task timed out; otherwise 0 (every command exited 0 or its task was
 * cancelled through the server).
 */
export function workExitCode(state: WorkState): number {
  if (state.refusal !== undefined) return state.refusalKind === 'untrusted' ? 5 : 4;
  // The watch itself was refused: an id was refused, as `cancel` says of an id it cannot cancel.
  if (state.rejection !== undefined) return 1;
  const tasks = [...state.tasks.values()];
  if (tasks.some((t) => t.state === 'stopped')) return 130;
  if (tasks.some((t) => t.state === 'failed')) return 1;
  if (tasks.some((t) => t.state === 'timed_out')) return 124;
  return 0;
}

/** Holds the current state and tells subscribers of each event after applying it. */
export class WorkStore {
  #state: WorkState;
  readonly #listeners = new Set<(event: WorkEvent, state: WorkState) => void>();

  constructor(initial: WorkState) {
    this.#state = initial;
  }

  get state(): WorkState {
    return this.#state;
  }

  dispatch(event: WorkEvent): void {
    this.#state = reduceWork(this.#state, event);
    for (const listener of this.#listeners) listener(event, this.#state);
  }

  subscribe(listener: (event: WorkEvent, state: WorkState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
