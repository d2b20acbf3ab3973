import { Box, Text } from 'ink';
import type { ReactNode } from 'react';
import type { FeedState, FeedTask } from '../client/task-feed.ts';
import { formatDuration } from '../core/duration.ts';
import { TASK_LIFE_STATES, type TaskLifeState } from '../core/task-status.ts';
import type { CancelSourceReply, TaskReply } from '../protocol/schemas.ts';
import { cellWidth, graphemes } from './cell-width.ts';
import { leastWidth, segment, type Segment, type Span, wrapSegments } from './line-layout.ts';
import { frameHeight, isTooSmall, TooSmall } from './screen-size.tsx';
import { StatusLine } from './status-line.tsx';
import { Table, type TableColumn, type TableRow } from './table.tsx';
import { SERVER_STATE_COLOR, SERVER_STATE_SHORT } from './theme.ts';
import { firstRow, type RowState, rowState, selectedIndex, type TopView } from './top-state.ts';
import { connectionText } from './work-screen.tsx';

export interface TopScreenProps {
  readonly feed: FeedState;
  readonly view: TopView;
  /** The ids that pass the filters, in order (TopStore.shown()). */
  readonly shown: readonly string[];
  readonly now: number;
  readonly columns: number;
  readonly rows: number;
}

// Title, summary, column header and the bottom line: the lines that always show.
const FIXED_LINES = 4;
/** How long a notice (cancelled, or why not) stays on the bottom line. */
const NOTICE_MS = 6_000;

/** Task rows a terminal of `rows` lines has room for, under a summary of `summaryLines` lines. */
function taskRoom(rows: number, summaryLines = 1): number {
  return Math.max(1, frameHeight(rows) - FIXED_LINES - (summaryLines - 1));
}

const COLUMNS: readonly TableColumn[] = [
  { header: ' ', minWidth: 1, preferredWidth: 1 },
  // Wide enough to keep most ids whole on 80 columns: the worker column leaves first.
  { header: 'TASK', minWidth: 20, cut: 'middle' },
  { header: 'STATE', minWidth: 16, preferredWidth: 16 },
  { header: 'SINCE', minWidth: 5, dropRank: 1 },
  { header: 'WORKER', minWidth: 12, cut: 'middle', dropRank: 3 },
  { header: 'SEEN', minWidth: 4, dropRank: 4 },
  { header: 'BY', minWidth: 6, dropRank: 2 },
  { header: 'PROGRESS', minWidth: 12, flex: true },
];

const ago = (now: number, iso: string | undefined) => (iso === undefined ? '' : formatDuration(Math.max(0, now - Date.parse(iso))));
const clock = (iso: string) => new Date(Date.parse(iso)).toTimeString().slice(0, 8);
const dim = (text: string): Span => ({ text, dimColor: true });

/** "ops", with the route when it was not a plain API cancel: "ci (deadline)". */
function canceller(by: CancelSourceReply | undefined): string {
  if (!by) return '';
  return by.route === 'v1' ? by.name : `${by.name} (${by.route})`;
}

function stateCell(task: FeedTask | undefined) {
  const state = task ? rowState(task) : 'unknown';
  return state === 'scheduled' || state === 'unknown' ? { text: state, dimColor: true } : { text: state, color: SERVER_STATE_COLOR[state] };
}

function taskRow(id: string, task: FeedTask | undefined, now: number, selected: boolean): TableRow {
  const status = task?.status;
  const mark = selected ? { text: '›', bold: true, color: 'cyan' } : ' ';
  return {
    key: id,
    cells: [
      mark,
      { text: id, ...(selected ? { inverse: true, bold: true } : {}) },
      stateCell(task),
      dim(ago(now, status?.since)),
      dim(status?.worker ? `${status.worker.host}:${status.worker.pid}` : ''),
      dim(ago(now, status?.lastSeenAt)),
      canceller(status?.cancelledBy),
      dim(status?.progress?.text ?? ''),
    ],
  };
}

/** The summary's parts: the total (and how many are shown), the filters, and each state's count in words and abbreviated. */
function summaryParts(feed: FeedState, shownCount: number, view: TopView): { head: Segment[]; counts: Array<{ full: Segment; short: Segment }> } {
  // Each row under the word its state cell says: "scheduled" (a cancel scheduled for a task nothing else is
  // known of yet) is counted too, so the counts add up to the rows listed, and `s` filters by the same words.
  const counts = new Map<RowState, number>();
  for (const task of feed.tasks.values()) {
    const state = rowState(task);
    counts.set(state, (counts.get(state) ?? 0) + 1);
  }
  const total = feed.tasks.size;
  const filtered = view.filter !== '' || view.stateFilter !== undefined;
  const head: Segment[] = [
    {
      spans: [
        { text: `${total.toLocaleString('en-US')} task${total === 1 ? '' : 's'}`, bold: true },
        ...(filtered ? [dim(` (${shownCount.toLocaleString('en-US')} shown)`)] : []),
      ],
    },
  ];
  const state = view.stateFilter;
  if (state !== undefined) head.push(segment(state === 'scheduled' ? dim(`state ${state}`) : { text: `state ${state}`, color: SERVER_STATE_COLOR[state] }));
  if (view.filter !== '') head.push(segment({ text: `filter "${view.filter}"`, color: 'cyan' }, { minWidth: 10 }));
  return {
    head,
    counts: [...TASK_LIFE_STATES, 'scheduled' as const].flatMap((state) => {
      const n = counts.get(state)?.toLocaleString('en-US');
      const style = state === 'scheduled' ? { dimColor: true } : { color: SERVER_STATE_COLOR[state] };
      return n === undefined
        ? []
        : [{ full: segment({ text: `${n} ${state}`, ...style }), short: segment({ text: `${n} ${SERVER_STATE_SHORT[state]}`, ...style }) }];
    }),
  };
}

/**
 * The summary's lines. Every count shows, whatever the width: in words on one line when they fit, else all
 * abbreviated at once (never some in words and others cut off), else abbreviated over as many lines as they need.
 */
function summaryLines({ head, counts }: ReturnType<typeof summaryParts>, columns: number): Segment[][] {
  const full = [...head, ...counts.map((c) => c.full)];
  if (leastWidth(full) <= columns) return [full];
  const short = [...head, ...counts.map((c) => c.short)];
  return leastWidth(short) <= columns ? [short] : wrapSegments(short, columns);
}

/** Where the screen's parts go: the summary's lines, the task rows under them, and the first of those rows. */
export function topLayout(feed: FeedState, view: TopView, shown: readonly string[], columns: number, rows: number) {
  const down = feed.connection.state === 'reconnecting' ? feed.connection.lastError : undefined;
  let instead: Segment[] | undefined;
  if (feed.refusal) instead = [segment({ text: `  ${feed.refusal.message}`, color: 'red' })];
  else if (down) instead = [segment({ text: `  ${down}`, color: 'red' })];
  else if (feed.listing)
    instead = [
      segment(dim(`  listing tasks… ${feed.listing.listed.toLocaleString('en-US')} so far`)),
      ...(feed.listError ? [segment({ text: feed.listError, color: 'red' })] : []),
    ];
  const parts = instead === undefined ? summaryParts(feed, shown.length, view) : undefined;
  // The summary's height decides the rows, and the rows the position it shows: tried again with each
  // height it asks for, which only grows, until the summary fits in it.
  for (let height = 1; ; ) {
    const room = taskRoom(rows, height);
    const top = firstRow(view, shown, room);
    if (parts === undefined) return { summary: [instead!], room, top };
    const visible = Math.min(room, shown.length - top);
    // The position, when the list does not fit: on the summary, so the table keeps every row it can.
    const position =
      !view.detail && visible < shown.length ? [segment(dim(`rows ${top + 1}–${top + visible} of ${shown.length.toLocaleString('en-US')}`))] : [];
    const summary = summaryLines({ ...parts, head: [...parts.head.slice(0, 1), ...position, ...parts.head.slice(1)] }, columns);
    if (summary.length <= height) return { summary, room, top };
    height = summary.length;
  }
}

/** The bottom line: what is being typed, the last notice, or the keys. */
function bottomLine(view: TopView, now: number, columns: number): Segment[] {
  const input = view.input;
  if (input?.kind === 'filter') {
    return [
      { spans: [{ text: '/' }, { text: `${tail(view.filter, columns - 30)}█`, color: 'cyan' }] },
      segment(dim('enter keep · esc clear'), { optional: true }),
    ];
  }
  if (input?.kind === 'cancel') {
    return [
      {
        spans: [
          { text: 'cancel ', color: 'yellow', bold: true },
          { text: `${input.id}?`, color: 'yellow', bold: true },
        ],
        minWidth: 14,
      },
      { spans: [{ text: 'reason: ' }, { text: `${tail(input.reason, Math.max(8, columns - 45))}█` }] },
      segment(dim('enter cancels it · esc keeps it'), { short: [dim('enter/esc')] }),
    ];
  }
  if (view.notice && now - view.notice.at < NOTICE_MS) return [segment({ text: view.notice.text, color: view.notice.error ? 'red' : 'green' })];
  if (view.detail) return [segment(dim('esc back')), segment(dim('c cancel')), segment(dim('q quit'))];
  return [
    segment(dim('↑↓ move'), { short: [dim('↑↓')] }),
    segment(dim('/ filter')),
    segment(dim('s state')),
    segment(dim('enter detail'), { short: [dim('⏎ detail')] }),
    segment(dim('c cancel')),
    segment(dim('q quit')),
  ];
}

/** The end of `text` within `width` cells: what was typed last stays in view. */
function tail(text: string, width: number): string {
  if (cellWidth(text) <= width) return text;
  const parts = graphemes(text).reverse();
  let out = '';
  let used = 1;
  for (const part of parts) {
    if (used + part.width > width) break;
    out = part.text + out;
    used += part.width;
  }
  return `…${out}`;
}

/** The detail pane's rows: one fact a line, then the history, newest last, as many as fit. */
function detailRows(id: string, task: FeedTask | undefined, reply: TaskReply | undefined, error: string | undefined, now: number, room: number): TableRow[] {
  // The feed's status moves with the events; the look-up adds what the feed lacks (record, schedule).
  const status = task?.status ?? reply?.status;
  const rows: Array<[string, string | { text: string; color?: string }]> = [['task', id]];
  if (status) {
    rows.push(['state', { text: `${status.state} since ${ago(now, status.since)} (${clock(status.since)})`, color: SERVER_STATE_COLOR[status.state] }]);
    if (status.worker)
      rows.push([
        'worker',
        `${status.worker.host}:${status.worker.pid} (${status.worker.id})${status.lastSeenAt ? ` · last seen ${ago(now, status.lastSeenAt)} ago` : ''}`,
      ]);
    else if (status.lastSeenAt) rows.push(['last seen', `${ago(now, status.lastSeenAt)} ago`]);
  } else rows.push(['state', reply ? 'unknown (never watched)' : '…']);
  const by = reply?.record?.by ?? status?.cancelledBy;
  if (by) rows.push(['cancelled', `by ${canceller(by)} from ${by.address}${reply?.record ? ` at ${clock(reply.record.cancelledAt)}` : ''}`]);
  const reason = reply?.record?.reason ?? task?.reason;
  if (reason !== undefined) rows.push(['reason', reason]);
  if (status?.exitCode !== undefined && status.exitCode !== null) rows.push(['exit', `code ${status.exitCode}`]);
  if (status?.signal) rows.push(['signal', status.signal]);
  if (status?.stoppedBy) rows.push(['stopped', `by ${status.stoppedBy}`]);
  if (status?.progress) rows.push(['progress', `${status.progress.text} (${ago(now, status.progress.at)} ago)`]);
  const scheduled = reply?.scheduled;
  if (scheduled)
    rows.push([
      'scheduled',
      `cancel at ${scheduled.at}${scheduled.by ? ` by ${canceller(scheduled.by)}` : ''}${scheduled.reason ? ` · ${scheduled.reason}` : ''}`,
    ]);
  else if (task?.scheduledAt) rows.push(['scheduled', `cancel at ${task.scheduledAt}`]);
  if (error) rows.push(['error', { text: error, color: 'red' }]);
  else if (!reply) rows.push(['', { text: 'loading…', color: 'gray' }]);
  const history = status?.history ?? [];
  const left = room - rows.length;
  if (left > 0 && history.length > 0) {
    const shownHistory = history.slice(-left);
    shownHistory.forEach((h, i) => {
      const state = h.state as TaskLifeState;
      rows.push([
        i === 0 ? (shownHistory.length < history.length ? `history (${history.length})` : 'history') : '',
        { text: `${clock(h.at)}  ${h.state}`, ...(SERVER_STATE_COLOR[state] ? { color: SERVER_STATE_COLOR[state] } : {}) },
      ]);
    });
  }
  return rows.slice(0, room).map(([label, value], i) => ({ key: `${i}`, cells: [{ text: label, bold: true }, value] }));
}

const DETAIL_COLUMNS: readonly TableColumn[] = [
  { header: '', minWidth: 10, preferredWidth: 12 },
  { header: '', minWidth: 10, flex: true },
];

/** `taskctl top`: every task of a server, live; a selected task's detail; filters; a cancel with a reason. */
export function TopScreen({ feed, view, shown, now, columns, rows }: TopScreenProps) {
  if (isTooSmall({ columns, rows })) return <TooSmall columns={columns} rows={rows} />;
  const { summary, room, top } = topLayout(feed, view, shown, columns, rows);
  const link = connectionText(feed.connection, now);
  const linkSegment = segment({ text: `${link.mark} ${link.text}`, color: link.color }, { short: [{ text: `${link.mark} ${link.short}`, color: link.color }] });
  const title: Segment[] = [segment({ text: 'taskctl top', bold: true }), segment(feed.server, { minWidth: 10 }), linkSegment];
  const selected = selectedIndex(view, shown);
  const visible = shown.slice(top, top + room);
  const tableRows = visible.map((id, i) => taskRow(id, feed.tasks.get(id), now, top + i === selected));
  let body: ReactNode;
  if (view.detail) {
    const detail = view.detail;
    body = (
      <Table
        columns={DETAIL_COLUMNS}
        rows={detailRows(detail.id, feed.tasks.get(detail.id), detail.reply, detail.error, now, room + 1)}
        width={columns}
        header={false}
      />
    );
  } else if (shown.length === 0) {
    body = (
      <>
        <Text dimColor>{feed.listing ? ' ' : feed.tasks.size === 0 ? 'no tasks yet' : 'no task matches the filters (esc clears them)'}</Text>
      </>
    );
  } else {
    body = <Table columns={COLUMNS} rows={tableRows} width={columns} />;
  }
  return (
    <Box flexDirection="column">
      <StatusLine width={columns} segments={title} />
      {summary.map((line, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: lines are positional and never reorder
        <StatusLine key={i} width={columns} segments={line} />
      ))}
      {body}
      <StatusLine width={columns} segments={bottomLine(view, now, columns)} />
    </Box>
  );
}
