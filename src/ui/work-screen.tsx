import { Box, Text } from 'ink';
import { formatDuration } from '../core/duration.ts';
import { countByState, FINAL_STATES, type ConnectionView, type TaskState, type TaskView, type WorkState } from '../worker/work-state.ts';
import { TaskHeaderRow, TaskRow } from './task-row.tsx';
import { TASK_STATE_STYLE } from './theme.ts';

export interface WorkScreenProps {
  readonly state: WorkState;
  readonly now: number;
  /** Terminal rows available; tasks beyond them are summed up in one line. */
  readonly rows: number;
}

const clock = (ms: number) => new Date(ms).toTimeString().slice(0, 8);

/** The line that says how the link to the server is. */
export function connectionText(connection: ConnectionView, now: number): { mark: string; text: string; color: string } {
  const lastAnswer = connection.lastAnswerAt === undefined ? '' : ` · last answer ${formatDuration(now - connection.lastAnswerAt)} ago`;
  switch (connection.state) {
    case 'connecting':
      return { mark: '◌', text: 'connecting', color: 'yellow' };
    case 'connected':
      return { mark: '●', text: `connected${lastAnswer}`, color: 'green' };
    case 'reconnecting': {
      const retryIn = connection.nextRetryAt === undefined ? '' : `, next try in ${formatDuration(Math.max(0, connection.nextRetryAt - now))}`;
      const since = connection.downSince === undefined ? '' : ` · unreachable since ${clock(connection.downSince)}`;
      return { mark: '○', text: `reconnecting (attempt ${connection.attempt}${retryIn})${since}${lastAnswer}`, color: 'red' };
    }
  }
}

/** Live tasks first, so that when the list is cut what is still going on stays in view. */
function visibleTasks(tasks: readonly TaskView[], room: number): TaskView[] {
  if (tasks.length <= room) return [...tasks];
  const live = tasks.filter((t) => !FINAL_STATES.has(t.state));
  const ended = tasks.filter((t) => FINAL_STATES.has(t.state));
  return [...live, ...ended].slice(0, Math.max(1, room - 1));
}

export function WorkScreen({ state, now, rows }: WorkScreenProps) {
  const link = connectionText(state.connection, now);
  const tasks = [...state.tasks.values()];
  const counts = countByState(state);
  const summary = (Object.keys(counts) as TaskState[]).map((s) => `${counts[s]} ${TASK_STATE_STYLE[s].label}`).join(' · ');
  // Header (3 lines), column titles, key hints: what is left is for task rows.
  const room = Math.max(3, rows - 6);
  const shown = visibleTasks(tasks, room);
  const hidden = tasks.length - shown.length;
  const showPid = state.mode === 'command';
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>taskctl work</Text> · {state.server} · <Text color={link.color}>{link.mark} {link.text}</Text>
      </Text>
      {state.connection.state === 'reconnecting' && state.connection.lastError ? (
        <Text color="red" wrap="truncate-end">  {state.connection.lastError}</Text>
      ) : (
        <Text dimColor>  watching {tasks.length} task{tasks.length === 1 ? '' : 's'} over one connection</Text>
      )}
      <Text>{summary}</Text>
      <TaskHeaderRow showPid={showPid} />
      {shown.map((task) => (
        <TaskRow key={task.id} task={task} now={now} showPid={showPid} />
      ))}
      {hidden > 0 && <Text dimColor>… {hidden} more not shown (counts above include them)</Text>}
      <Text dimColor>
        {state.exitCode === undefined ? `q quit${showPid ? ' (stops running commands)' : ''} · Ctrl-C same` : `done · exit code ${state.exitCode}`}
      </Text>
    </Box>
  );
}
