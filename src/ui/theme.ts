import type { TaskLifeState } from '../core/task-status.ts';
import type { TaskState } from '../worker/work-state.ts';

/** How each task state reads on screen: a word (which alone carries the meaning) and a colour. */
export const TASK_STATE_STYLE: Readonly<Record<TaskState, { label: string; color: string }>> = {
  watching: { label: 'watching', color: 'cyan' },
  running: { label: 'running', color: 'blue' },
  cancelling: { label: 'cancelling', color: 'yellow' },
  cancelled: { label: 'cancelled', color: 'yellow' },
  timed_out: { label: 'timed out', color: 'magenta' },
  succeeded: { label: 'exited 0', color: 'green' },
  failed: { label: 'failed', color: 'red' },
  stopped: { label: 'stopped', color: 'gray' },
};

/** The colours of the server's task states (top, events), matching those of the same moments on the work screen. */
export const SERVER_STATE_COLOR: Readonly<Record<TaskLifeState, string>> = {
  watching: 'cyan',
  cancel_requested: 'yellow',
  cancelled: 'yellow',
  succeeded: 'green',
  failed: 'red',
  timed_out: 'magenta',
  stopped: 'gray',
  lost: 'red',
};

/**
 * The server's task states (and "scheduled") abbreviated, for a summary too narrow for the words: all its
 * counts switch together, so one reads like the next.
 */
export const SERVER_STATE_SHORT: Readonly<Record<TaskLifeState | 'scheduled', string>> = {
  watching: 'watch',
  cancel_requested: 'req',
  cancelled: 'cxl',
  succeeded: 'ok',
  failed: 'fail',
  timed_out: 't/o',
  stopped: 'stop',
  lost: 'lost',
  scheduled: 'sched',
};
