import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import { formatDuration } from '../core/duration.ts';
import type { ServeState } from '../server/serve-activity.ts';
import { segment, type Segment } from './line-layout.ts';
import { frameHeight, isTooSmall, shareRows, TooSmall } from './screen-size.tsx';
import { StatusLine } from './status-line.tsx';
import { Table, type TableColumn, type TableRow } from './table.tsx';

export interface ServeScreenProps {
  readonly state: ServeState;
  readonly openWatches: number;
  /** Task statuses the store holds, when known. */
  readonly trackedTasks?: number | undefined;
  readonly cancelsPerSecond: number;
  readonly watchesPerSecond: number;
  readonly now: number;
  /** Terminal columns: no line is wider. */
  readonly columns: number;
  /** Terminal rows: the lists are cut to fit, each heading saying how many it leaves out. */
  readonly rows: number;
}

const clock = (ms: number) => new Date(ms).toTimeString().slice(0, 8);
const rate = (perSecond: number) => (perSecond >= 10 ? perSecond.toFixed(0) : perSecond.toFixed(1));

const TIME: TableColumn = { header: 'TIME', minWidth: 8, preferredWidth: 8, dropRank: 1 };
const ID: TableColumn = { header: 'TASK', minWidth: 16, cut: 'middle' };
const CANCEL_COLUMNS: readonly TableColumn[] = [
  TIME,
  ID,
  { header: 'FROM', minWidth: 9, preferredWidth: 15, cut: 'middle' },
  { header: 'REASON', minWidth: 20, flex: true },
];
// With tokens, who asked: the token's name. A server without auth has only "anonymous" to say, so the
// column is left out there.
const CANCEL_COLUMNS_WITH_BY: readonly TableColumn[] = [TIME, ID, { header: 'BY', minWidth: 8, preferredWidth: 24, dropRank: 2 }, ...CANCEL_COLUMNS.slice(2)];
const CHANGE_COLUMNS: readonly TableColumn[] = [
  TIME,
  ID,
  { header: 'STATE', minWidth: 16, preferredWidth: 16 },
  { header: 'WORKER', minWidth: 16, flex: true, cut: 'middle' },
];
const ERROR_COLUMNS: readonly TableColumn[] = [TIME, { header: 'ERROR', minWidth: 12, flex: true }];

// Title, rates, key hint; then each list's heading.
const FIXED_LINES = 3 + 3;
// The blank lines between the parts, left out when the terminal is short.
const BLANK_LINES = 4;

/** Who asked for a cancel, with how when it was not through the API (a schedule, a worker's deadline). */
function whoCancelled(c: ServeState['recentCancels'][number]): string {
  if (c.by === undefined) return '';
  return c.route === undefined || c.route === 'v1' ? c.by : `${c.by} (${c.route})`;
}

/** The serve dashboard: where it listens, how busy it is, the latest cancels, task changes and errors. */
export function ServeScreen({ state, openWatches, trackedTasks, cancelsPerSecond, watchesPerSecond, now, columns, rows }: ServeScreenProps) {
  if (isTooSmall({ columns, rows })) return <TooSmall columns={columns} rows={rows} />;
  const showBy = state.recentCancels.some((c) => c.by !== undefined && c.by !== 'anonymous');
  const cancels: TableRow[] = state.recentCancels.map((c, i) => ({
    key: `${c.id}-${c.at}-${i}`,
    cells: [{ text: clock(c.at), dimColor: true }, c.id, ...(showBy ? [whoCancelled(c)] : []), { text: c.address, dimColor: true }, c.reason ?? ''],
  }));
  const changes: TableRow[] = state.recentTaskChanges.map((c, i) => ({
    key: `${c.id}-${c.at}-${i}`,
    cells: [
      { text: clock(c.at), dimColor: true },
      c.id,
      { text: c.state, color: c.state === 'lost' || c.state === 'failed' ? 'red' : undefined },
      { text: c.worker ?? '', dimColor: true },
    ],
  }));
  const errors: TableRow[] = state.recentErrors.map((e, i) => ({
    key: `${e.at}-${i}`,
    cells: [clock(e.at), e.message].map((text) => ({ text, color: 'red' })),
  }));
  // Every list shows at least one line (a row, or that it is empty); the blank lines go before any of that.
  const height = frameHeight(rows);
  const blanks = height >= FIXED_LINES + BLANK_LINES + 3;
  const [cancelRoom, changeRoom, errorRoom] = shareRows(
    height - FIXED_LINES - (blanks ? BLANK_LINES : 0),
    [cancels, changes, errors].map((list) => Math.max(1, list.length)),
  );
  const blank = blanks ? <Text> </Text> : null;
  const title: Segment[] = [
    segment({ text: 'taskctl serve', bold: true }),
    { spans: [{ text: 'listening on ' }, { text: state.url }], short: [{ text: state.url }], minWidth: 12 },
    segment(`up ${formatDuration(now - state.startedAt)}`),
    segment(`store ${state.store}`, { minWidth: 16, optional: true }),
  ];
  const stats: Segment[] = [
    { spans: [{ text: 'open watches ' }, { text: String(openWatches), bold: true }] },
    ...(trackedTasks === undefined
      ? []
      : [
          {
            spans: [{ text: 'tasks tracked ' }, { text: String(trackedTasks), bold: true }],
            short: [{ text: 'tracked ' }, { text: String(trackedTasks), bold: true }],
          },
        ]),
    { spans: [{ text: 'cancels/s ' }, { text: rate(cancelsPerSecond), bold: true }], optional: true },
    {
      spans: [{ text: 'watches answered/s ' }, { text: rate(watchesPerSecond), bold: true }],
      short: [{ text: 'answered/s ' }, { text: rate(watchesPerSecond), bold: true }],
      optional: true,
    },
    { spans: [{ text: `cancels since start ${state.cancelsTotal}` }], short: [{ text: `cancels ${state.cancelsTotal}` }], optional: true },
    {
      spans: [{ text: 'tasks lost ' }, { text: String(state.lostTotal), color: state.lostTotal > 0 ? 'red' : undefined }],
      short: [{ text: 'lost ' }, { text: String(state.lostTotal), color: state.lostTotal > 0 ? 'red' : undefined }],
    },
    ...(state.failingWebhooks.length === 0
      ? []
      : [
          {
            spans: [{ text: 'webhooks failing ' }, { text: state.failingWebhooks.join(' '), color: 'red' }],
            short: [{ text: 'webhooks failing ' }, { text: String(state.failingWebhooks.length), color: 'red' }],
            minWidth: 12,
          } satisfies Segment,
        ]),
  ];
  return (
    <Box flexDirection="column">
      <StatusLine width={columns} segments={title} />
      <StatusLine width={columns} segments={stats} />
      {blank}
      <Section
        title="Recent cancels"
        rows={cancels}
        room={cancelRoom!}
        width={columns}
        empty="none yet"
        columns={showBy ? CANCEL_COLUMNS_WITH_BY : CANCEL_COLUMNS}
      />
      {blank}
      <Section title="Task states" rows={changes} room={changeRoom!} width={columns} empty="no task watched yet" columns={CHANGE_COLUMNS} />
      {blank}
      <Section title="Recent errors" rows={errors} room={errorRoom!} width={columns} empty="none" columns={ERROR_COLUMNS} />
      {blank}
      <StatusLine width={columns} segments={[segment({ text: 'Ctrl-C stops the server (open watches are answered first)', dimColor: true })]} />
    </Box>
  );
}

interface SectionProps {
  readonly title: string;
  readonly columns: readonly TableColumn[];
  /** Newest first: the list is cut at its end. */
  readonly rows: readonly TableRow[];
  /** Lines for the rows (at least 1). */
  readonly room: number;
  readonly width: number;
  readonly empty: string;
}

/** A heading and as many of the newest rows as there is room for; the heading counts the rest. */
function Section({ title, columns, rows, room, width, empty }: SectionProps): ReactNode {
  const hidden = Math.max(0, rows.length - room);
  const heading = [segment({ text: title, bold: true }), ...(hidden > 0 ? [segment({ text: `${hidden} more not shown`, dimColor: true })] : [])];
  return (
    <>
      <StatusLine width={width} segments={heading} />
      {rows.length === 0 ? <Text dimColor>{empty}</Text> : <Table columns={columns} rows={rows.slice(0, room)} width={width} header={false} />}
    </>
  );
}
