// Parent tasks in the core: ancestors resolved through stored links (bounded, cached, cycles refused), waits
// that an ancestor's cancel answers, and a cancel that walks down to every known descendant in steps.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Canceler, recordViaParent } from '../../src/core/canceler.ts';
import { InvalidParentsError, MAX_ANCESTORS, MAX_PARENT_DEPTH, TaskFamily } from '../../src/core/task-family.ts';
import { TaskTracker } from '../../src/core/task-tracker.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { rejects } from '../helpers/rejects.ts';
import { eventually } from '../helpers/server.ts';

function setup() {
  const clock = new FakeClock();
  const store = new MemoryStore();
  const canceler = new Canceler({ store, clock });
  const tracker = new TaskTracker({ store, clock, leaseMs: 60_000 });
  const cascades: Array<{ id: string; marked: number }> = [];
  const errors: unknown[] = [];
  const family = new TaskFamily({
    store,
    canceler,
    tracker,
    clock,
    onError: (e) => errors.push(e),
    onCascaded: (record, marked) => cascades.push({ id: record.id, marked }),
  });
  const close = () => (canceler.close(), tracker.close());
  return { clock, store, canceler, tracker, family, cascades, errors, close };
}

const worker = { id: 'w1', host: 'box', pid: 1 };

test('ancestors come nearest first, each once, through the links the store holds', async () => {
  const { store, family, close } = setup();
  // A diamond: step-1 and step-2 both have job-42 above them.
  await store.saveParents([
    { child: 'step-1', parents: ['job-42'] },
    { child: 'step-2', parents: ['job-42'] },
    { child: 'job-42', parents: ['nightly'] },
  ]);
  assert.equal(await family.ancestorsFor(['sub'], ['step-1', 'step-2']), ['step-1', 'step-2', 'job-42', 'nightly']);
  assert.equal(await family.ancestorsFor(['a', 'b'], ['unknown-parent']), ['unknown-parent'], 'a parent nobody declared anything for is an ancestor too');
  close();
});

test('a cycle is refused: a task its own parent, or its own ancestor through the stored links', async () => {
  const { store, family, close } = setup();
  await rejects(family.ancestorsFor(['a'], ['a']), (e) => e instanceof InvalidParentsError && /"a" cannot be its own parent/.test(e.message));
  await store.saveParents([
    { child: 'b', parents: ['c'] },
    { child: 'c', parents: ['a'] },
  ]);
  await rejects(
    family.ancestorsFor(['x', 'a'], ['b']),
    (e) => e instanceof InvalidParentsError && /a cycle: "a" would be its own ancestor \(it is a parent of "c"\)/.test(e.message),
  );
  // A cycle already in the store (two servers linking at once) does not loop, nor fail others.
  await store.saveParents([
    { child: 'p', parents: ['q'] },
    { child: 'q', parents: ['p'] },
  ]);
  assert.equal(await family.ancestorsFor(['other'], ['p']), ['p', 'q']);
  close();
});

test(`ancestors may nest ${MAX_PARENT_DEPTH} levels deep, not more, and number at most ${MAX_ANCESTORS}`, async () => {
  const { store, family, close } = setup();
  // level-1 has level-2 as its parent, and so on: a task with parent level-1 has level-N N levels up.
  await store.saveParents(Array.from({ length: 9 }, (_, i) => ({ child: `level-${i + 1}`, parents: [`level-${i + 2}`] })));
  assert.is((await family.ancestorsFor(['deep'], ['level-3'])).length, 8, 'level-3 .. level-10: 8 levels');
  await rejects(
    family.ancestorsFor(['deeper'], ['level-2']),
    (e) => e instanceof InvalidParentsError && /more than 8 levels deep \("level-10" is an ancestor 9 levels up\)/.test(e.message),
  );
  const wide = Array.from({ length: 8 }, (_, i) => ({ child: `wide-${i}`, parents: Array.from({ length: 8 }, (_, j) => `above-${i}-${j}`) }));
  await store.saveParents(wide);
  await rejects(
    family.ancestorsFor(
      ['many'],
      wide.map((w) => w.child),
    ),
    (e) => e instanceof InvalidParentsError && new RegExp(`more than ${MAX_ANCESTORS} ancestors`).test(e.message),
  );
  close();
});

test('looked-up parents are cached for a few seconds; links this server records are known at once', async () => {
  const { clock, store, family, close } = setup();
  assert.equal(await family.ancestorsFor(['c'], ['p']), ['p']);
  // Another server links p under g: not seen while the cached answer is fresh, seen once it is not.
  await store.saveParents([{ child: 'p', parents: ['g'] }]);
  assert.equal(await family.ancestorsFor(['c'], ['p']), ['p']);
  clock.advance(5_001);
  assert.equal(await family.ancestorsFor(['c'], ['p']), ['p', 'g']);
  // Linked through this server: the cached answer changes with it.
  await family.link(['p'], ['h']);
  assert.equal(await family.ancestorsFor(['c'], ['p']), ['p', 'h']);
  assert.equal(await family.parentsOf('p'), ['h']);
  close();
});

test("an ancestor's cancel answers a wait with the ancestor's record, which stops every id; an id's own cancel keeps its own", async () => {
  const { canceler, close } = setup();
  const wait = canceler.wait(['step-1', 'step-2', 'step-3'], new AbortController().signal, ['job-42', 'nightly']);
  await Promise.resolve();
  assert.equal(canceler.stats(), { openWaits: 1, watchedIds: 5 });
  const ancestor = await canceler.cancel('nightly', { reason: 'freeze' });
  const result = await wait;
  assert.equal(result.parent, ancestor);
  assert.equal(result.cancelled, [], 'none cancelled itself');
  assert.ok(result.cancelArrivedAt !== undefined, 'woken by the cancel');
  assert.equal(recordViaParent('step-1', ancestor), {
    id: 'step-1',
    reason: 'parent nightly cancelled',
    parent: 'nightly',
    cancelledAt: ancestor.cancelledAt,
    expiresAt: ancestor.expiresAt,
  });
  assert.equal(canceler.stats(), { openWaits: 0, watchedIds: 0 }, 'nothing left behind');

  // Already cancelled before the wait: answered at once, the nearest cancelled ancestor named, own records kept.
  await canceler.cancel('job-42');
  await canceler.cancel('step-2', { reason: 'its own' });
  const late = await canceler.wait(['step-1', 'step-2'], new AbortController().signal, ['job-42', 'nightly']);
  assert.is(late.cancelArrivedAt, undefined);
  assert.is(late.parent!.id, 'job-42', 'the nearest cancelled ancestor');
  assert.equal(
    late.cancelled.map((r) => [r.id, r.reason]),
    [['step-2', 'its own']],
  );
  close();
});

test('N ids, or N waits, under one parent cost one more waited id, not N', async () => {
  const { canceler, close } = setup();
  const ids = Array.from({ length: 1_000 }, (_, i) => `child-${i}`);
  const big = new AbortController();
  const bigWait = canceler.wait(ids, big.signal, ['job']);
  assert.equal(canceler.stats(), { openWaits: 1, watchedIds: 1_001 });
  big.abort();
  await bigWait;
  const stops = Array.from({ length: 10 }, () => new AbortController());
  const waits = stops.map((stop, i) => canceler.wait([`solo-${i}`], stop.signal, ['job']));
  // Per-id registrations: ten ids, and the shared parent once.
  assert.equal(canceler.stats(), { openWaits: 10, watchedIds: 11 });
  await canceler.cancel('job');
  assert.ok((await Promise.all(waits)).every((r) => r.cancelled.length === 0 && r.parent?.id === 'job'));
  assert.equal(canceler.stats(), { openWaits: 0, watchedIds: 0 });
  close();
});

test('a cancel marks every known descendant cancel_requested, in steps, and gives those that are parents a record of their own', async () => {
  const { canceler, tracker, family, store, cascades, errors, close } = setup();
  const children = Array.from({ length: 1_200 }, (_, i) => `c${String(i).padStart(4, '0')}`);
  await tracker.watchStarted(children, worker);
  await tracker.linkParents(children, ['job']);
  await tracker.reported('c0003', { outcome: 'succeeded', exitCode: 0 });
  // c0007 is a parent itself: its child sub-1 waits knowing only c0007 (its link to job came later).
  await tracker.watchStarted(['sub-1'], worker);
  await tracker.linkParents(['sub-1'], ['c0007']);
  const subWait = canceler.wait(['sub-1'], new AbortController().signal, ['c0007']);

  let turnsTaken = 0;
  const countTurns = () => {
    turnsTaken++;
    if (cascades.length === 0) setImmediate(countTurns);
  };
  setImmediate(countTurns);
  family.cancelled(await canceler.cancel('job', { reason: 'wrong data' }));
  family.cancelled(await canceler.cancel('job'));
  const sub = await subWait;
  await eventually(() => cascades.length > 0, 'the cascade to be told');
  assert.equal(errors, []);
  assert.equal(cascades, [{ id: 'job', marked: 1_201 }], 'one walk for two cancels of the same id: 1,200 children and a grandchild');
  assert.ok(turnsTaken > 3, `other work ran between the steps (${turnsTaken} turns)`);

  const statuses = new Map((await store.loadStatuses([...children, 'sub-1'])).map((s) => [s.id, s]));
  assert.is(statuses.get('c0003')!.state, 'succeeded', 'an ended child stays as it ended');
  const marked = [...statuses.values()].filter((s) => s.state === 'cancel_requested');
  assert.is(marked.length, 1_200);
  assert.ok(marked.every((s) => s.cancelReason === 'parent job cancelled'));
  assert.equal([...new Set(marked.map((s) => s.history.map((h) => h.state).join('>')))], ['watching>cancel_requested']);

  const [record] = await canceler.find(['c0007']);
  assert.is(record?.reason, 'parent job cancelled', 'the child that is a parent has a cancel of its own');
  assert.is(sub.parent?.id, 'c0007', 'which woke the grandchild that did not know job');
  assert.equal(await canceler.find(['c0001']), [], 'children that are not parents get no record: their waits name job');
  close();
});

test('cancels made in one turn (one group commit) are marked, and looked at for children, together', async () => {
  const { canceler, tracker, family, store, cascades, errors, close } = setup();
  await tracker.watchStarted(['a', 'b', 'kid'], worker);
  await tracker.linkParents(['kid'], ['b']);
  const lookUps: string[][] = [];
  const parentsAmong = store.parentsAmong.bind(store);
  store.parentsAmong = (ids) => (lookUps.push([...ids]), parentsAmong(ids));
  const alice = { name: 'alice', address: '10.0.0.1', route: 'v1' as const };
  const bob = { name: 'bob', address: '10.0.0.2', route: 'v1' as const };
  // As the routes do once a group commit answers: each cancel's status and children, in one turn.
  const records = await Promise.all(['a', 'b'].map((id) => canceler.cancel(id, { by: alice })));
  const written = [tracker.cancelRequested('a', alice), tracker.cancelRequested('b', alice), tracker.cancelRequested('a', bob)];
  for (const record of records) family.cancelled(record);
  await Promise.all(written);
  await eventually(() => cascades.length >= 2, 'both cascades to be told');
  assert.equal(errors, []);
  assert.equal(
    cascades.sort((x, y) => x.id.localeCompare(y.id)),
    [
      { id: 'a', marked: 0 },
      { id: 'b', marked: 1 },
    ],
  );
  assert.equal(lookUps, [['a', 'b'], ['kid']], "one look-up told which of the cancels have children, then one which of b's children do");
  const statuses = new Map((await store.loadStatuses(['a', 'b', 'kid'])).map((s) => [s.id, s]));
  assert.is(statuses.get('a')!.state, 'cancel_requested');
  assert.is(statuses.get('a')!.cancelledBy?.name, 'alice', 'the first asker is the one recorded');
  assert.is(statuses.get('b')!.state, 'cancel_requested');
  assert.is(statuses.get('kid')!.cancelReason, 'parent b cancelled');
  close();
});

test('an observer that throws is reported, and the cancel can walk again later', async () => {
  const clock = new FakeClock();
  const store = new MemoryStore();
  const canceler = new Canceler({ store, clock });
  const tracker = new TaskTracker({ store, clock, leaseMs: 60_000 });
  const errors: unknown[] = [];
  let told = 0;
  const family = new TaskFamily({
    store,
    canceler,
    tracker,
    clock,
    onError: (e) => errors.push(e),
    onCascaded: () => {
      told++;
      throw new Error('observer broke');
    },
  });
  const record = await canceler.cancel('lonely');
  family.cancelled(record);
  await eventually(() => told >= 1, 'the first cascade to be told');
  family.cancelled(record);
  await eventually(() => told >= 2, 'the second cascade to be told');
  assert.is(errors.length, 2);
  assert.match(String(errors[0]), 'observer broke');
  canceler.close();
  tracker.close();
});

test('children that start after the cancel are marked as the walk would have, and a parent among them cancels its own', async () => {
  const { canceler, tracker, family, store, cascades, close } = setup();
  const record = await canceler.cancel('job');
  await tracker.watchStarted(['late-1', 'late-2'], worker);
  await tracker.linkParents(['late-1', 'late-2'], ['job']);
  await tracker.linkParents(['below-late-2'], ['late-2']);
  family.stoppedByParent(['late-1', 'late-2'], record);
  await eventually(() => cascades.length > 0, 'the cascade to be told');
  assert.equal(
    (await store.loadStatuses(['late-1', 'late-2'])).map((s) => [s.state, s.cancelReason]),
    [
      ['cancel_requested', 'parent job cancelled'],
      ['cancel_requested', 'parent job cancelled'],
    ],
  );
  assert.is((await canceler.find(['late-2']))[0]?.reason, 'parent job cancelled');
  assert.equal(cascades, [{ id: 'late-2', marked: 1 }]);
  close();
});

test.run();
