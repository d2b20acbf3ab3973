// The top screen from fixture state: it fits 80x24, 100x30 and 200x50 with long, CJK and emoji ids and
// 10,000 tasks (only the rows on screen are drawn); and its keys, typed into the real app.
import { EventEmitter } from 'node:events';
import { render } from 'ink';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConnectionView } from '../../src/client/connection.ts';
import type { FeedState, FeedTask } from '../../src/client/task-feed.ts';
import type { TaskStatusReply } from '../../src/protocol/schemas.ts';
import { SortedIds } from '../../src/core/sorted-ids.ts';
import { TopApp } from '../../src/ui/render-top.tsx';
import { TopScreen } from '../../src/ui/top-screen.tsx';
import { INITIAL_VIEW, reduceTop, shownIds, type TopEffect, TopStore, type TopView } from '../../src/ui/top-state.ts';
import { eventually } from '../helpers/server.ts';
import { frameAt, inkStringWidth, stripAnsi } from './render-at.tsx';
import { assertFits, cellSlice, showsId } from './screen-checks.ts';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();
const SIZES = [
  { columns: 80, rows: 24 },
  { columns: 100, rows: 30 },
  { columns: 200, rows: 50 },
] as const;
const STATES = ['watching', 'cancel_requested', 'cancelled', 'succeeded', 'failed', 'timed_out', 'stopped', 'lost', 'unknown', 'scheduled'];
const idOf = (length: number, suffix: string) => 'pipeline-step-with-a-long-name-'.repeat(3).slice(0, length - suffix.length) + suffix;
const IDS = ['x', idOf(40, '-0040'), idOf(64, '-0064'), '训练任务-数据管道-第七步-模型评估-第十二号', '🚀-deploy-🔥-prod-eu-west-1-🐳-build-0042', 'job,7'];
const LONG = `the dataset was wrong: ${'all of it, '.repeat(30)}`;

function status(i: number, state: TaskStatusReply['state'] = (['watching', 'cancel_requested', 'lost', 'succeeded'] as const)[i % 4]!): TaskStatusReply {
  return {
    state,
    since: iso(T0 - 60_000 - i),
    lastSeenAt: iso(T0 - 5_000),
    worker: { id: `w${i}`, host: `gpu-node-${i % 9}.cluster.example.com`, pid: 4_000 + i },
    history: [
      { state: 'watching', at: iso(T0 - 120_000) },
      { state, at: iso(T0 - 60_000) },
    ],
    ...(state === 'cancel_requested' ? { cancelledBy: { name: 'ops', address: '10.0.0.7', route: 'v1' } } : {}),
    ...(i % 3 === 0 ? { progress: { text: i % 2 ? LONG : `epoch ${i}/200 loss=0.${i}`, at: iso(T0 - 1_000) } } : {}),
  };
}

const connected: ConnectionView = { state: 'connected', since: T0 - 10_000, attempt: 0, lastAnswerAt: T0 - 2_000 };

function feedOf(tasks: readonly FeedTask[], more: Partial<FeedState> = {}): FeedState {
  const map = new Map(tasks.map((t) => [t.id, t]));
  const order = new SortedIds();
  for (const id of map.keys()) order.add(id);
  return { server: 'http://taskctl.build.example.com:8080', tasks: map, order, version: 1, events: 0, connection: connected, ...more };
}

const fixture = (ids: readonly string[]) => feedOf(ids.map((id, i) => ({ id, status: status(i), ...(i === 1 ? { reason: LONG } : {}) })));

/** Checks a top frame and returns its task rows' id cells. */
function assertTopScreen(text: string, size: { columns: number; rows: number }, what: string): string[] {
  const lines = assertFits(text, size, what);
  assert.ok(lines.length <= size.rows - 1, `${what}: ${lines.length} lines leave no row for the cursor`);
  assert.ok(lines[0]!.startsWith('taskctl top · '), `${what}: title first:\n${text}`);
  assert.match(lines[0]!, '● connected', what);
  // Under the title, the summary: one line, or more when its counts need them.
  const headerAt = lines.findIndex((line) => /^ +TASK +STATE/.test(line));
  assert.ok(headerAt >= 2, `${what}: title, summary, then the header:\n${text}`);
  const header = lines[headerAt]!;
  assert.match(header, /^ +TASK +STATE( +SINCE)?( +WORKER)?( +SEEN)?( +BY)? +PROGRESS$/, `${what}: the header under the summary:\n${text}`);
  assert.match(lines.at(-1)!, /q quit|enter cancels it|enter keep/, `${what}: keys last:\n${text}`);
  const stateAt = header.indexOf('STATE');
  const rows = lines.slice(headerAt + 1, -1);
  for (const row of rows) {
    const state = cellSlice(row, stateAt, stateAt + 16).trimEnd();
    assert.ok(STATES.includes(state), `${what}: no state under STATE in\n${row}\n\nin\n${text}`);
    assert.match(cellSlice(row, 0, 1), /^[ ›]$/, `${what}: a row starts with its mark (a wrapped line?)\n${row}`);
  }
  assert.is(text.split('taskctl top').length, 2, `${what}: one title`);
  return rows.map((row) => cellSlice(row, 3, stateAt - 2));
}

for (const { columns, rows } of SIZES) {
  test(`top at ${columns}x${rows}: long, CJK and emoji ids, long progress; every row one line`, () => {
    const what = `top ${columns}x${rows}`;
    const feed = fixture(IDS);
    const view: TopView = { ...INITIAL_VIEW, selectedId: IDS[2] };
    const text = frameAt(<TopScreen feed={feed} view={view} shown={shownIds(feed, view)} now={T0} columns={columns} rows={rows} />, columns, rows);
    const idCells = assertTopScreen(text, { columns, rows }, what);
    assert.is(idCells.length, IDS.length);
    const sorted = [...IDS].sort();
    idCells.forEach((cell, i) => assert.ok(showsId(cell, sorted[i]!), `${what}: row ${i} shows ${cell}, not ${sorted[i]}:\n${text}`));
    const marked = text.split('\n').filter((line) => line.startsWith('›'));
    assert.is(marked.length, 1, `${what}: one row is marked`);
    assert.ok(
      showsId(cellSlice(marked[0]!, 3, marked[0]!.indexOf(' ', 3 + 16)), IDS[2]!) || marked[0]!.includes('-0064'),
      `${what}: the selected row is marked:\n${text}`,
    );
    assert.match(text, /6 tasks · 2 watching · 2 cancel_requested · 1 succeeded · 1 lost/);
    if (columns >= 100) assert.match(text, /WORKER/);
  });

  test(`top at ${columns}x${rows}: 10,000 tasks draw only the rows that fit, around the selection`, () => {
    const what = `top ${columns}x${rows} with 10,000 tasks`;
    const ids = Array.from({ length: 10_000 }, (_, i) => `task-${String(i).padStart(5, '0')}`);
    const feed = fixture(ids);
    const view: TopView = { ...INITIAL_VIEW, selectedId: 'task-05000', top: 4_990 };
    const text = frameAt(<TopScreen feed={feed} view={view} shown={shownIds(feed, view)} now={T0} columns={columns} rows={rows} />, columns, rows);
    const idCells = assertTopScreen(text, { columns, rows }, what);
    const summaryLines = text.split('\n').findIndex((line) => /^ +TASK +STATE/.test(line)) - 1;
    assert.is(idCells.length, rows - 1 - 3 - summaryLines, `${what}: the screen is filled`);
    assert.ok(
      idCells.some((cell) => cell.trim() === 'task-05000'),
      `${what}: the selection is on screen`,
    );
    assert.match(text, new RegExp(`rows 4991–${4990 + idCells.length} of 10,000`));
  });
}

test('every state count shows at any width: in words when they fit, else all abbreviated, else over two lines', () => {
  // Every state at once, in the thousands: once, lost (the last) was the first count a narrow terminal dropped.
  const states = ['watching', 'cancel_requested', 'cancelled', 'succeeded', 'failed', 'timed_out', 'stopped', 'lost'] as const;
  const tasks: FeedTask[] = [];
  for (let i = 0; i < 18_000; i++) {
    const id = `task-${String(i).padStart(5, '0')}`;
    tasks.push(i < 16_000 ? { id, status: status(i, states[i % 8]) } : { id, scheduledAt: iso(T0 + 60_000) });
  }
  const feed = feedOf(tasks);
  const words = ['watching', 'cancel_requested', 'cancelled', 'succeeded', 'failed', 'timed_out', 'stopped', 'lost', 'scheduled'];
  const short = ['watch', 'req', 'cxl', 'ok', 'fail', 't/o', 'stop', 'lost', 'sched'];
  for (const [columns, rows] of [
    [200, 50],
    [160, 40],
    [80, 24],
    [40, 10],
  ] as const) {
    const what = `every state at ${columns}x${rows}`;
    const text = frameAt(
      <TopScreen feed={feed} view={INITIAL_VIEW} shown={shownIds(feed, INITIAL_VIEW)} now={T0} columns={columns} rows={rows} />,
      columns,
      rows,
    );
    // At 40 columns the table cuts its own header ("PROGRE…"), which the full check does not expect.
    if (columns >= 80) assertTopScreen(text, { columns, rows }, what);
    else assertFits(text, { columns, rows }, what);
    const lines = text.split('\n');
    const summaryLines = lines.slice(
      1,
      lines.findIndex((line) => /^ +TASK +STATE/.test(line)),
    );
    const counts = summaryLines
      .join(' · ')
      .split(' · ')
      .filter((part) => /^[\d,]+ [a-z_/]+$/.test(part) && !part.endsWith(' tasks'));
    const inWords = counts.every((count) => words.includes(count.split(' ')[1]!));
    assert.equal(
      counts.map((count) => count.split(' ')[1]),
      inWords ? words : short,
      `${what}: all nine counts, every one in words or every one abbreviated:\n${text}`,
    );
    assert.ok(counts.includes('2,000 lost'), `${what}: lost shows:\n${text}`);
    assert.match(text, /^› +task-00000 +watching/m, `${what}: a task row still shows:\n${text}`);
    if (columns >= 200) assert.ok(inWords, `${what}: words when they fit:\n${text}`);
    if (columns === 160) assert.ok(!inWords && summaryLines.length === 1, `${what}: abbreviated, on one line:\n${text}`);
    if (columns <= 80) assert.ok(summaryLines.length > 1, `${what}: over more lines:\n${text}`);
  }
});

test('the summary counts the scheduled rows too, so its counts add up to the tasks listed', () => {
  const feed = feedOf([
    { id: 'a-watched', status: status(0, 'watching') },
    // Watched, with a cancel scheduled for later: its row says watching, and so does the count.
    { id: 'b-watched-due', status: status(1, 'watching'), scheduledAt: iso(T0 + 3_600_000) },
    { id: 'c-later', scheduledAt: iso(T0 + 60_000) },
    { id: 'd-later', scheduledAt: iso(T0 + 120_000) },
    { id: 'e-lost', status: status(4, 'lost') },
  ]);
  for (const { columns, rows } of SIZES) {
    const text = frameAt(
      <TopScreen feed={feed} view={INITIAL_VIEW} shown={shownIds(feed, INITIAL_VIEW)} now={T0} columns={columns} rows={rows} />,
      columns,
      rows,
    );
    assertTopScreen(text, { columns, rows }, `scheduled rows at ${columns}x${rows}`);
    assert.is(text.split('\n')[1], '5 tasks · 2 watching · 1 lost · 2 scheduled', `at ${columns}x${rows}:\n${text}`);
    assert.is(text.match(/^ +[cd]-later +scheduled/gm)?.length, 2, text);
  }
});

test('the detail pane: state, worker, who cancelled, reason, progress, schedule and history, within the screen; the state moves with the feed', () => {
  const reply = {
    id: IDS[1]!,
    cancelled: true,
    record: { id: IDS[1]!, reason: LONG, cancelledAt: iso(T0 - 60_000), expiresAt: iso(T0 + 60_000), by: { name: 'ops', address: '10.0.0.7', route: 'v1' } },
    scheduled: { at: iso(T0 + 3_600_000), reason: 'deadline: work --timeout 2h passed', by: { name: 'ci', address: '10.0.0.9', route: 'deadline' } },
    status: {
      ...status(1),
      progress: { text: 'epoch 9/10', at: iso(T0 - 3_000) },
      history: Array.from({ length: 20 }, (_, i) => ({ state: i % 2 ? 'watching' : 'lost', at: iso(T0 - 100_000 + i * 1_000) })),
    },
  };
  const feed = feedOf(IDS.map((id, i) => ({ id, status: i === 1 ? reply.status : status(i) })));
  for (const { columns, rows } of SIZES) {
    const view: TopView = { ...INITIAL_VIEW, selectedId: IDS[1], detail: { id: IDS[1]!, reply } };
    const text = frameAt(<TopScreen feed={feed} view={view} shown={shownIds(feed, view)} now={T0} columns={columns} rows={rows} />, columns, rows);
    const lines = assertFits(text, { columns, rows }, `detail ${columns}x${rows}`);
    assert.ok(lines.length <= rows - 1);
    assert.match(text, /^state +cancel_requested since 1m \(\d\d:\d\d:\d\d\)/m);
    assert.match(text, /^worker +gpu-node-1\.cluster\.example\.com:4001 \(w1\) · last seen 5s ago/m);
    assert.match(text, /^cancelled +by ops from 10\.0\.0\.7/m);
    assert.match(text, /^reason +the dataset was wrong/m);
    assert.match(text, /^progress +epoch 9\/10 \(3s ago\)/m);
    assert.match(text, /^scheduled +cancel at \S+ by ci \(deadline\)/m);
    assert.match(text, /^history( \(20\))? +\d\d:\d\d:\d\d {2}(lost|watching)/m);
    assert.match(lines.at(-1)!, 'esc back · c cancel · q quit');
  }
  // An event after the pane opened: the pane shows the task's state now, not as it was looked up.
  const later = feedOf(IDS.map((id, i) => ({ id, status: i === 1 ? { ...reply.status, state: 'cancelled' as const } : status(i) })));
  const view: TopView = { ...INITIAL_VIEW, selectedId: IDS[1], detail: { id: IDS[1]!, reply } };
  assert.match(
    frameAt(<TopScreen feed={later} view={view} shown={shownIds(later, view)} now={T0} columns={100} rows={30} />, 100, 30),
    /^state +cancelled since/m,
  );
});

test('a lost server shows on the connection line, with the attempt and the next try, and why', () => {
  const feed = {
    ...fixture(IDS),
    connection: {
      state: 'reconnecting',
      since: T0 - 8_000,
      downSince: T0 - 8_000,
      attempt: 4,
      nextRetryAt: T0 + 2_000,
      lastError: 'cannot reach http://taskctl.build.example.com:8080: connection refused',
      lastAnswerAt: T0 - 9_000,
    },
  } as FeedState;
  const text = frameAt(<TopScreen feed={feed} view={INITIAL_VIEW} shown={shownIds(feed, INITIAL_VIEW)} now={T0} columns={120} rows={24} />, 120, 24);
  assert.match(text.split('\n')[0]!, /○ reconnecting \(attempt 4, next try in 2s\)/);
  assert.match(text.split('\n')[1]!, 'connection refused');
});

test('under 40x10 it is one line saying the terminal is too small', () => {
  const feed = fixture(IDS);
  const text = frameAt(<TopScreen feed={feed} view={INITIAL_VIEW} shown={shownIds(feed, INITIAL_VIEW)} now={T0} columns={39} rows={24} />, 39, 24);
  assert.is(text, 'terminal too small: 39x24 · needs 40x10');
});

// ---------- keys ----------

test('s cycles through every state the summary counts, scheduled last, then back to all; each shows the rows that say it', () => {
  const feed = feedOf([
    { id: 'a-watched', status: status(0, 'watching') },
    // Watched, with a cancel scheduled for later: its row says watching, and so it is filtered.
    { id: 'b-watched-due', status: status(1, 'watching'), scheduledAt: iso(T0 + 3_600_000) },
    { id: 'c-later', scheduledAt: iso(T0 + 60_000) },
    { id: 'e-lost', status: status(4, 'lost') },
  ]);
  let view = INITIAL_VIEW;
  const seen: string[] = [];
  do {
    view = reduceTop(view, { type: 'key', key: { input: 's' }, room: 10, now: T0 }, shownIds(feed, view)).view;
    seen.push(view.stateFilter ?? 'all');
  } while (view.stateFilter !== undefined);
  assert.equal(seen, ['watching', 'cancel_requested', 'cancelled', 'succeeded', 'failed', 'timed_out', 'stopped', 'lost', 'scheduled', 'all']);
  const scheduled: TopView = { ...INITIAL_VIEW, stateFilter: 'scheduled' };
  assert.equal(shownIds(feed, scheduled), ['c-later']);
  assert.equal(shownIds(feed, { ...INITIAL_VIEW, stateFilter: 'watching' }), ['a-watched', 'b-watched-due']);
  const text = frameAt(<TopScreen feed={feed} view={scheduled} shown={shownIds(feed, scheduled)} now={T0} columns={100} rows={30} />, 100, 30);
  assert.is(text.split('\n')[1], '4 tasks (1 shown) · state scheduled · 2 watching · 1 lost · 1 scheduled', text);
  assert.match(text, /^› +c-later +scheduled/m);
});

test('keys: move, filter, cycle states, open, cancel with a reason, quit (the reducer alone)', () => {
  const feed = fixture(['a-1', 'a-2', 'b-1', 'b-2']);
  let view = INITIAL_VIEW;
  const effects: TopEffect[] = [];
  const press = (key: Record<string, unknown> & { input?: string }) => {
    const result = reduceTop(view, { type: 'key', key: { input: '', ...key }, room: 10, now: T0 }, shownIds(feed, view));
    view = result.view;
    if (result.effect) effects.push(result.effect);
  };
  press({ input: 'j' });
  press({ downArrow: true });
  assert.is(view.selectedId, 'b-1');
  press({ input: 'k' });
  assert.is(view.selectedId, 'a-2');
  press({ input: '/' });
  for (const ch of 'B-') press({ input: ch });
  assert.equal(shownIds(feed, view), ['b-1', 'b-2'], 'the filter narrows as it is typed, in any case');
  press({ return: true });
  assert.is(view.input, undefined);
  assert.is(view.selectedId, 'b-1', 'the selection moves to a match');
  press({ input: 's' });
  assert.is(view.stateFilter, 'watching');
  assert.equal(shownIds(feed, view), [], 'b-1 is lost, b-2 succeeded');
  while (view.stateFilter !== 'lost') press({ input: 's' });
  assert.equal(shownIds(feed, view), ['b-1']);
  press({ return: true });
  assert.equal(effects.pop(), { kind: 'open', id: 'b-1' });
  assert.is(view.detail?.id, 'b-1');
  press({ escape: true });
  assert.is(view.detail, undefined);
  press({ input: 'c' });
  assert.equal(view.input, { kind: 'cancel', id: 'b-1', reason: '' });
  for (const ch of ['wrong', ' ', 'data\x1b[2J']) press({ input: ch });
  press({ backspace: true });
  assert.equal(view.input, { kind: 'cancel', id: 'b-1', reason: 'wrong data[2' }, 'control characters never get into the line');
  press({ input: 'q' });
  assert.equal(effects, [], 'q is a letter while typing');
  press({ escape: true });
  assert.is(view.input, undefined, 'esc keeps the task');
  press({ input: 'c' });
  for (const ch of 'superseded') press({ input: ch });
  press({ return: true });
  assert.equal(effects.pop(), { kind: 'cancel', id: 'b-1', reason: 'superseded' });
  press({ input: 'q' });
  assert.equal(effects.pop(), { kind: 'quit' });
});

/** The app on a terminal of a chosen size, with a keyboard. */
function renderTop(app: React.ReactElement, columns: number, rows: number) {
  const stdout = Object.assign(new EventEmitter(), {
    columns,
    rows,
    frames: [] as string[],
    write(frame: string) {
      stdout.frames.push(frame);
      return true;
    },
  });
  const stdin = Object.assign(new EventEmitter(), {
    isTTY: true,
    data: null as string | null,
    write(data: string) {
      stdin.data = data;
      stdin.emit('readable');
      stdin.emit('data', data);
    },
    read() {
      const data = stdin.data;
      stdin.data = null;
      return data;
    },
    setEncoding() {},
    setRawMode() {},
    resume() {},
    pause() {},
    ref() {},
    unref() {},
  });
  const instance = render(app, {
    stdout: stdout as never,
    stderr: stdout as never,
    stdin: stdin as never,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  return { lastFrame: () => stripAnsi(stdout.frames.at(-1) ?? ''), type: (text: string) => stdin.write(text), unmount: () => instance.unmount() };
}

test('the real app: keys typed on its stdin select, confirm and cancel; new events redraw it', async () => {
  const state = { value: fixture(['t-1', 't-2', 't-3']) };
  const listeners = new Set<() => void>();
  const feed = {
    get state() {
      return state.value;
    },
    subscribe: (l: () => void) => (listeners.add(l), () => listeners.delete(l)),
  };
  const effects: TopEffect[] = [];
  const store = new TopStore(feed, (effect) => effects.push(effect));
  const screen = renderTop(<TopApp feed={feed} store={store} />, 80, 24);
  try {
    await eventually(() => /› +t-1/.test(screen.lastFrame()), 'the first task selected');
    screen.type('j');
    await eventually(() => /› +t-2/.test(screen.lastFrame()), 'j moves down');
    screen.type('c');
    await eventually(() => screen.lastFrame().includes('cancel t-2? · reason: █'), 'the confirm line');
    screen.type('no longer needed');
    await eventually(() => screen.lastFrame().includes('reason: no longer needed█'), 'the reason typed');
    screen.type('\r');
    await eventually(() => effects.length === 1, 'enter confirms');
    assert.equal(effects[0], { kind: 'cancel', id: 't-2', reason: 'no longer needed' });
    // An event arrives: the feed changes and the screen follows.
    const tasks = new Map(state.value.tasks);
    tasks.set('t-2', { id: 't-2', status: { ...status(2, 'cancelled'), cancelledBy: { name: 'ops', address: '10.0.0.7', route: 'v1' } } });
    state.value = { ...state.value, tasks, version: 2 };
    listeners.forEach((l) => l());
    await eventually(() => /› +t-2 +cancelled/.test(screen.lastFrame()), 'the new state drawn');
    assert.ok(inkStringWidth(screen.lastFrame().split('\n')[0]!) <= 80);
  } finally {
    screen.unmount();
  }
});

test('keys that arrive together ("jjj") count one by one; typed text arrives whole', () => {
  const feed = fixture(['k-1', 'k-2', 'k-3', 'k-4', 'k-5']);
  const effects: TopEffect[] = [];
  const store = new TopStore({ state: feed, subscribe: () => () => {} }, (e) => effects.push(e));
  store.press({ input: 'jjj' }, 20, T0);
  assert.is(store.view.selectedId, 'k-4');
  store.press({ input: 'c' }, 20, T0);
  store.press({ input: 'jq' }, 20, T0);
  assert.equal(store.view.input, { kind: 'cancel', id: 'k-4', reason: 'jq' });
  assert.equal(effects, []);
});

test('the shown list is made again only when the feed or the filters change', () => {
  const feed = fixture(Array.from({ length: 10_000 }, (_, i) => `n-${i}`));
  const store = new TopStore({ state: feed, subscribe: () => () => {} }, () => {});
  const first = store.shown();
  store.dispatch({ type: 'key', key: { input: 'j' }, room: 20, now: T0 });
  assert.is(store.shown(), first, 'a key that moves the selection does not filter 10,000 tasks again');
  store.dispatch({ type: 'key', key: { input: 's' }, room: 20, now: T0 });
  assert.is.not(store.shown(), first);
});

test.run();
