import { render } from 'ink-testing-library';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WorkScreen } from '../../src/ui/work-screen.tsx';
import { initialWorkState, reduceWork, type WorkEvent, type WorkState } from '../../src/worker/work-state.ts';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const apply = (state: WorkState, ...events: WorkEvent[]) => events.reduce(reduceWork, state);
const frame = (state: WorkState, now = T0 + 65_000, rows = 30) => {
  // ink-testing-library's terminal is 100 columns wide.
  const { lastFrame, unmount } = render(<WorkScreen state={state} now={now} columns={100} rows={rows} />);
  const text = lastFrame() ?? '';
  unmount();
  return text;
};
const rowOf = (text: string, id: string) => text.split('\n').find((line) => line.startsWith(id)) ?? '';

test('watch mode: header with server and connection, one row per task', () => {
  const state = apply(
    initialWorkState('http://srv:8080', ['1234', '5678'], 'watch', T0),
    { event: 'connected', ts: T0 + 1 },
    { event: 'answered', ts: T0 + 60_000 },
  );
  const text = frame(state);
  assert.match(text, 'taskctl work · http://srv:8080 · ● connected · last answer 5s ago');
  assert.match(text, '2 watching');
  assert.match(rowOf(text, '1234'), /^1234\s+watching\s+1m05s/);
  assert.match(rowOf(text, '5678'), /watching/);
  assert.match(text, 'q quit · Ctrl-C same');
  assert.not.match(text, 'PID', 'no pid column without commands');
  assert.match(text, 'watching 2 tasks over one connection');
  // Many tasks make a watch session, polled twice at once.
  const many = Array.from({ length: 300 }, (_, i) => `m${i}`);
  assert.match(
    frame(apply(initialWorkState('http://srv:8080', many, 'watch', T0), { event: 'connected', ts: T0 + 1 })),
    'watching 300 tasks over two connections',
  );
});

test('"watching" means what the server means: the tasks still watched, a running command\'s among them; an ended one is not', () => {
  let state = apply(initialWorkState('s', ['a', 'b', 'c'], 'command', T0), { event: 'connected', ts: T0 + 1 });
  assert.match(frame(state), 'watching 3 tasks over one connection');
  assert.match(frame(state), /^3 watching$/m, 'before the server answered, no command runs yet');
  state = apply(
    state,
    { event: 'started', ts: T0 + 2, task: 'a', pid: 11 },
    { event: 'started', ts: T0 + 2, task: 'b', pid: 12 },
    { event: 'started', ts: T0 + 2, task: 'c', pid: 13 },
    { event: 'cancelled', ts: T0 + 3, task: 'c', reason: 'superseded' },
    { event: 'exited', ts: T0 + 4, task: 'c', code: null, signal: 'SIGTERM' },
  );
  const text = frame(state);
  assert.match(text, 'watching 2 of 3 tasks over one connection', 'the cancelled task is no longer watched');
  assert.match(text, /^2 running · 1 cancelled$/m);
  assert.match(rowOf(text, 'a'), /^a\s+running\s/);
  const watchOnly = apply(initialWorkState('s', ['x', 'y'], 'watch', T0), { event: 'cancelled', ts: T0 + 1, task: 'x' });
  assert.match(frame(watchOnly), 'watching 1 of 2 tasks over one connection');
  assert.match(frame(watchOnly), /^1 cancelled · 1 watching$/m);
});

test('every task state reads as a word, with its detail', () => {
  const ids = ['w', 'run', 'stopping', 'cxl', 'slow', 'ok', 'bad', 'sig', 'gone'];
  let state = initialWorkState('s', ids, 'command', T0);
  // Every command started but w's (its task still waits for the server's word).
  state = apply(state, ...ids.filter((id) => id !== 'w' && id !== 'run').map((task, i): WorkEvent => ({ event: 'started', ts: T0, task, pid: 100 + i })));
  state = apply(
    state,
    { event: 'started', ts: T0, task: 'run', pid: 4242 },
    { event: 'output', ts: T0 + 1, task: 'run', stream: 'stdout', line: 'epoch 3/10' },
    { event: 'cancelled', ts: T0 + 2, task: 'stopping', reason: 'operator' },
    { event: 'cancelled', ts: T0 + 2, task: 'cxl', reason: 'wrong dataset', by: { name: 'ops', address: '10.0.0.7', route: 'v1' } },
    { event: 'exited', ts: T0 + 3, task: 'cxl', code: null, signal: 'SIGTERM' },
    { event: 'timeout', ts: T0 + 4, task: 'slow', afterMs: 4 },
    { event: 'exited', ts: T0 + 5, task: 'slow', code: null, signal: 'SIGTERM' },
    { event: 'exited', ts: T0 + 6, task: 'ok', code: 0, signal: null },
    { event: 'exited', ts: T0 + 7, task: 'bad', code: 3, signal: null },
    { event: 'exited', ts: T0 + 8, task: 'sig', code: null, signal: 'SIGSEGV' },
  );
  state = apply(
    state,
    { event: 'interrupted', ts: T0 + 9, signal: 'SIGINT' },
    { event: 'killing', ts: T0 + 9, task: 'run', signal: 'SIGTERM', graceMs: 120_000 },
  );
  state = apply(state, { event: 'exited', ts: T0 + 10, task: 'gone', code: 0, signal: null });
  const text = frame(state);
  assert.match(rowOf(text, 'run'), /cancelling.*4242.*stopping… SIGKILL in 55s/);
  assert.match(rowOf(text, 'stopping'), /cancelling.*reason: operator · stopping…/);
  assert.match(rowOf(text, 'cxl'), /cancelled.*reason: wrong dataset · by ops/);
  assert.match(rowOf(text, 'slow'), /timed out/);
  assert.match(rowOf(text, 'ok'), /exited 0/);
  assert.match(rowOf(text, 'bad'), /failed.*exit code 3/);
  assert.match(rowOf(text, 'sig'), /failed.*killed by SIGSEGV/);
  assert.match(rowOf(text, 'gone'), /stopped/);
  assert.match(rowOf(text, 'w'), /stopped/);
  assert.match(text, 'PID');
});

test('a running task shows its pid and last line of output', () => {
  const state = apply(
    initialWorkState('s', ['train'], 'command', T0),
    { event: 'started', ts: T0, task: 'train', pid: 777 },
    { event: 'output', ts: T0 + 1, task: 'train', stream: 'stdout', line: 'loss=0.12' },
  );
  assert.match(rowOf(frame(state), 'train'), /^train\s+running\s+1m05s\s+777\s+loss=0\.12/);
});

test('the connection line: connecting, then reconnecting with attempt, next try and since when', () => {
  const base = initialWorkState('http://srv', ['a'], 'watch', T0);
  assert.match(frame(base), '◌ connecting');
  const down = apply(
    base,
    { event: 'connected', ts: T0 },
    { event: 'disconnected', ts: T0 + 10_000, error: 'cannot reach http://srv: connection refused', attempt: 3, retryInMs: 4_000 },
  );
  const text = frame(down, T0 + 11_000);
  assert.match(text, /○ reconnecting \(attempt 3, next try in 3s\) · unreachable since \d\d:\d\d:\d\d/);
  assert.match(text, 'cannot reach http://srv: connection refused');
});

test('hundreds of tasks fit the terminal: live ones first, the rest summed up', () => {
  const ids = Array.from({ length: 500 }, (_, i) => `t${i}`);
  let state = initialWorkState('s', ids, 'watch', T0);
  for (let i = 0; i < 400; i++) state = reduceWork(state, { event: 'cancelled', ts: T0, task: `t${i}` });
  const text = frame(state, T0, 30);
  const lines = text.split('\n');
  assert.ok(lines.length <= 30, `${lines.length} lines`);
  assert.match(text, '400 cancelled · 100 watching');
  assert.match(text, /… 4\d\d more not shown/);
  assert.match(rowOf(text, 't400'), /watching/, 'live tasks come first');
});

test('when done the key hints give way to the exit code', () => {
  const state = apply(initialWorkState('s', ['a'], 'watch', T0), { event: 'cancelled', ts: T0, task: 'a' }, { event: 'done', ts: T0, exitCode: 0 });
  assert.match(frame(state), 'done · exit code 0');
});

test.run();
