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
