import { Box, Text } from 'ink';
import { formatDuration } from '../core/duration.ts';
import type { ConnectionView } from '../client/connection.ts';
import { SESSION_MIN_IDS } from '../protocol/limits.ts';
import { countByState, FINAL_STATES, type TaskState, type TaskView, type WorkState } from '../worker/work-state.ts';
import { segment, type Segment } from './line-layout.ts';
import { frameHeight, isTooSmall, TooSmall } from './screen-size.tsx';
import { StatusLine } from './status-line.tsx';
import { Table } from './table.tsx';
import { taskColumns, taskRow } from './task-columns.ts';
import { TASK_STATE_STYLE } from './theme.ts';

export interface WorkScreenProps {
  readonly state: WorkState;
  readonly now: number;
  /** Terminal columns: no line is wider. */
  readonly columns: number;
  /** Terminal rows: tasks beyond them are summed up in one line. */
  readonly rows: number;
}

const clock = (ms: number) => new Date(ms).toTimeString().slice(0, 8);

/** The line that says how the link to the server is. */
export function connectionText(connection: ConnectionView, now: number): { mark: string; text: string; short: string; color: string } {
  const lastAnswer = connection.lastAnswerAt === undefined ? '' : ` · last answer ${formatDuration(now - connection.lastAnswerAt)} ago`;
  switch (connection.state) {
    case 'connecting':
      return { mark: '◌', text: 'connecting', short: 'connecting', color: 'yellow' };
    case 'connected':
      return { mark: '●', text: `connected${lastAnswer}`, short: 'connected', color: 'green' };
    case 'reconnecting': {
      const retryIn = connection.nextRetryAt === undefined ? '' : `, next try in ${formatDuration(Math.max(0, connection.nextRetryAt - now))}`;
      const since = connection.downSince === undefined ? '' : ` · unreachable since ${clock(connection.downSince)}`;
      const attempt = `reconnecting (attempt ${connection.attempt}${retryIn})`;
      return { mark: '○', text: `${attempt}${since}${lastAnswer}`, short: attempt, color: 'red' };
    }
  }
}

/** Live tasks first, so that when the list is cut what is still going on stays in view. */
function visibleTasks(tasks: readonly TaskView[], room: number): TaskView[] {
  if (tasks.length <= room) return [...tasks];
  const shown: TaskView[] = [];
  for (const task of tasks) if (shown.length < room && !FINAL_STATES.has(task.state)) shown.push(task);
  for (const task of tasks) if (shown.length < room && FINAL_STATES.has(task.state)) shown.push(task);
  return shown;
}

const dim = (text: string) => ({ text, dimColor: true });

function keyHints(state: WorkState): Segment[] {
  // Stopping: a second Ctrl-C (or q) kills every command now instead of waiting out the grace.
  if (state.stoppedBy !== undefined)
    return [segment({ text: 'stopping', color: 'yellow' }), segment({ text: 'Ctrl-C again to force', bold: true }, { short: [dim('Ctrl-C: force')] })];
  return [segment(dim(state.mode === 'command' ? 'q quit (stops running commands)' : 'q quit'), { short: [dim('q quit')] }), segment(dim('Ctrl-C same'))];
}

// Title, connection, counts, column headers and key hints: the lines that always show.
const FIXED_LINES = 5;

/** The work screen: how the link to the server is, and one row per task, all within the terminal. */
export function WorkScreen({ state, now, columns, rows }: WorkScreenProps) {
  if (isTooSmall({ columns, rows })) return <TooSmall columns={columns} rows={rows} />;
  const link = connectionText(state.connection, now);
  const tasks = [...state.tasks.values()];
  const counts = countByState(state);
  const room = frameHeight(rows) - FIXED_LINES;
  // When the rows do not all fit, one of them becomes the line that says how many are not shown.
  const shown = visibleTasks(tasks, tasks.length <= room ? room : room - 1);
  const hidden = tasks.length - shown.length;
  const showPid = state.mode === 'command';
  // "watching" means what the server means by it: the tasks this worker still holds a watch on (a running
  // command's task among them, its row saying the more that is true: running). An ended task is no longer watched.
  const watched = tasks.filter((task) => task.state === 'watching' || task.state === 'running').length;
  const watchedText = watched === tasks.length ? `${tasks.length}` : `${watched} of ${tasks.length}`;
  const linkSegment = segment({ text: `${link.mark} ${link.text}`, color: link.color }, { short: [{ text: `${link.mark} ${link.short}`, color: link.color }] });
  const down = state.connection.state === 'reconnecting' && state.connection.lastError;
  return (
    <Box flexDirection="column">
      <StatusLine width={columns} segments={[segment({ text: 'taskctl work', bold: true }), segment(state.server, { minWidth: 10 }), linkSegment]} />
      {down ? (
        <StatusLine width={columns} segments={[segment({ text: `  ${down}`, color: 'red' })]} />
      ) : (
        <StatusLine
          width={columns}
          segments={[
            segment({
              text: `  watching ${watchedText} task${tasks.length === 1 ? '' : 's'} over ${tasks.length >= SESSION_MIN_IDS ? 'two connections' : 'one connection'}`,
              dimColor: true,
            }),
          ]}
        />
      )}
      <StatusLine width={columns} segments={(Object.keys(counts) as TaskState[]).map((s) => segment(`${counts[s]} ${TASK_STATE_STYLE[s].label}`))} />
      <Table columns={taskColumns(showPid)} rows={shown.map((task) => taskRow(task, now, showPid))} width={columns} />
      {hidden > 0 && (
        <StatusLine
          width={columns}
          segments={[segment(dim(`… ${hidden} more not shown (counts above include them)`), { short: [dim(`… ${hidden} more not shown`)] })]}
        />
      )}
      <StatusLine
        width={columns}
        segments={state.exitCode === undefined ? keyHints(state) : [segment(dim('done')), segment(dim(`exit code ${state.exitCode}`))]}
      />
    </Box>
  );
}
