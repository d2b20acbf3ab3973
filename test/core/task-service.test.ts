// The task service: one place for what a cancel triggers (asked now or fallen due), the parent rule of a
// watch's answer, and the one reading of a task; its changes reach subscribers as one stream of updates.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Canceler } from '../../src/core/canceler.ts';
import type { CancelSource } from '../../src/core/store.ts';
import { TaskService } from '../../src/core/task-service.ts';
import type { TaskUpdate } from '../../src/core/task-updates.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const alice: CancelSource = { name: 'alice', address: '10.0.0.1', route: 'v1' };
const planner: CancelSource = { name: 'planner', address: '10.0.0.2', route: 'scheduled' };
const worker = { id: 'w1', host: 'box', pid: 1 };
const linker = { name: 'ci', address: '10.0.0.3' };

function setup() {
  const clock = new FakeClock();
  const store = new MemoryStore();
  const canceler = new Canceler({ store, clock });
  const errors: unknown[] = [];
  const tasks = new TaskService({ store, canceler, clock, leaseMs: 60_000, onError: (e) => errors.push(e) });
  const updates: TaskUpdate[] = [];
  const unsubscribe = tasks.subscribe((update) => updates.push(update));
  const close = () => (unsubscribe(), tasks.close(), canceler.close());
  return { clock, store, canceler, tasks, updates, errors, close };
}

/** Lets every write the service started in the background land. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

const kinds = (updates: readonly TaskUpdate[]) =>
  updates.map((u) =>
    u.kind === 'state' ? `state:${u.status.id}:${u.status.state}` : `${u.kind}:${'record' in u ? u.record.id : 'schedule' in u ? u.schedule.id : ''}`,
  );

test('a cancel asked again is published as a repeat, with the first record, which stands', async () => {
  const { clock, tasks, updates, close } = setup();
  await tasks.cancel('again-1', alice, 'first');
  clock.advance(1_000);
  const second = await tasks.cancel('again-1', planner, 'second');
  assert.is(second.reason, 'first');
  const cancels = updates.filter((u) => u.kind === 'cancelled');
  assert.equal(
    cancels.map((u) => [u.record.reason, u.reason, u.repeat]),
    [
      ['first', 'first', undefined],
      ['first', 'second', true],
    ],
  );
  close();
});

test('a cancel asked for now and one that falls due trigger the same things, told as the same updates', async () => {
  const { clock, tasks, updates, errors, close } = setup();
  await tasks.watchStarted(['now', 'later'], worker);
  await tasks.cancel('now', alice, 'wrong input');
  await tasks.schedule('later', clock.now() + 1_000, 'deadline', planner);
  clock.advance(1_000);
  await settle();
  await tasks.scheduler.fireDue();
  await settle();
  assert.equal(errors, []);
  assert.equal(
    kinds(updates)
      .filter((k) => !k.endsWith(':watching'))
      .sort(),
    [
      'cancelled:later',
      'cancelled:now',
      'children_cancelled:later',
      'children_cancelled:now',
      'scheduled:later',
      'state:later:cancel_requested',
      'state:now:cancel_requested',
    ],
  );
  const cancelled = updates.filter((u) => u.kind === 'cancelled');
  assert.equal(
    cancelled.map((u) => [u.record.id, u.by.name, u.reason]),
    [
      ['now', 'alice', 'wrong input'],
      ['later', 'planner', 'deadline'],
    ],
  );
  for (const id of ['now', 'later']) {
    const view = await tasks.task(id, 10);
    assert.is(view.status?.state, 'cancel_requested', `${id}: the status follows the record`);
    assert.is(view.status?.cancelledBy?.name, id === 'now' ? 'alice' : 'planner', `${id}: as cancelled by its asker`);
  }
  close();
});

test('a cancel reaches the children, and the walk is told once it is done', async () => {
  const { tasks, updates, errors, close } = setup();
  await tasks.link(['step-1', 'step-2'], ['job']);
  await tasks.watchStarted(['step-1', 'step-2'], worker);
  await tasks.cancel('job', alice);
  await settle();
  assert.equal(errors, []);
  const walked = updates.find((u) => u.kind === 'children_cancelled');
  assert.ok(walked && walked.kind === 'children_cancelled' && walked.marked === 2, 'both children marked');
  const { statuses } = await tasks.children('job', undefined, 10);
  assert.equal(
    statuses.map((s) => [s.id, s.state, s.cancelReason]),
    [
      ['step-1', 'cancel_requested', 'parent job cancelled'],
      ['step-2', 'cancel_requested', 'parent job cancelled'],
    ],
  );
  close();
});

test('the parent rule: a watch answered through an ancestor cancelled before it marks the ids; one woken by the cancel does not', async () => {
  const { canceler, tasks, updates, close } = setup();
  await tasks.cancel('job', alice);
  await tasks.link(['late'], ['job']);
  const found = await canceler.lookUp(['late'], ['job']);
  tasks.watchAnswered(['late'], found, linker);
  // A wait woken by the cancel as it arrived: the cancel's own walk reaches its ids.
  tasks.watchAnswered(['woken'], { cancelled: [], parent: found.parent!, cancelArrivedAt: 1 }, linker);
  await settle();
  const stopped = updates.filter((u) => u.kind === 'stopped_through_parent');
  assert.equal(
    stopped.map((u) => (u.kind === 'stopped_through_parent' ? [u.ids, u.parent.id, u.linkedBy.name] : [])),
    [[['late'], 'job', 'ci']],
  );
  assert.is((await tasks.task('late', 0)).status?.state, 'cancel_requested');
  assert.is((await tasks.task('woken', 0)).status, undefined, 'nothing written for the woken watch here');
  close();
});

test('every reading agrees: a lost task cancelled since reads cancel_requested alike in one task, a listing and a page of children', async () => {
  const { clock, canceler, tasks, close } = setup();
  await tasks.link(['gone'], ['job']);
  await tasks.watchStarted(['gone'], worker);
  tasks.watchEnded(['gone']);
  clock.advance(61_000);
  await tasks.tracker.sweep();
  assert.is((await tasks.tracker.statuses(['gone']))[0]?.state, 'lost');
  // Recorded straight in the canceler, as another server sharing the store would, whose status write is not here yet.
  await canceler.cancel('gone', { by: alice });
  assert.is((await tasks.task('gone', 0)).status?.state, 'cancel_requested', 'one task');
  assert.equal(
    (await tasks.list({ limit: 10 })).statuses.map((s) => s.state),
    ['cancel_requested'],
    'a listing',
  );
  assert.equal((await tasks.list({ limit: 10, state: 'lost' })).statuses, [], 'a listing of lost tasks does not show it');
  assert.equal(
    (await tasks.children('job', undefined, 10)).statuses.map((s) => s.state),
    ['cancel_requested'],
    'a page of children',
  );
  // Its silence was counted once: a lease later the sweep does not make it lost a second time.
  await tasks.tracker.cancelRequested('gone', alice);
  clock.advance(61_000);
  await tasks.tracker.sweep();
  const [after] = await tasks.tracker.statuses(['gone']);
  assert.is(after?.state, 'cancel_requested');
  assert.equal(
    after?.history.map((h) => h.state),
    ['watching', 'lost', 'cancel_requested'],
  );
  close();
});

test("an event's snapshot: the record just written (kept at hand, or the store's), and only the parts wanted", async () => {
  const { store, tasks, errors, close } = setup();
  await tasks.watchStarted(['kept', 'stored'], worker);
  const record = await tasks.cancel('kept', alice, 'wrong input');
  // Written past the canceler (as another server sharing the store would): only the store has it.
  const other = await store.insert({ id: 'stored', cancelledAt: 1, expiresAt: Number.MAX_SAFE_INTEGER }, 1);
  await settle();
  const [kept] = await tasks.snapshot(['kept'], { record: true, status: false, schedule: true });
  assert.equal(kept, { id: 'kept', record });
  const both = await tasks.snapshot(['kept', 'stored'], { record: true, status: false, schedule: false });
  assert.equal(both, [
    { id: 'kept', record },
    { id: 'stored', record: other },
  ]);
  const [all] = await tasks.snapshot(['kept']);
  assert.is(all!.status!.state, 'cancel_requested', 'every part when none is named');
  assert.equal(errors, []);
  close();
});

test('an update a subscriber throws on reaches the others, and the error is reported', async () => {
  const { tasks, updates, errors, close } = setup();
  const unsubscribe = tasks.subscribe(() => {
    throw new Error('a broken subscriber');
  });
  await tasks.cancel('t', alice);
  unsubscribe();
  await tasks.cancel('u', alice);
  assert.equal(
    updates.filter((u) => u.kind === 'cancelled').map((u) => (u.kind === 'cancelled' ? u.record.id : '')),
    ['t', 'u'],
  );
  assert.is(errors.length, 1, 'reported once: the unsubscribed one no longer hears');
  close();
});

test.run();
