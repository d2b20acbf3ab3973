// Several servers sharing one PostgreSQL: a cancel sent to one reaches a worker watching another, through
// NOTIFY, through the look-up after the listener reconnects, and through polling with listen=off.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TaskctlClient } from '../../src/client/client.ts';
import { WatchLoop } from '../../src/client/watch-loop.ts';
import type { RunningServer } from '../../src/server/listen.ts';
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/postgres-store.ts';
import { postgresTestsEnabled, TestDatabase } from '../helpers/postgres.ts';
import { type Follower, follow, post } from '../helpers/events.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const enabled = postgresTestsEnabled();
let database: TestDatabase;
const running: RunningServer[] = [];

test.before(async () => {
  if (enabled) database = await TestDatabase.create();
});
// Workers a test could not stop itself (it failed first): stopped before the servers close.
const stopLater: Array<{ stop(): Promise<void> }> = [];
test.after.each(async () => {
  await Promise.all(stopLater.splice(0).map((worker) => worker.stop()));
  await Promise.all(running.splice(0).map((server) => server.close()));
});
test.after(async () => {
  if (enabled) await database.drop();
});

/**
 * Two servers on one schema. The backstop look-up is an hour away unless asked for, and watches are long,
 * so only what the test is about (a notification, the look-up after a reconnect, a poll) can deliver a
 * cancel within its deadline.
 */
async function twoServers(schema: string, options: PostgresStoreOptions = {}, url = database.url): Promise<[RunningServer, RunningServer]> {
  const servers: RunningServer[] = [];
  for (let i = 0; i < 2; i++) {
    const store = await PostgresStore.connect(url, { schema, backstopMs: 3_600_000, ...options });
    servers.push(await startTestServer({ store, watchTimeoutMs: 60_000 }));
  }
  running.push(...servers);
  return servers as [RunningServer, RunningServer];
}

/** A worker's watch loop on `server`, collecting the ids it hears cancelled. */
function watchOn(server: RunningServer, ids: string[]) {
  const heard: string[] = [];
  const stop = new AbortController();
  const client = new TaskctlClient({ server: server.url });
  const loop = new WatchLoop(client, ids, { watchTimeoutMs: 60_000, backoff: { baseMs: 20, capMs: 200 }, listener: { cancelled: (r) => heard.push(r.id) } });
  const done = loop.run(stop.signal).finally(() => client.close());
  return { heard, stop: () => (stop.abort(), done) };
}

const cancelVia = (server: RunningServer, id: string) =>
  fetch(`${server.url}/v1/tasks/${id}/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"via the other server"}' });

test('a worker on A hears a cancel sent to B (NOTIFY)', async () => {
  const [a, b] = await twoServers('notify');
  const worker = watchOn(a, ['p-1', 'p-2']);
  await eventually(() => a.openWatches() === 1, 'the watch on A');
  assert.is((await cancelVia(b, 'p-1')).status, 200);
  await eventually(() => worker.heard.includes('p-1'), 'A to hear the cancel from B', 3_000);
  assert.equal(worker.heard, ['p-1']);
  await worker.stop();
});

test('every taskctl connection killed (pg_terminate_backend) and a cancel made right then: still delivered', async () => {
  const [a, b] = await twoServers('terminated');
  const worker = watchOn(a, ['p-killed']);
  await eventually(() => a.openWatches() === 1, 'the watch on A');
  const killed = await database.terminateTaskctlConnections();
  assert.ok(killed >= 2, `the listening connections at least: ${killed}`);
  // Made while A's listener is gone: its NOTIFY reaches nobody. B sends it again on a new connection.
  const reply = await cancelVia(b, 'p-killed');
  assert.is(reply.status, 200, await reply.clone().text());
  await eventually(() => worker.heard.includes('p-killed'), 'A to find the cancel once listening again', 10_000);
  await worker.stop();
});

test('a cancel whose notification never came (written straight into the table) is found by the backstop look-up', async () => {
  const [a] = await twoServers('backstop', { backstopMs: 300 });
  const worker = watchOn(a, ['p-quiet']);
  await eventually(() => a.openWatches() === 1, 'the watch on A');
  const now = Date.now();
  await database.query(
    (sql) => sql`INSERT INTO backstop.cancels (id, reason, cancelled_at, expires_at) VALUES ('p-quiet', 'no notify', ${now}, ${now + 60_000})`,
  );
  await eventually(() => worker.heard.includes('p-quiet'), 'A to find the cancel on its backstop look-up', 5_000);
  await worker.stop();
});

test('listen=off (PgBouncer in transaction mode): a cancel on B reaches A by polling', async () => {
  const [a, b] = await twoServers('polled', { pollMs: 200 }, `${database.url}?listen=off`);
  const worker = watchOn(a, ['p-polled']);
  await eventually(() => a.openWatches() === 1, 'the watch on A');
  const listening = await database.query(
    (sql) => sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${database.name} AND query ILIKE 'listen%'`,
  );
  assert.is(listening[0]!.n, 0, 'nothing LISTENs');
  assert.is((await cancelVia(b, 'p-polled')).status, 200);
  await eventually(() => worker.heard.includes('p-polled'), 'A to find the cancel on its next poll', 5_000);
  await worker.stop();
});

for (const listen of ['on', 'off'] as const) {
  test(`event streams (listen=${listen}): one sequence across servers; a client moved from A to B resumes without a gap`, async () => {
    const [a, b] = await twoServers(`events_${listen}`, { pollMs: 200 }, listen === 'on' ? database.url : `${database.url}?listen=off`);
    const followers: Follower[] = [];
    try {
      const onA = follow(a.url);
      followers.push(onA);
      await eventually(() => onA.stream.lastEventId !== undefined, 'the stream on A open');
      for (let i = 0; i < 6; i++) assert.is(await post(`${(i % 2 ? a : b).url}/v1/tasks/e-${i}/cancel`), 200);
      // Listening, B's appends reach A by notification; with listen=off, by A's next poll.
      await eventually(() => onA.events.length === 6, 'A to deliver the changes made on B as well', 10_000);
      assert.equal(
        onA.events.map((e) => e.id).sort(),
        Array.from({ length: 6 }, (_, i) => `e-${i}`),
      );
      const seqs = onA.events.map((e) => e.seq);
      assert.ok(
        seqs.every((seq, i) => i === 0 || seq === seqs[i - 1]! + 1),
        'one sequence',
      );
      const movedAt = onA.events[3]!.seq;
      await onA.stop();
      const onB = follow(b.url, { since: movedAt });
      followers.push(onB);
      await eventually(() => onB.events.length === 2, 'the events after the fourth, on B', 10_000);
      assert.equal(
        onB.events.map((e) => e.seq),
        seqs.slice(4),
      );
    } finally {
      await Promise.all(followers.map((f) => f.stop()));
    }
  });
}

test('50 concurrent cancels of one id: all answered 200 with the same record, one row stored', async () => {
  const [a, b] = await twoServers('concurrent');
  const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => cancelVia(i % 2 ? a : b, 'p-race')));
  assert.equal(
    replies.map((r) => r.status),
    Array(50).fill(200),
  );
  const bodies = await Promise.all(replies.map((r) => r.json()));
  assert.match(JSON.stringify(bodies[0]), /"cancelledAt":"/);
  assert.is(new Set(bodies.map((body) => JSON.stringify(body))).size, 1, 'one record (one cancelledAt) in every answer');
  const rows = await database.query((sql) => sql`SELECT count(*)::int AS n FROM concurrent.cancels WHERE id = 'p-race'`);
  assert.is(rows[0]!.n, 1);
});

test('PostgreSQL unreachable: cancels answer 503 store_unavailable (never a false ok), health says so; then it recovers by itself', async () => {
  const proxy = await TcpProxy.start(5432);
  try {
    const through = new URL(database.url);
    through.port = new URL(proxy.url).port;
    const [a, b] = await twoServers('outage', {}, through.toString());
    const worker = watchOn(a, ['p-outage']);
    stopLater.push(worker);
    await eventually(() => a.openWatches() === 1, 'the watch on A');
    proxy.cut();
    const refused = await cancelVia(b, 'p-outage');
    assert.is(refused.status, 503);
    assert.is((await refused.json()).error.code, 'store_unavailable');
    const health = await fetch(`${b.url}/healthz`);
    assert.is(health.status, 503);
    assert.equal(worker.heard, []);
    const watch = await fetch(`${a.url}/v1/watch?ids=p-other&timeout=1s`);
    assert.is(watch.status, 200, 'a watch made during the outage is answered at its timeout');
    assert.equal((await watch.json()).cancelled, [], 'not cancelled');
    const stored = await database.query((sql) => sql`SELECT count(*)::int AS n FROM outage.cancels`);
    assert.is(stored[0]!.n, 0, 'nothing was stored for the refused cancel');

    proxy.restore();
    await eventually(async () => (await fetch(`${b.url}/healthz`)).status === 200, 'B to reconnect', 10_000);
    await eventually(async () => (await cancelVia(b, 'p-outage')).status === 200, 'the cancel to be accepted', 10_000);
    await eventually(() => worker.heard.includes('p-outage'), 'A to hear it after the outage', 10_000);
  } finally {
    await proxy.close();
  }
});

if (enabled) test.run();
