import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { CancelStore } from '../../src/core/store.ts';

/** The contract every store keeps; each store's test file runs it against a fresh store. */
export function storeSuite(
  name: string,
  open: () => Promise<{ store: CancelStore; cleanup(): Promise<void> }>,
  /** Stores that expire records on their own clock (Redis) skip the sweep test, which runs on test time. */
  capabilities: { sweeps: boolean } = { sweeps: true },
) {
  const test = suite<{ store: CancelStore; cleanup(): Promise<void> }>(name);
  test.before.each(async (context) => {
    Object.assign(context, await open());
  });
  test.after.each(async ({ cleanup }) => cleanup());

  test('insert keeps the first live record for an id', async ({ store }) => {
    const first = await store.insert({ id: 'a', reason: 'first', cancelledAt: 100, expiresAt: 1_100 }, 100);
    const second = await store.insert({ id: 'a', reason: 'second', cancelledAt: 200, expiresAt: 1_200 }, 200);
    assert.equal(second, first);
    assert.equal(await store.find(['a'], 300), [first]);
  });

  test('an expired record is replaced by a new cancel', async ({ store }) => {
    await store.insert({ id: 'a', cancelledAt: 100, expiresAt: 200 }, 100);
    const fresh = await store.insert({ id: 'a', reason: 'again', cancelledAt: 300, expiresAt: 400 }, 300);
    assert.is(fresh.reason, 'again');
    assert.equal(await store.find(['a'], 350), [fresh]);
  });

  test('find returns only live records among many ids, reasons intact', async ({ store }) => {
    await store.insert({ id: 'x', cancelledAt: 0, expiresAt: 1_000 }, 0);
    await store.insert({ id: 'y', reason: 'why', cancelledAt: 0, expiresAt: 5_000 }, 0);
    await store.insert({ id: 'ünï/code?', cancelledAt: 0, expiresAt: 5_000 }, 0);
    const found = await store.find(['x', 'y', 'z', 'ünï/code?'], 2_000);
    assert.equal(found.map((r) => r.id).sort(), ['y', 'ünï/code?'].sort());
    assert.is(found.find((r) => r.id === 'y')!.reason, 'why');
    assert.not.ok('reason' in found.find((r) => r.id !== 'y')!, 'no reason key when none was given');
    assert.equal(await store.find([], 0), []);
  });

  test('concurrent inserts of one id agree on one record', async ({ store }) => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.insert({ id: 'race', reason: `r${i}`, cancelledAt: i, expiresAt: 10_000 }, i)));
    assert.ok(results.every((r) => r.reason === results[0]!.reason));
  });

  test('many ids in one find', async ({ store }) => {
    const ids = Array.from({ length: 2_000 }, (_, i) => `bulk-${i}`);
    await Promise.all(ids.filter((_, i) => i % 2 === 0).map((id) => store.insert({ id, cancelledAt: 0, expiresAt: 10_000 }, 0)));
    assert.is((await store.find(ids, 1)).length, 1_000);
  });

  if (capabilities.sweeps) test('sweep deletes expired records and says how many', async ({ store }) => {
    await store.insert({ id: 'old', cancelledAt: 0, expiresAt: 1_000 }, 0);
    await store.insert({ id: 'new', cancelledAt: 0, expiresAt: 9_000 }, 0);
    assert.is(await store.sweep(5_000), 1);
    assert.equal((await store.find(['old', 'new'], 0)).map((r) => r.id), ['new']);
  });

  test('check answers when the store can serve', async ({ store }) => {
    await store.check();
  });

  return test;
}
