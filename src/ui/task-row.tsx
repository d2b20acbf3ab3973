import { Box, Text } from 'ink';
import { formatDuration } from '../core/duration.ts';
import type { TaskView } from '../worker/work-state.ts';
import { TASK_STATE_STYLE } from './theme.ts';

export const COLUMN_WIDTH = { id: 18, state: 11, elapsed: 8, pid: 8 } as const;

/** What the detail column says: the cancel reason, how the command ended, or its last line of output. */
export function taskDetail(task: TaskView): string {
  if (task.state === 'failed') {
    return task.error ?? (task.signal ? `killed by ${task.signal}` : `exit code ${task.exitCode}`);
  }
  const parts: string[] = [];
  if (task.reason) parts.push(`reason: ${task.reason}`);
  if (task.cancelledBy) parts.push(`by ${task.cancelledBy}`);
  if (task.state === 'cancelling') parts.push('stopping…');
  if (parts.length === 0 && task.lastLine !== undefined) parts.push(task.lastLine);
  return parts.join(' · ');
}

export function TaskHeaderRow({ showPid }: { readonly showPid: boolean }) {
  return (
    <Box>
      <Box width={COLUMN_WIDTH.id}><Text bold>TASK</Text></Box>
      <Box width={COLUMN_WIDTH.state}><Text bold>STATE</Text></Box>
      <Box width={COLUMN_WIDTH.elapsed}><Text bold>ELAPSED</Text></Box>
      {showPid && <Box width={COLUMN_WIDTH.pid}><Text bold>PID</Text></Box>}
      <Text bold>DETAIL</Text>
    </Box>
  );
}

/** One task as one line. */
export function TaskRow({ task, now, showPid }: { readonly task: TaskView; readonly now: number; readonly showPid: boolean }) {
  const style = TASK_STATE_STYLE[task.state];
  const elapsed = (task.endedAt ?? now) - task.startedAt;
  return (
    <Box>
      <Box width={COLUMN_WIDTH.id}><Text wrap="truncate-end">{task.id}</Text></Box>
      <Box width={COLUMN_WIDTH.state}><Text color={style.color}>{style.label}</Text></Box>
      <Box width={COLUMN_WIDTH.elapsed}><Text>{formatDuration(Math.max(0, elapsed))}</Text></Box>
      {showPid && <Box width={COLUMN_WIDTH.pid}><Text dimColor>{task.pid ?? ''}</Text></Box>}
      <Box flexGrow={1}><Text wrap="truncate-end" dimColor={task.state !== 'failed'}>{taskDetail(task)}</Text></Box>
    </Box>
  );
}
