// Retention on every store, with a clock the test moves: what nobody watches is forgotten on time, what
// is watched never is, and history and schedules stay bounded.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CancelScheduler } from '../../src/core/cancel-scheduler.ts';
import { Canceler } from '../../src/core/canceler.ts';
import type { CancelStore } from '../../src/core/store.ts';
import { HISTORY_LIMIT } from '../../src/core/task-status.ts';
import { TaskTracker } from '../../src/core/task-tracker.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { RedisStore } from '../../src/store/redis/redis-store.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { PrivateRedis, redisTestsEnabled } from '../helpers/redis-server.ts';
import { tempDir } from '../helpers/server.ts';

const LEASE_MS = 1_000;
const RETENTION_MS = 5_000;
const worker = { id: 'w1', host: 'box', pid: 1 };

interface Context {
  store: CancelStore;
  clock: FakeClock;
  tracker: TaskTracker;
  forgotten: number[];
  cleanup(): Promise<void>;
}

let redis: PrivateRedis | undefined;
let prefixes = 0;
const redisEnabled = redisTestsEnabled();
const stores: Array<[string, () => Promise<{ store: CancelStore; cleanup(): Promise<void> }>]> = [
  ['memory', async () => ({ store: new MemoryStore(), cleanup: async () => {} })],
  [
    'sqlite',
    async () => {
      const dir = tempDir();
      const store = new SqliteStore(`${dir.path}/retention.db`);
      return { store, cleanup: async () => (await store.close(), dir.remove()) };
    },
  ],
];
if (redisEnabled) {
  stores.push([
    'redis',
    async () => {
      redis ??= await PrivateRedis.start();
      const store = await RedisStore.connect(redis.url, { keyPrefix: `ret${prefixes++}:` });
      return { store, cleanup: () => store.close() };
    },
  ]);
}

const stored = async (store: CancelStore, id: string) => (await store.loadStatuses([id]))[0];

for (const [name, open] of stores) {
  const test = suite<Context>(`retention on the ${name} store`);
  test.before.each(async (context) => {
    const { store, cleanup } = await open();
    const clock = new FakeClock();
    const forgotten: number[] = [];
    const tracker = new TaskTracker({
      store,
      clock,
      leaseMs: LEASE_MS,
      retentionMs: RETENTION_MS,
      sweepIntervalMs: 3_600_000,
      onUpdate: (u) => void (u.kind === 'forgotten' && forgotten.push(u.count)),
    });
    Object.assign(context, { store, clock, tracker, forgotten, cleanup: async () => (tracker.close(), await cleanup()) });
  });
  test.after.each(async ({ cleanup }) => cleanup());
  if (name === 'redis') test.after(async () => redis?.stop());

  test('an ended task is kept for the retention, then forgotten', async ({ store, clock, tracker, forgotten }) => {
    await tracker.watchStarted(['done'], worker);
    tracker.watchEnded(['done']);
    await tracker.reported('done', { outcome: 'succeeded', exitCode: 0, worker });
    clock.advance(RETENTION_MS - 100);
    await tracker.sweep();
    assert.is((await stored(store, 'done'))?.state, 'succeeded', 'kept within the retention');
    clock.advance(200);
    await tracker.sweep();
    assert.is(await stored(store, 'done'), undefined, 'forgotten after it');
    assert.equal(forgotten, [1]);
    assert.is(await store.countStatuses(), 0);
  });

  test('a lost task is forgotten a retention after it went lost', async ({ store, clock, tracker }) => {
    await tracker.watchStarted(['gone'], worker);
    tracker.watchEnded(['gone']);
    clock.advance(LEASE_MS + 10);
    assert.is(await tracker.sweep(), 1);
    assert.is((await stored(store, 'gone'))?.state, 'lost');
    clock.advance(RETENTION_MS - 100);
    await tracker.sweep();
    assert.ok(await stored(store, 'gone'), 'a lost task is remembered for the retention');
    clock.advance(200);
    await tracker.sweep();
    assert.is(await stored(store, 'gone'), undefined);
  });

  test('a silent cancel-requested task that nobody ever watched is forgotten too', async ({ store, clock, tracker }) => {
    await tracker.cancelRequested('nobody');
    assert.is((await stored(store, 'nobody'))?.state, 'cancel_requested');
    clock.advance(RETENTION_MS + 1);
    await tracker.sweep();
    assert.is(await stored(store, 'nobody'), undefined);
  });

  test('a task still watched is never forgotten, however long the watch', async ({ store, clock, tracker }) => {
    await tracker.watchStarted(['held'], worker);
    for (let i = 0; i < 6; i++) {
      clock.advance(RETENTION_MS);
      await tracker.sweep();
      assert.is((await stored(store, 'held'))?.state, 'watching', `after ${(i + 1) * RETENTION_MS} ms`);
    }
    // Once let go it is remembered a full retention from then, not from when it started.
    tracker.watchEnded(['held']);
    await tracker.sweep();
    clock.advance(RETENTION_MS - 100);
    await tracker.sweep();
    assert.ok(await stored(store, 'held'));
  });

  test("a child's parent links are kept while it is watched and forgotten with it by retention", async ({ store, clock, tracker }) => {
    await tracker.watchStarted(['child-held', 'child-done'], worker);
    await tracker.linkParents(['child-held', 'child-done'], ['job']);
    tracker.watchEnded(['child-done']);
    await tracker.reported('child-done', { outcome: 'succeeded', exitCode: 0, worker });
    clock.advance(RETENTION_MS + 10);
    await tracker.sweep();
    assert.is(await stored(store, 'child-done'), undefined);
    assert.equal(await store.listChildren('job', undefined, 10), ['child-held'], 'the held child keeps its link, the forgotten one lost it');
    assert.equal(
      (await store.loadParents(['child-held', 'child-done'])).map((l) => l.child),
      ['child-held'],
    );
    // Let go, it goes lost after the lease, and is forgotten a retention after that, links and all.
    tracker.watchEnded(['child-held']);
    clock.advance(LEASE_MS + 10);
    await tracker.sweep();
    clock.advance(RETENTION_MS + 10);
    await tracker.sweep();
    assert.is(await stored(store, 'child-held'), undefined);
    assert.equal(await store.listChildren('job', undefined, 10), []);
    assert.equal(await store.parentsAmong(['job']), [], 'nothing is left of the parent either');
  });

  test('history keeps the most recent transitions only', async ({ store, clock, tracker }) => {
    for (let run = 0; run < HISTORY_LIMIT; run++) {
      await tracker.watchStarted(['busy'], { ...worker, id: `w${run}` });
      tracker.watchEnded(['busy']);
      clock.advance(10);
      await tracker.reported('busy', { outcome: run % 2 === 0 ? 'succeeded' : 'failed', exitCode: run % 2, worker });
    }
    const status = await stored(store, 'busy');
    assert.is(status!.history.length, HISTORY_LIMIT);
    assert.is(status!.history.at(-1)!.state, 'failed');
  });

  test('a schedule is gone once it fired, and many forgotten tasks go in steps', async ({ store, clock, tracker }) => {
    const canceler = new Canceler({ store, clock });
    const scheduler = new CancelScheduler({ store, canceler, clock, intervalMs: 100 });
    await scheduler.schedule('timed', clock.now() + 500, 'deadline');
    clock.advance(600);
    await scheduler.fireDue();
    assert.equal(await store.loadSchedules(['timed']), []);
    assert.is((await canceler.find(['timed']))[0]?.reason, 'deadline');
    scheduler.close();
    canceler.close();
    const ids = Array.from({ length: 2_500 }, (_, i) => `bulk-${i}`);
    await tracker.watchStarted(ids, worker);
    tracker.watchEnded(ids);
    clock.advance(LEASE_MS + 10);
    await tracker.sweep();
    clock.advance(RETENTION_MS + 10);
    await tracker.sweep();
    assert.is(await store.countStatuses(), 0);
  });

  test.run();
}
