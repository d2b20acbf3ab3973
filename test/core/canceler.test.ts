import { getEventListeners } from 'node:events';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Canceler, RELOOK_FIRST_MS, RELOOK_MOST_MS } from '../../src/core/canceler.ts';
import type { CancelRecord, CancelStore } from '../../src/core/store.ts';
import { InvalidInputError } from '../../src/core/task-id.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { rejects } from '../helpers/rejects.ts';

function setup(ttlMs = 60_000) {
  const clock = new FakeClock();
  const store = new MemoryStore();
  const canceler = new Canceler({ store, clock, ttlMs, sweepIntervalMs: 1_000 });
  return { clock, store, canceler };
}

const ids = (result: { cancelled: readonly CancelRecord[] }) => result.cancelled.map((r) => r.id).sort();

test('a wait that starts after the cancel answers at once', async () => {
  const { canceler } = setup();
  await canceler.cancel('1234', { reason: 'user asked' });
  const result = await canceler.wait(['1234'], new AbortController().signal);
  assert.equal(ids(result), ['1234']);
  assert.is(result.cancelled[0]!.reason, 'user asked');
  assert.is(result.cancelArrivedAt, undefined, 'an answer from the store was not woken by a cancel');
  assert.equal(canceler.stats(), { openWaits: 0, watchedIds: 0 });
});

test('many waiters on one id all hear one cancel', async () => {
  const { canceler } = setup();
  const waits = Array.from({ length: 500 }, () => canceler.wait(['1234'], new AbortController().signal));
  await Promise.resolve();
  assert.equal(canceler.stats(), { openWaits: 500, watchedIds: 1 });
  await canceler.cancel('1234');
  const results = await Promise.all(waits);
  assert.ok(results.every((r) => ids(r).join() === '1234'));
  assert.ok(results.every((r) => r.cancelArrivedAt !== undefined));
  assert.equal(canceler.stats(), { openWaits: 0, watchedIds: 0 });
});

test('a waiter that leaves does not take another waiter on the same id with it', async () => {
  const { canceler } = setup();
  const first = new AbortController();
  const firstWait = canceler.wait(['1234'], first.signal);
  const secondWait = canceler.wait(['1234'], new AbortController().signal);
  first.abort();
  assert.equal(ids(await firstWait), []);
  assert.equal(canceler.stats(), { openWaits: 1, watchedIds: 1 });
  await canceler.cancel('1234');
  assert.equal(ids(await secondWait), ['1234']);
});

test('cancelling twice while a waiter waits is harmless and keeps the first record', async () => {
  const { canceler, clock } = setup();
  const wait = canceler.wait(['1234'], new AbortController().signal);
  const [first, second] = await Promise.all([canceler.cancel('1234', { reason: 'first' }), canceler.cancel('1234', { reason: 'second' })]);
  clock.advance(5_000);
  const third = await canceler.cancel('1234', { reason: 'third' });
  assert.equal(ids(await wait), ['1234']);
  assert.is(second.reason, 'first');
  assert.is(third.cancelledAt, first.cancelledAt);
  assert.is(third.reason, 'first');
});

test('an aborted wait answers empty and leaves nothing behind', async () => {
  const { canceler } = setup();
  const controller = new AbortController();
  const wait = canceler.wait(['a', 'b', 'c'], controller.signal);
  assert.equal(canceler.stats(), { openWaits: 1, watchedIds: 3 });
  controller.abort();
  assert.equal(ids(await wait), []);
  assert.equal(canceler.stats(), { openWaits: 0, watchedIds: 0 });
  assert.equal(ids(await canceler.wait(['a'], controller.signal)), [], 'an already aborted signal answers at once');
});

test('a batched wait answers with the id that was cancelled and only that one', async () => {
  const { canceler } = setup();
  const wait = canceler.wait(['1234', '5678', '9999'], new AbortController().signal);
  await canceler.cancel('5678');
  assert.equal(ids(await wait), ['5678']);
  await canceler.cancel('9999');
  const again = await canceler.wait(['1234', '5678', '9999'], new AbortController().signal);
  assert.equal(ids(again), ['5678', '9999'], 'a new wait sees every cancel already made among its ids');
});

test('big waits (hundreds of ids): a cancel wakes exactly those holding the id; nothing is left behind', async () => {
  const { canceler } = setup();
  const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  const shared = 'shared-id';
  const a = canceler.wait([...range('a', 400), shared], new AbortController().signal);
  const b = canceler.wait([...range('b', 400), shared, shared], new AbortController().signal);
  const c = canceler.wait(range('c', 400), new AbortController().signal);
  const small = canceler.wait([shared], new AbortController().signal);
  assert.equal(canceler.stats(), { openWaits: 4, watchedIds: 1 + 401 + 401 + 400 });
  await canceler.cancel(shared, { reason: 'one for all' });
  assert.equal(ids(await a), [shared]);
  assert.equal(ids(await b), [shared]);
  assert.equal(ids(await small), [shared]);
  assert.equal(canceler.stats(), { openWaits: 1, watchedIds: 400 }, 'only the wait without the id is left');
  await canceler.cancel('c-399');
  assert.equal(ids(await c), ['c-399']);
  // Cancelled before the wait began: the look-up finds it.
  assert.equal(ids(await canceler.wait([...range('d', 300), 'c-399'], new AbortController().signal)), ['c-399']);
  const closing = canceler.wait(range('e', 300), new AbortController().signal);
  canceler.close();
  assert.equal((await closing).cancelled, []);
  assert.equal(canceler.stats(), { openWaits: 0, watchedIds: 0 });
});

test('a wait on an id cancelled moments ago is answered from the records kept at hand, until they expire', async () => {
  const clock = new FakeClock();
  let lookUps = 0;
  // The real store, counting how often it is asked.
  const store = new (class extends MemoryStore {
    override find(ids: readonly string[], now: number) {
      lookUps++;
      return super.find(ids, now);
    }
  })();
  const canceler = new Canceler({ store, clock, ttlMs: 10_000 });
  await canceler.cancel('hot', { reason: 'stop' });
  for (let i = 0; i < 3; i++) assert.equal(ids(await canceler.wait(['hot', 'other'], new AbortController().signal)), ['hot']);
  assert.is(lookUps, 0, 'no store look-up for an id known cancelled');
  clock.advance(10_001);
  const wait = canceler.wait(['hot'], new AbortController().signal);
  await new Promise((resolve) => setImmediate(resolve));
  assert.is(lookUps, 1, 'an expired record is not trusted: the store is asked');
  canceler.close();
  assert.equal((await wait).cancelled, []);
});

test('records expire after the TTL and are swept by the timer', async () => {
  const { canceler, clock, store } = setup(10_000);
  await canceler.cancel('1234');
  clock.advance(9_999);
  assert.equal((await canceler.find(['1234'])).length, 1);
  clock.advance(1);
  assert.equal((await canceler.find(['1234'])).length, 0, 'expired records are no longer found');
  clock.advance(1_000);
  await Promise.resolve();
  assert.is(store.size, 0, 'the sweep timer removed the expired record');
  const wait = canceler.wait(['1234'], AbortSignal.abort());
  assert.equal(ids(await wait), []);
  const after = await canceler.cancel('1234', { reason: 'again' });
  assert.is(after.reason, 'again', 'a cancel after expiry is a new record');
});

test('invalid ids are refused with a clear error', async () => {
  const { canceler } = setup();
  await rejects(canceler.cancel('a/b'), (e: unknown) => e instanceof InvalidInputError && /"\/"/.test(e.message));
  assert.throws(() => canceler.wait([''], new AbortController().signal), /empty/);
});

test('close ends every open wait empty and stops the sweep timer', async () => {
  const { canceler, clock } = setup();
  const waits = [canceler.wait(['a'], new AbortController().signal), canceler.wait(['a', 'b'], new AbortController().signal)];
  canceler.close();
  assert.equal((await Promise.all(waits)).map(ids), [[], []]);
  assert.is(clock.pendingTimers, 0);
  assert.equal(ids(await canceler.wait(['a'], new AbortController().signal)), [], 'a closed canceler answers at once');
});

test('a million waits leave no listener, map entry or waiter behind', async () => {
  const { canceler } = setup();
  for (let batch = 0; batch < 1_000; batch++) {
    const controller = new AbortController();
    const waits = Array.from({ length: 1_000 }, (_, i) => canceler.wait([`t${batch}-${i % 10}`, `shared-${i % 3}`], controller.signal));
    // A tenth of each batch ends through a cancel, the rest through their abort.
    await canceler.cancel(`t${batch}-0`);
    controller.abort();
    const results = await Promise.all(waits);
    assert.is(results.filter((r) => r.cancelled.length > 0).length, 100);
    assert.is(getEventListeners(controller.signal, 'abort').length, 0);
  }
  assert.equal(canceler.stats(), { openWaits: 0, watchedIds: 0 });
});

test('a store that fails a look-up does not end the wait; a later cancel still wakes it', async () => {
  const clock = new FakeClock();
  const errors: unknown[] = [];
  let failFind = true;
  // The real store, whose look-ups fail while `failFind` says so.
  const flaky = new (class extends MemoryStore {
    override find(ids: readonly string[], now: number) {
      return failFind ? Promise.reject(new Error('store down')) : super.find(ids, now);
    }
  })();
  const canceler = new Canceler({ store: flaky, clock, onError: (e) => errors.push(e) });
  const wait = canceler.wait(['1234'], new AbortController().signal);
  await new Promise((resolve) => setImmediate(resolve));
  assert.is(errors.length, 1);
  failFind = false;
  await canceler.cancel('1234');
  assert.equal(ids(await wait), ['1234']);
});

test('a look-up that failed is made again for every waited id, with a pause that doubles, until one succeeds', async () => {
  // A store whose subscription came back before its look-ups did (Redis: two connections): cancels another
  // server made meanwhile are in the store, and nothing will notify them again.
  const clock = new FakeClock();
  const errors: unknown[] = [];
  let failFind = true;
  let finds = 0;
  const flaky = new (class extends MemoryStore {
    override find(ids: readonly string[], now: number) {
      finds++;
      return failFind ? Promise.reject(new Error('store down')) : super.find(ids, now);
    }
  })();
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  const canceler = new Canceler({ store: flaky, clock, onError: (e) => errors.push(e) });
  let waited: string[] | undefined;
  canceler.wait(['w-1'], new AbortController().signal).then((result) => (waited = ids(result)));
  const standing: string[] = [];
  canceler.watchSet(['s-1', 's-2'], (result) => standing.push(...ids(result)));
  await settle();
  assert.is(errors.length, 2, 'both first look-ups failed');
  // Written by another server while this one could not look: no notification will come.
  await flaky.insert({ id: 'w-1', cancelledAt: clock.now(), expiresAt: clock.now() + 60_000 }, clock.now());
  await flaky.insert({ id: 's-2', cancelledAt: clock.now(), expiresAt: clock.now() + 60_000 }, clock.now());
  const before = finds;
  clock.advance(RELOOK_FIRST_MS);
  await settle();
  assert.is(finds, before + 1, 'one look-up of every waited id, not one per failure');
  assert.is(waited, undefined, 'still failing: nothing found yet');
  clock.advance(RELOOK_FIRST_MS);
  await settle();
  assert.is(finds, before + 1, 'the pause doubled after a second failure');
  failFind = false;
  clock.advance(RELOOK_FIRST_MS);
  await settle();
  assert.equal(waited, ['w-1'], 'the wait hears the cancel made while its look-up failed');
  assert.equal(standing, ['s-2'], 'and so does the standing set');
  const after = finds;
  clock.advance(10 * RELOOK_MOST_MS);
  await settle();
  assert.is(finds, after, 'nothing more is looked up once a look-up succeeded');
  canceler.close();
});

test('cancels another server recorded reach local waiters through the store subscription', async () => {
  const clock = new FakeClock();
  const shared = new MemoryStore();
  let listener: Parameters<NonNullable<CancelStore['subscribe']>>[0] | undefined;
  const subscribed: CancelStore = Object.assign(Object.create(shared) as MemoryStore, {
    description: 'shared',
    insert: shared.insert.bind(shared),
    find: shared.find.bind(shared),
    subscribe: (l: typeof listener) => {
      listener = l;
      return () => (listener = undefined);
    },
  });
  const canceler = new Canceler({ store: subscribed, clock });
  const wait = canceler.wait(['1234', '5678'], new AbortController().signal);
  await new Promise((resolve) => setImmediate(resolve));
  // Another server wrote the record while our subscription was down: only a resync can find it.
  await shared.insert({ id: '5678', cancelledAt: clock.now(), expiresAt: clock.now() + 1_000 }, clock.now());
  listener!.resynced();
  assert.equal(ids(await wait), ['5678']);
  const second = canceler.wait(['1234'], new AbortController().signal);
  await new Promise((resolve) => setImmediate(resolve));
  await shared.insert({ id: '1234', cancelledAt: clock.now(), expiresAt: clock.now() + 1_000 }, clock.now());
  listener!.cancelled('1234');
  assert.equal(ids(await second), ['1234']);
  canceler.close();
  assert.is(listener, undefined, 'close unsubscribes');
});

test('waitFor calls back once, never before it returns, and its end function releases everything', async () => {
  const { canceler } = setup();
  const results: string[][] = [];
  const end = canceler.waitFor(['a', 'b'], (r) => results.push(r.cancelled.map((c) => c.id)));
  assert.equal(canceler.stats(), { openWaits: 1, watchedIds: 2 });
  end();
  end();
  assert.equal(results, [[]]);
  assert.equal(canceler.stats(), { openWaits: 0, watchedIds: 0 });
  const woken: string[][] = [];
  canceler.waitFor(['c'], (r) => woken.push(r.cancelled.map((x) => x.id)));
  await canceler.cancel('c');
  assert.equal(woken, [['c']]);
  canceler.close();
  let calledBack = false;
  canceler.waitFor(['d'], () => (calledBack = true));
  assert.is(calledBack, false, 'a closed canceler still answers asynchronously');
  await Promise.resolve();
  assert.is(calledBack, true);
});

test('watch sets, small (registered per id) and big (asked on every cancel), hear their own ids and ancestors only', async () => {
  const { canceler } = setup();
  const heard = new Map<string, string[]>();
  const open = (name: string, ids: string[], ancestors: string[] = []) =>
    canceler.watchSet(
      ids,
      (result) => heard.set(name, [...(heard.get(name) ?? []), ...result.cancelled.map((r) => r.id), ...(result.parent ? [`parent:${result.parent.id}`] : [])]),
      ancestors,
    );
  const big = Array.from({ length: 300 }, (_, i) => `big-${i}`);
  // Many small sets: a cancel reaches only those holding its id.
  const small = Array.from({ length: 50 }, (_, i) => open(`small-${i}`, [`s-${i}-a`, `s-${i}-b`, 'shared']));
  const withParent = open('with-parent', ['child-1', 'child-2'], ['parent-1']);
  const bigSet = open('big', big);
  assert.equal(canceler.stats().watchedIds, 50 * 3 + 2 + 300);
  await canceler.cancel('s-7-a');
  await canceler.cancel('shared');
  await canceler.cancel('big-299');
  await canceler.cancel('parent-1');
  await Promise.resolve();
  assert.equal(heard.get('small-7'), ['s-7-a', 'shared']);
  assert.equal(heard.get('small-8'), ['shared']);
  assert.equal(heard.get('big'), ['big-299']);
  assert.equal(heard.get('with-parent'), ['parent:parent-1']);
  // Removed ids and closed sets hear nothing more, and are no longer counted.
  small[9]!.remove(['s-9-a']);
  small[10]!.close();
  small[11]!.add(['s-11-c']);
  await canceler.cancel('s-9-a');
  await canceler.cancel('s-10-b');
  await canceler.cancel('s-11-c');
  withParent.close();
  bigSet.close();
  await Promise.resolve();
  assert.equal(heard.get('small-9'), ['shared']);
  assert.equal(heard.get('small-10'), ['shared']);
  assert.equal(heard.get('small-11'), ['shared', 's-11-c']);
  for (const set of small) set.close();
  assert.equal(canceler.stats().watchedIds, 0);
});

test.run();
