// Several servers sharing one Redis: a cancel sent to one reaches a worker watching another.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TaskctlClient } from '../../src/client/client.ts';
import { WatchLoop } from '../../src/client/watch-loop.ts';
import type { RunningServer } from '../../src/server/listen.ts';
import { redisTestsEnabled, SharedRedisServers } from '../helpers/redis-server.ts';
import { eventually } from '../helpers/server.ts';

const enabled = redisTestsEnabled();
let shared: SharedRedisServers;
let serverA: RunningServer;
let serverB: RunningServer;

test.before(async () => {
  if (!enabled) return;
  // Long watches: only the store's notifications (not a re-poll) can deliver a cancel in time.
  shared = await SharedRedisServers.start(2, { watchTimeoutMs: 60_000 });
  [serverA, serverB] = shared.servers as [RunningServer, RunningServer];
});
test.after(async () => {
  if (enabled) await shared.stop();
});

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

test('a worker on A hears a cancel sent to B', async () => {
  const worker = watchOn(serverA, ['r-1', 'r-2']);
  await eventually(() => serverA.openWatches() === 1, 'the watch on A');
  assert.is((await cancelVia(serverB, 'r-1')).status, 200);
  await eventually(() => worker.heard.includes('r-1'), 'A to hear the cancel from B', 2_000);
  assert.equal(worker.heard, ['r-1']);
  await worker.stop();
});

test('a watch on A sees at once a cancel made on B before it started', async () => {
  assert.is((await cancelVia(serverB, 'r-early')).status, 200);
  const reply = await (await fetch(`${serverA.url}/v1/watch?ids=r-early,r-other`)).json();
  assert.equal(reply.cancelled, ['r-early']);
  assert.is(reply.records[0].reason, 'via the other server');
});

test('a dropped subscription (CLIENT KILL) loses no cancel published meanwhile', async () => {
  const worker = watchOn(serverA, ['r-killed']);
  await eventually(() => serverA.openWatches() === 1, 'the watch on A');
  assert.match(await shared.redis.command('CLIENT KILL TYPE pubsub'), /^:[1-9]/);
  // Published while every server's subscription is down.
  assert.is((await cancelVia(serverB, 'r-killed')).status, 200);
  await eventually(() => worker.heard.includes('r-killed'), 'A to find the cancel once resubscribed', 5_000);
  await worker.stop();
});

test('Redis down: cancels answer 503 (never a false ok), health says so; after a restart a cancel goes through', async () => {
  const worker = watchOn(serverA, ['r-outage']);
  await eventually(() => serverA.openWatches() === 1, 'the watch on A');
  await shared.redis.stop();
  const refused = await cancelVia(serverB, 'r-outage');
  assert.is(refused.status, 503);
  assert.is((await refused.json()).error.code, 'store_unavailable');
  const health = await fetch(`${serverB.url}/healthz`);
  assert.is(health.status, 503);
  assert.is((await health.json()).store.ok, false);
  assert.equal(worker.heard, []);

  await shared.redis.restart();
  await eventually(async () => (await fetch(`${serverB.url}/healthz`)).status === 200, 'B to reconnect to Redis');
  await eventually(async () => (await cancelVia(serverB, 'r-outage')).status === 200, 'the cancel to be accepted');
  await eventually(() => worker.heard.includes('r-outage'), 'A to hear it after the restart', 5_000);
  await worker.stop();
});

if (enabled) test.run();
