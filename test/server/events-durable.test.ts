// Resuming where the store keeps the window: across a restart of a sqlite server (a real process, killed
// with SIGKILL), and across servers sharing one Redis (one sequence for all of them).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunningServer } from '../../src/server/listen.ts';
import { RedisStore } from '../../src/store/redis/redis-store.ts';
import { DurableServer } from '../helpers/cli.ts';
import { type Follower, follow, post } from '../helpers/events.ts';
import { PrivateRedis, redisTestsEnabled } from '../helpers/redis-server.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

const contiguous = (seqs: readonly number[]) => seqs.every((seq, i) => i === 0 || seq === seqs[i - 1]! + 1);

test('sqlite: a client follows a server through kill -9 and restart without a gap or a duplicate; a new client resumes from before the restart', async () => {
  const server = await DurableServer.start();
  const f = follow(server.url);
  try {
    await eventually(() => f.stream.lastEventId !== undefined, 'the stream open', 30_000);
    for (let i = 0; i < 5; i++) assert.is(await post(`${server.url}/v1/tasks/d-${i}/cancel`), 200);
    await eventually(() => f.events.length === 5, 'five events');
    const beforeRestart = f.events[1]!.seq;
    await server.restart('SIGKILL');
    for (let i = 5; i < 10; i++) assert.is(await post(`${server.url}/v1/tasks/d-${i}/cancel`), 200);
    await eventually(() => f.events.length === 10, 'the five after the restart', 30_000);
    assert.ok(f.reconnects >= 1, 'the client reconnected');
    assert.equal(
      f.events.map((e) => e.id),
      Array.from({ length: 10 }, (_, i) => `d-${i}`),
    );
    assert.ok(contiguous(f.events.map((e) => e.seq)), 'one sequence across the restart');
    assert.equal(f.resets, []);
    // The window is on disk: a resume from an event made before the kill replays everything after it.
    const late = follow(server.url, { since: beforeRestart });
    await eventually(() => late.events.length === 8, 'the eight after the second event', 30_000);
    assert.equal(
      late.events.map((e) => e.seq),
      f.events.slice(2).map((e) => e.seq),
    );
    assert.equal(late.resets, []);
    await late.stop();
  } finally {
    await f.stop();
    await server.stop();
  }
});

const redisEnabled = redisTestsEnabled();
const redisTest = redisEnabled ? test : test.skip;
let redis: PrivateRedis | undefined;
const servers: RunningServer[] = [];

redisTest('Redis: servers share one sequence; a client moved from one server to another resumes without a gap', async () => {
  redis = await PrivateRedis.start();
  const [a, b] = [await startTestServer({ store: await RedisStore.connect(redis.url) }), await startTestServer({ store: await RedisStore.connect(redis.url) })];
  servers.push(a!, b!);
  const followers: Follower[] = [];
  try {
    const onA = follow(a!.url);
    followers.push(onA);
    await eventually(() => onA.stream.lastEventId !== undefined, 'the stream on A open');
    // Changes made through both servers, interleaved. A cancel is answered before its event is recorded, so
    // two made through different servers a moment apart may be recorded in either order: the test checks
    // what is promised, each change once in one sequence, not the order they were asked in.
    for (let i = 0; i < 6; i++) assert.is(await post(`${(i % 2 ? a : b)!.url}/v1/tasks/r-${i}/cancel`), 200);
    await eventually(() => onA.events.length === 6, 'A to deliver the changes made on B as well');
    assert.equal(
      onA.events.map((e) => e.id).sort(),
      Array.from({ length: 6 }, (_, i) => `r-${i}`),
    );
    assert.ok(contiguous(onA.events.map((e) => e.seq)), 'one sequence');
    const movedAt = onA.events[3]!.seq;
    await onA.stop();
    // The client's balancer sends it to B now: it resumes from what it heard on A.
    for (let i = 6; i < 9; i++) assert.is(await post(`${(i % 2 ? a : b)!.url}/v1/tasks/r-${i}/cancel`), 200);
    const onB = follow(b!.url, { since: movedAt });
    followers.push(onB);
    await eventually(() => onB.events.length === 5, 'the events after the fourth, on B');
    const notHeardOnA = [...onA.events.slice(4).map((e) => e.id), 'r-6', 'r-7', 'r-8'];
    assert.equal(onB.events.map((e) => e.id).sort(), notHeardOnA.sort());
    assert.is(onB.events[0]!.seq, movedAt + 1);
    assert.ok(contiguous(onB.events.map((e) => e.seq)));
    // Both servers read the one log: B replays exactly what it holds after the move, in its order.
    const logged = await a!.events.read(movedAt);
    assert.equal(
      onB.events.map((e) => [e.seq, e.id]),
      logged.events.map((e) => [e.seq, e.id]),
    );
  } finally {
    // A failed assertion must not leave a stream open: the file would never exit.
    await Promise.all(followers.map((f) => f.stop()));
  }
});

test.after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await redis?.stop();
});

test.run();
