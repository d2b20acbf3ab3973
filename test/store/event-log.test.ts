// The event window on every store: one contiguous, strictly increasing sequence, bounded by count and by
// time, readable from any point inside it; kept across a reopen on sqlite, shared by servers on Redis.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { TaskEventDraft, TaskEventLog } from '../../src/core/task-events.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { RedisStore } from '../../src/store/redis/redis-store.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { eventually, tempDir } from '../helpers/server.ts';
import { PrivateRedis, redisTestsEnabled } from '../helpers/redis-server.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { postgresTestsEnabled, TestDatabase } from '../helpers/postgres.ts';

type Opened = { log: TaskEventLog; cleanup(): Promise<void> };

let redis: PrivateRedis | undefined;
let prefixes = 0;
const redisEnabled = redisTestsEnabled();
const stores: Array<[string, () => Promise<Opened>, { exactKeep: boolean }]> = [
  ['memory', async () => ({ log: new MemoryStore(), cleanup: async () => {} }), { exactKeep: true }],
  [
    'sqlite',
    async () => {
      const dir = tempDir();
      const store = new SqliteStore(`${dir.path}/events.db`);
      return { log: store, cleanup: async () => (await store.close(), dir.remove()) };
    },
    { exactKeep: true },
  ],
];
if (redisEnabled) {
  stores.push([
    'redis',
    async () => {
      redis ??= await PrivateRedis.start();
      const store = await RedisStore.connect(redis.url, { keyPrefix: `ev${prefixes++}:` });
      return { log: store, cleanup: () => store.close() };
    },
    // Redis trims whole nodes of its stream (100 entries), so it keeps `keep` to `keep` + 100.
    { exactKeep: false },
  ]);
}

let database: TestDatabase | undefined;
let schemas = 0;
const postgresEnabled = postgresTestsEnabled();
if (postgresEnabled) {
  stores.push([
    'postgres',
    async () => {
      database ??= await TestDatabase.create();
      const store = await PostgresStore.connect(database.url, { schema: `ev${schemas++}` });
      return { log: store, cleanup: () => store.close() };
    },
    { exactKeep: true },
  ]);
}

const draft = (id: string, at: number, change: TaskEventDraft['change'] = 'watching'): TaskEventDraft => ({
  id,
  at,
  change,
  origin: 'test',
  status: { id, state: 'watching', since: at, history: [{ state: 'watching', at }] },
});

for (const [name, open, { exactKeep }] of stores) {
  const test = suite<Opened>(`event log: ${name}`);
  test.before.each(async (context) => {
    Object.assign(context, await open());
  });
  test.after.each(async ({ cleanup }) => cleanup());

  test('appends take contiguous, strictly increasing seqs that start above the time in microseconds', async ({ log }) => {
    const before = Date.now() * 1_000;
    const { last: start, oldest } = await log.readEvents(0, 0);
    assert.ok(start >= before - 10_000_000, `the sequence starts at the time: ${start} vs ${before}`);
    assert.is(oldest, start + 1, 'nothing kept yet');
    const first = await log.appendEvents([draft('a', 1), draft('b', 2)], 100);
    const second = await log.appendEvents([draft('c', 3)], 100);
    assert.equal(
      [...first, ...second].map((e) => e.seq),
      [start + 1, start + 2, start + 3],
    );
    const read = await log.readEvents(start, 10);
    assert.equal(
      read.events.map((e) => [e.seq, e.id, e.at, e.change]),
      [
        [start + 1, 'a', 1, 'watching'],
        [start + 2, 'b', 2, 'watching'],
        [start + 3, 'c', 3, 'watching'],
      ],
    );
    assert.equal(read.events[0]!.status, draft('a', 1).status, 'the snapshot comes back whole');
    assert.is(read.oldest, start + 1);
    assert.is(read.last, start + 3);
    assert.equal(
      (await log.readEvents(start + 1, 1)).events.map((e) => e.id),
      ['b'],
      'a page starts after the cursor',
    );
    assert.equal((await log.readEvents(start + 3, 10)).events, [], 'nothing after the last');
  });

  test('the window keeps the most recent events beyond `keep`, dropping the oldest as it goes', async ({ log }) => {
    const { last: start } = await log.readEvents(0, 0);
    for (let i = 0; i < 6; i++)
      await log.appendEvents(
        Array.from({ length: 50 }, (_, k) => draft(`k${i}-${k}`, i * 100 + k)),
        20,
      );
    const { events, oldest, last } = await log.readEvents(0, 1_000);
    assert.is(last, start + 300);
    const kept = last - oldest + 1;
    if (exactKeep) assert.is(kept, 20);
    else assert.ok(kept >= 20 && kept <= 200, `about 20 kept, not ${kept}`);
    assert.is(events.length, kept);
    assert.is(events[0]!.seq, oldest);
    events.forEach((e, i) => assert.is(e.seq, oldest + i, 'no hole'));
  });

  test('trimEvents drops events older than a time, oldest first, up to a limit', async ({ log }) => {
    await log.appendEvents(
      Array.from({ length: 30 }, (_, i) => draft(`t${i}`, 1_000 + i)),
      1_000,
    );
    assert.is(await log.trimEvents(1_010, 5), 5, 'no more than the limit');
    assert.is(await log.trimEvents(1_010, 100), 5, 'then the rest of the old ones');
    assert.is(await log.trimEvents(1_010, 100), 0);
    const { events, oldest } = await log.readEvents(0, 100);
    assert.equal(
      events.map((e) => e.at),
      Array.from({ length: 20 }, (_, i) => 1_010 + i),
    );
    assert.is(oldest, events[0]!.seq);
  });

  test.run();
}

const sqlite = suite('event log: sqlite across a reopen');
sqlite('the window and the sequence survive a restart', async () => {
  const dir = tempDir();
  const path = `${dir.path}/reopen.db`;
  const first = new SqliteStore(path);
  const appended = await first.appendEvents([draft('x', 1), draft('y', 2)], 100);
  await first.close();
  const second = new SqliteStore(path);
  const { events, last } = await second.readEvents(appended[0]!.seq - 1, 10);
  assert.equal(
    events.map((e) => e.id),
    ['x', 'y'],
  );
  assert.is(last, appended[1]!.seq);
  const next = await second.appendEvents([draft('z', 3)], 100);
  assert.is(next[0]!.seq, appended[1]!.seq + 1, 'the sequence goes on where it was');
  await second.close();
  dir.remove();
});
sqlite.run();

if (redisEnabled) {
  const shared = suite('event log: two servers on one Redis');
  shared('share one sequence: interleaved appends never repeat or go back, and each hears the other append', async () => {
    redis ??= await PrivateRedis.start();
    const a = await RedisStore.connect(redis.url, { keyPrefix: 'shared-ev:' });
    const b = await RedisStore.connect(redis.url, { keyPrefix: 'shared-ev:' });
    let heardByA = 0;
    const stop = a.subscribeEvents({ appended: () => heardByA++, resynced: () => {} });
    try {
      const { last: start } = await a.readEvents(0, 0);
      const batches = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).appendEvents([draft(`s${i}-1`, i), draft(`s${i}-2`, i)], 1_000)));
      const seqs = batches
        .flat()
        .map((e) => e.seq)
        .sort((x, y) => x - y);
      assert.equal(
        seqs,
        Array.from({ length: 40 }, (_, i) => start + 1 + i),
      );
      // Each batch's two events are adjacent: a batch is one atomic step.
      for (const batch of batches) assert.is(batch[1]!.seq, batch[0]!.seq + 1);
      const fromB = await b.readEvents(start, 100);
      assert.equal(
        fromB.events.map((e) => e.seq),
        seqs,
      );
      await eventually(() => heardByA >= 10, 'A to hear the appends made through B');
    } finally {
      stop();
      await Promise.all([a.close(), b.close()]);
    }
  });
  shared.after(async () => {
    await redis?.stop();
  });
  shared.run();
}

if (postgresEnabled) {
  const shared = suite('event log: two servers on one PostgreSQL');
  shared('share one sequence: interleaved appends never repeat or go back, and each hears the other append', async () => {
    database ??= await TestDatabase.create();
    const a = await PostgresStore.connect(database.url, { schema: 'shared_ev' });
    const b = await PostgresStore.connect(database.url, { schema: 'shared_ev' });
    let heardByA = 0;
    const stop = a.subscribeEvents({ appended: () => heardByA++, resynced: () => {} });
    try {
      const { last: start } = await a.readEvents(0, 0);
      const batches = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).appendEvents([draft(`s${i}-1`, i), draft(`s${i}-2`, i)], 1_000)));
      const seqs = batches
        .flat()
        .map((e) => e.seq)
        .sort((x, y) => x - y);
      assert.equal(
        seqs,
        Array.from({ length: 40 }, (_, i) => start + 1 + i),
      );
      for (const batch of batches) assert.is(batch[1]!.seq, batch[0]!.seq + 1);
      const fromB = await b.readEvents(start, 100);
      assert.equal(
        fromB.events.map((e) => e.seq),
        seqs,
      );
      // Appends that share a group commit share its one notification: A hears of B's append at least once.
      heardByA = 0;
      await b.appendEvents([draft('after', 99)], 1_000);
      await eventually(() => heardByA >= 1, 'A to hear an append made through B');
    } finally {
      stop();
      await Promise.all([a.close(), b.close()]);
    }
  });
  shared.after(async () => {
    await database?.drop();
  });
  shared.run();
}
