// The tracker's order of changes per task when cancels are written in batches: what a worker reports
// right after hearing its cancel never overtakes the cancel_requested it answers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TaskTracker } from '../../src/core/task-tracker.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const alice = { name: 'alice', address: '10.0.0.1', route: 'v1' as const };
const bob = { name: 'bob', address: '10.0.0.2', route: 'v1' as const };
const worker = { id: 'w1', host: 'box', pid: 1 };

test('a report in the same turn as its cancel comes after it, also past the first step of a big batch', async () => {
  const store = new MemoryStore();
  const errors: unknown[] = [];
  const tracker = new TaskTracker({ store, clock: new FakeClock(), leaseMs: 60_000, onError: (e) => errors.push(e) });
  // 600 ids: more than one step of a change (500), as a busy group commit may answer at once.
  const ids = Array.from({ length: 600 }, (_, i) => `t${i}`);
  await tracker.watchStarted(ids, worker);
  const written = ids.map((id) => tracker.cancelRequested(id, alice));
  tracker.cancelRequested('t5', bob);
  // The workers hear their cancels and report at once, before the batch is written.
  const reports = ['t5', 't550'].map((id) => tracker.reported(id, { outcome: 'cancelled', signal: 'SIGTERM', worker }));
  await Promise.all([...written, ...reports]);
  assert.equal(errors, []);
  for (const id of ['t5', 't550']) {
    const [status] = await store.loadStatuses([id]);
    assert.equal(
      status!.history.map((h) => h.state),
      ['watching', 'cancel_requested', 'cancelled'],
      id,
    );
    assert.is(status!.cancelledBy?.name, 'alice', `${id}: the first asker is kept through the report`);
  }
  const [other] = await store.loadStatuses(['t599']);
  assert.is(other!.state, 'cancel_requested');
  tracker.close();
});

test("a report says only its own of how the command ended: a watch-only worker's stop after another's failure carries no exit code", async () => {
  const store = new MemoryStore();
  const tracker = new TaskTracker({ store, clock: new FakeClock(), leaseMs: 60_000 });
  await tracker.watchStarted(['mix-1'], worker);
  await tracker.reported('mix-1', { outcome: 'failed', exitCode: 3, signal: null, worker });
  const stopped = await tracker.reported('mix-1', { outcome: 'stopped', stoppedBy: 'SIGTERM', worker: { id: 'w2', host: 'box', pid: 2 } });
  assert.equal([stopped.state, stopped.stoppedBy, stopped.exitCode, stopped.signal], ['stopped', 'SIGTERM', undefined, undefined]);
  const [stored] = await store.loadStatuses(['mix-1']);
  assert.equal([stored!.state, stored!.exitCode, stored!.signal], ['stopped', undefined, undefined]);
  tracker.close();
});

test('a batch whose write fails reports it once, and later changes to its ids still run', async () => {
  const store = new MemoryStore();
  const errors: unknown[] = [];
  const tracker = new TaskTracker({ store, clock: new FakeClock(), leaseMs: 60_000, onError: (e) => errors.push(e) });
  await tracker.watchStarted(['a', 'b', 'c'], worker);
  const save = store.updateStatuses.bind(store);
  store.updateStatuses = () => Promise.reject(new Error('disk full'));
  await Promise.all(['a', 'b', 'c'].map((id) => tracker.cancelRequested(id, alice)));
  assert.is(errors.length, 1, 'one failure for the whole batch');
  assert.match(String(errors[0]), 'disk full');
  store.updateStatuses = save;
  await tracker.cancelRequested('a', alice);
  const [a] = await store.loadStatuses(['a']);
  assert.is(a!.state, 'cancel_requested', 'the next cancel of the same id is written');
  tracker.close();
});

test('a watch answered as it came writes the first time only; a re-poll after that only moves last-seen', async () => {
  const store = new MemoryStore();
  const clock = new FakeClock();
  const errors: unknown[] = [];
  const tracker = new TaskTracker({ store, clock, leaseMs: 60_000, onError: (e) => errors.push(e) });
  await tracker.watchStarted(['t1'], worker);
  tracker.watchEnded(['t1']);
  await tracker.cancelRequested('t1', alice);
  // The worker's first poll after the cancel: the status is looked up (the cancel made it news).
  const first = tracker.watchAnsweredAtOnce(['t1'], worker);
  assert.instance(first, Promise);
  await first;
  clock.advance(5_000);
  const loads = store.loadStatuses.bind(store);
  let looked = 0;
  store.loadStatuses = (ids) => {
    looked++;
    return loads(ids);
  };
  // The seed worker's loop: it asks again and again, and each time hears "true" at once.
  for (let i = 0; i < 3; i++) assert.is(tracker.watchAnsweredAtOnce(['t1'], worker), undefined, 'nothing to write, no promise');
  assert.is(looked, 0, 'a re-poll reads nothing from the store');
  store.loadStatuses = loads;
  await tracker.sweep();
  const [status] = await store.loadStatuses(['t1']);
  assert.is(status!.state, 'cancel_requested');
  assert.is(status!.lastSeenAt, clock.now(), 'the sweep wrote the last re-poll as last seen');
  assert.equal(errors, []);
  tracker.close();
});

test.run();
