import { formatDuration } from '../core/duration.ts';
import type { TaskView } from '../worker/work-state.ts';
import type { TableColumn, TableRow } from './table.tsx';
import { TASK_STATE_STYLE } from './theme.ts';

/**
 * The task table's columns. The state column is as wide as its longest word, so it never moves; pid and
 * elapsed are the first to leave a narrow terminal; the detail gives way first, and ids are shortened in
 * the middle, keeping the end that tells them apart.
 */
export const TASK_COLUMNS = {
  id: { header: 'TASK', minWidth: 16, cut: 'middle' },
  state: { header: 'STATE', minWidth: 10, preferredWidth: 10 },
  elapsed: { header: 'ELAPSED', minWidth: 7, dropRank: 1 },
  pid: { header: 'PID', minWidth: 3, dropRank: 2 },
  detail: { header: 'DETAIL', minWidth: 20, flex: true },
} as const satisfies Record<string, TableColumn>;

/** The columns for a work screen; pids only when taskctl runs commands. */
export function taskColumns(showPid: boolean): TableColumn[] {
  const { id, state, elapsed, pid, detail } = TASK_COLUMNS;
  return showPid ? [id, state, elapsed, pid, detail] : [id, state, elapsed, detail];
}

/** What the detail column says: the cancel reason, how the command ended, or its last line of output. */
export function taskDetail(task: TaskView, now: number): string {
  if (task.state === 'failed') {
    return task.error ?? (task.signal ? `killed by ${task.signal}` : `exit code ${task.exitCode}`);
  }
  const parts: string[] = [];
  if (task.reason) parts.push(`reason: ${task.reason}`);
  if (task.cancelledBy) parts.push(`by ${task.cancelledBy}`);
  // The grace counting down, so that nobody waiting on a stubborn command wonders whether anything happens.
  if (task.state === 'cancelling')
    parts.push(task.killAt === undefined ? 'stopping…' : `stopping… SIGKILL in ${formatDuration(Math.max(0, task.killAt - now))}`);
  if (task.notStarted) parts.push('not started');
  if (parts.length === 0 && (task.progress ?? task.lastLine) !== undefined) parts.push((task.progress ?? task.lastLine)!);
  return parts.join(' · ');
}

/** One task as a table row, its cells in taskColumns() order. */
export function taskRow(task: TaskView, now: number, showPid: boolean): TableRow {
  const style = TASK_STATE_STYLE[task.state];
  const elapsed = formatDuration(Math.max(0, (task.endedAt ?? now) - task.startedAt));
  const detail = { text: taskDetail(task, now), dimColor: task.state !== 'failed' };
  const state = { text: style.label, color: style.color };
  const pid = { text: task.pid === undefined ? '' : String(task.pid), dimColor: true };
  return { key: task.id, cells: showPid ? [task.id, state, elapsed, pid, detail] : [task.id, state, elapsed, detail] };
}
