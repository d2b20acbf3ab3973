import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type CancelStore, saveStatuses } from '../../src/core/store.ts';
import type { TaskStatus } from '../../src/core/task-status.ts';

type Pair = { a: CancelStore; b: CancelStore; cleanup(): Promise<void> };

/**
 * The contract of stores that servers share (Redis, PostgreSQL): two store instances on one database, as
 * two servers have them. Each test opens a fresh pair on a namespace of its own.
 */
export function sharedStoreSuite(name: string, openPair: () => Promise<Pair>) {
  const test = suite<Pair>(name);
  test.before.each(async (context) => {
    Object.assign(context, await openPair());
  });
  test.after.each(async ({ cleanup }) => cleanup());

  const counter = (id: string, n: number): TaskStatus => ({ id, state: 'watching', since: 1, lastSeenAt: n, history: [{ state: 'watching', at: 1 }] });
  // A read-modify-write that a plain overwrite would lose: one more than what is stored.
  const increment = (status: TaskStatus | undefined, id: string): TaskStatus => counter(id, (status?.lastSeenAt ?? 0) + 1);

  test('read-modify-writes racing on two servers lose no update (compare-and-set)', async ({ a, b }) => {
    const ids = Array.from({ length: 20 }, (_, i) => `race-${i}`);
    await saveStatuses(
      a,
      ids.map((id) => counter(id, 0)),
    );
    const rounds = 40;
    // Each server adds one to every id, round after round (a server's tracker changes an id one change at a
    // time), both servers at once: their reads and writes interleave.
    const run = async (store: CancelStore) => {
      for (let round = 0; round < rounds; round++) await store.updateStatuses(ids, increment);
    };
    await Promise.all([run(a), run(b)]);
    for (const store of [a, b]) {
      const counts = (await store.loadStatuses(ids)).map((status) => status.lastSeenAt);
      assert.equal(
        counts,
        ids.map(() => 2 * rounds),
        'every increment of both servers is there',
      );
    }
  });

  test('an update is made from what the other server wrote, and said to be written once', async ({ a, b }) => {
    await saveStatuses(a, [counter('shared', 0)]);
    const [first] = await a.updateStatuses(
      ['shared'],
      (status) => status && { ...status, state: 'cancelled', since: 5, history: [...status.history, { state: 'cancelled', at: 5 }] },
    );
    assert.is(first?.after.state, 'cancelled');
    let seen: TaskStatus | undefined;
    const changes = await b.updateStatuses(['shared'], (status) => (seen = status) && { ...status, lastSeenAt: 9 });
    assert.is(seen?.state, 'cancelled', 'B read what A wrote');
    assert.equal(
      changes.map((c) => [c.before?.state, c.after.state, c.after.lastSeenAt]),
      [['cancelled', 'cancelled', 9]],
    );
    assert.equal(
      (await a.loadStatuses(['shared'])).map((s) => [s.state, s.lastSeenAt]),
      [['cancelled', 9]],
    );
  });

  test('the first of two servers to create a status wins; the other applies its update over it', async ({ a, b }) => {
    const created = await Promise.all([a.updateStatuses(['fresh'], increment), b.updateStatuses(['fresh'], increment)]);
    assert.is(created.flat().length, 2, 'both written, one after the other');
    assert.equal(
      (await b.loadStatuses(['fresh'])).map((s) => s.lastSeenAt),
      [2],
    );
    assert.is(await a.countStatuses(), 1, 'counted once');
  });

  return test;
}
