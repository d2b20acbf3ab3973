import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { coalesced } from '../../src/core/coalesce.ts';

test('never two runs at once; callers during a run share the next run, which starts after it', async () => {
  const started: number[] = [];
  let release!: () => void;
  let running = 0;
  let most = 0;
  const run = coalesced(async () => {
    running++;
    most = Math.max(most, running);
    started.push(started.length);
    await new Promise<void>((resolve) => (release = resolve));
    running--;
    return started.length;
  });
  const first = run();
  const second = run();
  const third = run();
  assert.is(second, third, 'the callers during the run share one next run');
  assert.equal(started, [0], 'the next run waits for the current one');
  release();
  assert.is(await first, 1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(started, [0, 1]);
  release();
  assert.is(await second, 2);
  assert.is(most, 1);
  const fourth = run();
  release();
  assert.is(await fourth, 3, 'idle again: a call starts a run at once');
});

test('a failed run does not stop the next one', async () => {
  let calls = 0;
  const run = coalesced(async () => {
    calls++;
    await new Promise((resolve) => setImmediate(resolve));
    if (calls === 1) throw new Error('first fails');
    return calls;
  });
  const first = run();
  const second = run();
  await first.then(
    () => assert.unreachable(),
    (error: Error) => assert.is(error.message, 'first fails'),
  );
  assert.is(await second, 2);
});

test.run();
