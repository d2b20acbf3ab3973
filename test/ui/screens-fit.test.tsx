// Every screen fits its terminal: no line wider than it, no more lines than it has, every row one line,
// the title and header always there, and the end of every shortened id still visible.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ServeActivity } from '../../src/server/serve-activity.ts';
import { ServeApp } from '../../src/ui/render-serve.tsx';
import { WorkApp } from '../../src/ui/render-work.tsx';
import { ServeScreen } from '../../src/ui/serve-screen.tsx';
import { WorkScreen } from '../../src/ui/work-screen.tsx';
import { initialWorkState, reduceWork, WorkStore, type WorkEvent, type WorkState } from '../../src/worker/work-state.ts';
import { eventually } from '../helpers/server.ts';
import { frameAt, inkStringWidth, renderAt } from './render-at.tsx';
import { assertServeScreen as assertServe, assertWorkScreen as assertWork, showsId, tailOf } from './screen-checks.ts';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const SIZES = [
  { columns: 80, rows: 24 },
  { columns: 100, rows: 30 },
  { columns: 200, rows: 50 },
] as const;

const idOf = (length: number, suffix: string) => 'pipeline-step-with-a-long-name-'.repeat(3).slice(0, length - suffix.length) + suffix;
const IDS = [
  'x',
  idOf(18, '-0018'),
  idOf(40, '-0040'),
  idOf(64, '-0064'),
  '训练任务-数据管道-第七步-模型评估-第十二号',
  '🚀-deploy-🔥-prod-eu-west-1-🐳-build-0042',
];
const LONG_REASON = `the dataset was wrong: ${'all of it, '.repeat(100)}`.slice(0, 1_000);
// ---------- work ----------

const assertWorkScreen = (text: string, columns: number, rows: number, tasks: number, what: string) => assertWork(text, { columns, rows }, tasks, what);

function workState(ids: readonly string[]): WorkState {
  const events: WorkEvent[] = [
    { event: 'connected', ts: T0 },
    { event: 'answered', ts: T0 + 1_000 },
  ];
  ids.forEach((id, i) => {
    events.push(
      { event: 'started', ts: T0, task: id, pid: 10_000 + i },
      { event: 'output', ts: T0 + 1, task: id, stream: 'stdout', line: `epoch ${i} of ${ids.length}: loss 0.${i}` },
    );
  });
  let state = events.reduce(reduceWork, initialWorkState('http://taskctl.build.example.com:8080', ids, 'command', T0));
  state = reduceWork(state, { event: 'cancelled', ts: T0 + 2, task: ids[3]!, reason: LONG_REASON });
  state = reduceWork(state, { event: 'exited', ts: T0 + 3, task: ids[2]!, code: 3, signal: null });
  return state;
}

for (const { columns, rows } of SIZES) {
  test(`work at ${columns}x${rows}: ids of 1 to 64 characters, CJK, emoji and a 1,000-character reason`, () => {
    const what = `work ${columns}x${rows}`;
    const text = frameAt(<WorkScreen state={workState(IDS)} now={T0 + 65_000} columns={columns} rows={rows} />, columns, rows);
    const idCells = assertWorkScreen(text, columns, rows, IDS.length, what);
    for (const id of IDS)
      assert.ok(
        idCells.some((cell) => showsId(cell, id)),
        `${what}: ${id} not shown as itself or with its end:\n${text}`,
      );
    if (columns === 80)
      assert.ok(
        idCells.some((cell) => cell.includes('…')),
        `${what}: the 64-character id is shortened`,
      );
    const reasonRow = text.split('\n').find((line) => line.includes(tailOf(IDS[3]!)));
    assert.ok(reasonRow?.includes('reason: the') && reasonRow.endsWith('…'), `${what}: the long reason is cut on its row: ${reasonRow}`);
  });

  test(`work at ${columns}x${rows}: 10,000 tasks fill the screen, live ones first, the rest summed up`, () => {
    const ids = Array.from({ length: 10_000 }, (_, i) =>
      i % 7 === 0 ? IDS[i % IDS.length]! + `-${i}` : idOf(20 + (i % 45), `-${String(i).padStart(5, '0')}`),
    );
    let state = initialWorkState('http://127.0.0.1:8080', ids, 'command', T0);
    state = reduceWork(state, { event: 'connected', ts: T0 });
    state = { ...state, tasks: new Map([...state.tasks].map(([id, t], i) => [id, i < 9_000 ? { ...t, state: 'succeeded' as const, endedAt: T0 + 5 } : t])) };
    const what = `work ${columns}x${rows} with 10,000 tasks`;
    const text = frameAt(<WorkScreen state={state} now={T0 + 65_000} columns={columns} rows={rows} />, columns, rows);
    const idCells = assertWorkScreen(text, columns, rows, 10_000, what);
    assert.is(text.split('\n').length, rows - 1, `${what}: the screen is used, one row left for the cursor`);
    const shown = ids.slice(9_000, 9_000 + idCells.length);
    idCells.forEach((cell, i) => assert.ok(showsId(cell, shown[i]!), `${what}: row ${i} shows ${cell}, not ${shown[i]}`));
  });
}

test('work: the pid and then elapsed columns leave a narrow terminal before anything wraps', () => {
  const at = (columns: number) => frameAt(<WorkScreen state={workState(IDS)} now={T0 + 65_000} columns={columns} rows={24} />, columns, 24).split('\n')[3];
  assert.match(at(80)!, /^TASK +STATE +ELAPSED +PID +DETAIL$/);
  assert.match(at(62)!, /^TASK +STATE +ELAPSED +DETAIL$/);
  assert.match(at(50)!, /^TASK +STATE +DETAIL$/);
});

// ---------- serve ----------

const ADDRESS_THEN_STATE = { cancels: /10\.0\.0\.7|2001:/, changes: /lost|cancel_requested/ };

function assertServeScreen(text: string, columns: number, rows: number, what: string) {
  const lists = assertServe(text, { columns, rows }, ADDRESS_THEN_STATE, what);
  assert.ok(lists['cancels']!.length > 0 && lists['changes']!.length > 0 && lists['errors']!.length > 0, `${what}: every list shows a row`);
  return { cancels: lists['cancels']!, changes: lists['changes']! };
}

function serveActivity(cancels: number): ServeActivity {
  let now = T0;
  const activity = new ServeActivity({ url: 'http://127.0.0.1:8080', store: 'sqlite:/var/lib/taskctl/a-long-directory-name/taskctl.db' }, () => now);
  for (let i = 0; i < cancels; i++) {
    now += 1_000;
    const id = cancels > IDS.length ? `${IDS[i % IDS.length]}-${i}` : IDS[i]!;
    activity.cancelled(
      { id, reason: i % 3 === 0 ? LONG_REASON : 'operator asked', cancelledAt: now, expiresAt: now + 1 },
      { address: i % 2 ? '2001:db8:85a3::8a2e:370:7334' : '10.0.0.7' },
    );
    activity.taskChanged({
      id,
      state: i % 4 === 0 ? 'lost' : 'cancel_requested',
      since: now,
      worker: { id: 'w', host: 'gpu-node-3.cluster.example.com', pid: 4_000 + i },
      history: [],
    });
  }
  activity.failed(new Error(`disk I/O error: ${LONG_REASON}`), { method: 'POST', path: '/v1/tasks/x/cancel' });
  return activity;
}

for (const { columns, rows } of SIZES) {
  test(`serve at ${columns}x${rows}: long, CJK and emoji ids, long reasons and errors`, () => {
    const what = `serve ${columns}x${rows}`;
    const activity = serveActivity(IDS.length);
    const text = frameAt(
      <ServeScreen state={activity.state} openWatches={3} cancelsPerSecond={1.5} watchesPerSecond={12} now={T0 + 90_000} columns={columns} rows={rows} />,
      columns,
      rows,
    );
    const { cancels, changes } = assertServeScreen(text, columns, rows, what);
    // Newest first: the list shows the last ids given, as many as fit.
    const newest = [...IDS].reverse();
    cancels.forEach((cell, i) => assert.ok(showsId(cell, newest[i]!), `${what}: cancel row ${i} shows ${cell}, not ${newest[i]}`));
    changes.forEach((cell, i) => assert.ok(showsId(cell, newest[i]!), `${what}: task state row ${i} shows ${cell}, not ${newest[i]}`));
    if (rows >= 30) assert.is(cancels.length, IDS.length, `${what}: all six cancels shown`);
  });

  test(`serve at ${columns}x${rows}: after 10,000 cancels the lists still fit and count what they leave out`, () => {
    const what = `serve ${columns}x${rows}, 10,000 cancels`;
    const activity = serveActivity(10_000);
    const text = frameAt(
      <ServeScreen state={activity.state} openWatches={3} cancelsPerSecond={1.5} watchesPerSecond={12} now={T0 + 90_000} columns={columns} rows={rows} />,
      columns,
      rows,
    );
    const { cancels } = assertServeScreen(text, columns, rows, what);
    cancels.forEach((cell, i) => assert.ok(showsId(cell, activity.state.recentCancels[i]!.id), `${what}: row ${i} shows ${cell}`));
    if (cancels.length < 10) assert.match(text, `Recent cancels · ${10 - cancels.length} more not shown`);
  });
}

test('serve at 80 columns: the title, times and ids never run together or wrap', () => {
  const activity = serveActivity(IDS.length);
  const text = frameAt(
    <ServeScreen state={activity.state} openWatches={3} cancelsPerSecond={1.5} watchesPerSecond={12} now={T0 + 90_000} columns={80} rows={24} />,
    80,
    24,
  );
  const lines = text.split('\n');
  assert.is(lines[0], 'taskctl serve · http://127.0.0.1:8080 · up 1m30s · store sqlite:/…ame/taskctl.db');
  assert.is(lines[1], 'open watches 3 · cancels/s 1.5 · answered/s 12 · cancels 6 · tasks lost 0');
  for (const line of lines.filter((l) => /^\d\d:\d\d:\d\d /.test(l)))
    assert.match(line, /^\d\d:\d\d:\d\d {2}(\S(.*\S)? {2,}(10\.0\.0\.7|2001:|lost|cancel_requested)|POST )/, line);
});

// ---------- both ----------

test('under 40x10 each screen is one line saying the terminal is too small', () => {
  for (const [columns, rows] of [
    [39, 24],
    [80, 9],
    [20, 5],
    [1, 1],
  ] as const) {
    const screens = [
      <WorkScreen key="work" state={workState(IDS)} now={T0} columns={columns} rows={rows} />,
      <ServeScreen
        key="serve"
        state={serveActivity(3).state}
        openWatches={0}
        cancelsPerSecond={0}
        watchesPerSecond={0}
        now={T0}
        columns={columns}
        rows={rows}
      />,
    ];
    for (const screen of screens) {
      const text = frameAt(screen, columns, rows);
      assert.is(text.split('\n').length, 1, `${columns}x${rows}: ${text}`);
      assert.ok(inkStringWidth(text) <= columns, `${columns}x${rows}: ${text}`);
      if (columns >= 20) assert.match(text, /too small/);
    }
  }
  assert.is(frameAt(<WorkScreen state={workState(IDS)} now={T0} columns={39} rows={24} />, 39, 24), 'terminal too small: 39x24 · needs 40x10');
});

test('work follows resizes: the size comes from the terminal, and each resize redraws to fit', async () => {
  const store = new WorkStore(workState(IDS));
  const screen = renderAt(<WorkApp store={store} onQuit={() => {}} />, 120, 30);
  try {
    assertWorkScreen(screen.lastFrame(), 120, 30, IDS.length, 'work 120x30');
    for (const [columns, rows] of [
      [80, 24],
      [200, 50],
      [45, 12],
    ] as const) {
      screen.resize(columns, rows);
      await eventually(() => screen.lastFrame().split('\n')[3]!.length <= columns && screen.lastFrame().includes('TASK'), `a frame for ${columns}x${rows}`);
      assertWorkScreen(screen.lastFrame(), columns, rows, IDS.length, `work resized to ${columns}x${rows}`);
    }
    screen.resize(30, 8);
    await eventually(() => /too small/.test(screen.lastFrame()), 'the too-small notice');
    screen.resize(80, 24);
    await eventually(() => screen.lastFrame().startsWith('taskctl work'), 'the screen back');
    assertWorkScreen(screen.lastFrame(), 80, 24, IDS.length, 'work back at 80x24');
  } finally {
    screen.unmount();
  }
});

test('serve follows resizes too', async () => {
  const activity = serveActivity(IDS.length);
  const screen = renderAt(<ServeApp activity={activity} gauges={{ openWatches: () => 3 }} />, 200, 50);
  try {
    assert.match(screen.lastFrame(), /^taskctl serve · listening on/);
    screen.resize(80, 24);
    await eventually(() => !screen.lastFrame().includes('listening on'), 'a frame for 80 columns');
    assertServeScreen(screen.lastFrame(), 80, 24, 'serve resized to 80x24');
  } finally {
    screen.unmount();
  }
});

test.run();
