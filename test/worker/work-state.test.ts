import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initialWorkState, reduceWork, type WorkEvent, type WorkState, workExitCode } from '../../src/worker/work-state.ts';

const apply = (state: WorkState, ...events: WorkEvent[]) => events.reduce(reduceWork, state);
const states = (state: WorkState) => Object.fromEntries([...state.tasks.values()].map((t) => [t.id, t.state]));

test('watch-only: a cancel ends the task, with its reason', () => {
  const state = apply(initialWorkState('s', ['a', 'b'], 'watch', 0), { event: 'cancelled', ts: 5, task: 'a', reason: 'why' });
  assert.equal(states(state), { a: 'cancelled', b: 'watching' });
  assert.is(state.tasks.get('a')!.reason, 'why');
  assert.is(workExitCode(state), 0);
});

test('who cancelled is kept with the task, in watch and command mode alike', () => {
  const by = { name: 'ops', address: '10.0.0.7', route: 'v1' };
  const watched = apply(initialWorkState('s', ['a'], 'watch', 0), { event: 'cancelled', ts: 5, task: 'a', by });
  assert.is(watched.tasks.get('a')!.cancelledBy, 'ops');
  const run = apply(initialWorkState('s', ['a'], 'command', 0), { event: 'started', ts: 1, task: 'a', pid: 42 }, { event: 'cancelled', ts: 2, task: 'a', by });
  assert.is(run.tasks.get('a')!.cancelledBy, 'ops');
});

test('a refused token ends work with 4, an untrusted server with 5; every task is stopped either way', () => {
  for (const [kind, code] of [
    ['unauthorized', 4],
    ['untrusted', 5],
  ] as const) {
    const state = apply(initialWorkState('s', ['a', 'b'], 'watch', 0), { event: 'refused', ts: 1, error: 'no', kind });
    assert.equal(states(state), { a: 'stopped', b: 'stopped' });
    assert.is(workExitCode(state), code, kind);
  }
});

test('command mode: cancel -> cancelling -> cancelled when the command exits', () => {
  let state = apply(initialWorkState('s', ['a'], 'command', 0), { event: 'started', ts: 1, task: 'a', pid: 42 });
  state = apply(state, { event: 'cancelled', ts: 2, task: 'a' });
  assert.equal(states(state), { a: 'cancelling' });
  state = apply(state, { event: 'exited', ts: 3, task: 'a', code: null, signal: 'SIGTERM' });
  assert.equal(states(state), { a: 'cancelled' });
  assert.is(state.tasks.get('a')!.signal, 'SIGTERM');
  assert.is(workExitCode(state), 0);
});

test('command mode: exit codes decide succeeded and failed; failures beat timeouts in the exit code', () => {
  let state = initialWorkState('s', ['ok', 'bad', 'slow'], 'command', 0);
  state = apply(
    state,
    ...(['ok', 'bad', 'slow'] as const).map((task, i): WorkEvent => ({ event: 'started', ts: 0, task, pid: 40 + i })),
    { event: 'exited', ts: 1, task: 'ok', code: 0, signal: null },
    { event: 'timeout', ts: 2, task: 'slow', afterMs: 1 },
    { event: 'exited', ts: 3, task: 'slow', code: null, signal: 'SIGTERM' },
  );
  assert.equal(states(state), { ok: 'succeeded', bad: 'running', slow: 'timed_out' });
  assert.is(workExitCode(state), 124);
  state = apply(state, { event: 'exited', ts: 4, task: 'bad', code: 3, signal: null });
  assert.is(state.tasks.get('bad')!.state, 'failed');
  assert.is(workExitCode(state), 1);
});

test('a final state is never left, and a late cancel does not rewrite history', () => {
  let state = apply(initialWorkState('s', ['a'], 'command', 0), { event: 'exited', ts: 1, task: 'a', code: 0, signal: null });
  state = apply(state, { event: 'cancelled', ts: 2, task: 'a' });
  assert.equal(states(state), { a: 'succeeded' });
});

test('interrupted: watchers stop at once, commands go through cancelling, exit 130', () => {
  let state = apply(
    initialWorkState('s', ['a', 'b'], 'command', 0),
    { event: 'started', ts: 0, task: 'a', pid: 41 },
    { event: 'started', ts: 0, task: 'b', pid: 42 },
    { event: 'interrupted', ts: 1, signal: 'SIGINT' },
  );
  assert.equal(states(state), { a: 'cancelling', b: 'cancelling' });
  state = apply(state, { event: 'exited', ts: 2, task: 'a', code: null, signal: 'SIGTERM' }, { event: 'exited', ts: 2, task: 'b', code: 0, signal: null });
  assert.equal(states(state), { a: 'stopped', b: 'stopped' });
  assert.is(workExitCode(state), 130);
  const watch = apply(initialWorkState('s', ['a'], 'watch', 0), { event: 'interrupted', ts: 1, signal: 'SIGTERM' });
  assert.equal(states(watch), { a: 'stopped' });
});

test('command mode: a task cancelled before its command started ends cancelled, never running, and exits 0', () => {
  const state = apply(initialWorkState('s', ['a'], 'command', 0), { event: 'cancelled', ts: 1, task: 'a', reason: 'not today', notStarted: true });
  assert.equal(states(state), { a: 'cancelled' });
  assert.is(state.tasks.get('a')!.notStarted, true);
  assert.is(workExitCode(state), 0);
});

test('connection: connecting -> reconnecting (counting attempts, keeping when it went down) -> connected', () => {
  let state = initialWorkState('s', ['a'], 'watch', 0);
  assert.is(state.connection.state, 'connecting');
  state = apply(state, { event: 'connected', ts: 1 }, { event: 'answered', ts: 2 });
  state = apply(state, { event: 'disconnected', ts: 10, error: 'refused', attempt: 1, retryInMs: 250 });
  state = apply(state, { event: 'disconnected', ts: 20, error: 'refused', attempt: 2, retryInMs: 500 });
  assert.equal(
    { ...state.connection },
    { state: 'reconnecting', since: 10, downSince: 10, attempt: 2, lastError: 'refused', nextRetryAt: 520, lastAnswerAt: 2 },
  );
  state = apply(state, { event: 'reconnected', ts: 30 });
  assert.is(state.connection.state, 'connected');
  assert.is(state.connection.lastAnswerAt, 2);
});

test.run();
