// Bounded state on a real server: caps that count ids, and no store call that stalls everyone else.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { saveStatuses } from '../../src/core/store.ts';
import type { TaskStatus } from '../../src/core/task-status.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { runCli } from '../helpers/cli.ts';
import { eventually, startTestServer, tempDir } from '../helpers/server.ts';

const post = (url: string, body: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

test('--max-watched-ids: a watch that would pass it gets 503 + Retry-After; once ids are let go, it fits', async () => {
  const server = await startTestServer({ maxWatchedIds: 5, watchTimeoutMs: 10_000 });
  try {
    const held = post(`${server.url}/v1/watch`, JSON.stringify({ ids: ['a', 'b', 'c', 'd'], timeout: '10s' })).then((r) => r.json());
    await eventually(() => server.openWatches() === 1, 'the first watch to be held');
    const refused = await post(`${server.url}/v1/watch`, JSON.stringify({ ids: ['e', 'f'], timeout: '1s' }));
    assert.is(refused.status, 503);
    assert.is(refused.headers.get('retry-after'), '1');
    const body = await refused.json();
    assert.is(body.error.code, 'too_many_watches');
    assert.match(body.error.message, 'at most 5 ids');
    const leaving = new AbortController();
    const fifth = fetch(`${server.url}/watch-task/e`, { signal: leaving.signal }).catch(() => undefined);
    await eventually(() => server.openWatches() === 2, 'one more id to fit and be held');
    leaving.abort();
    assert.is(await fifth, undefined, 'the watch was held, not answered');
    await eventually(async () => /^taskctl_watched_ids 4$/m.test(await (await fetch(`${server.url}/metrics`)).text()), 'the aborted watch to give its id back');
    await fetch(`${server.url}/cancel-task/a`);
    assert.equal((await held).cancelled, ['a']);
    const fits = await post(`${server.url}/v1/watch`, JSON.stringify({ ids: ['e', 'f'], timeout: '200ms' }));
    assert.is(fits.status, 200, 'the ids were given back when the watch ended');
  } finally {
    await server.close();
  }
});

test('a full server still answers a re-poll of a cancelled id at once, holding nothing, and counts it as seen', async () => {
  const server = await startTestServer({ maxOpenWatches: 1, watchTimeoutMs: 10_000 });
  try {
    await fetch(`${server.url}/cancel-task/done`);
    const held = fetch(`${server.url}/watch-task/busy`).then((r) => r.text());
    await eventually(() => server.openWatches() === 1, 'the first watch to be held');
    assert.is((await fetch(`${server.url}/watch-task/other`)).status, 503, 'the server is full');
    const before = Date.now();
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.url}/watch-task/done`);
      assert.is(res.status, 200);
      assert.is(await res.text(), 'true');
    }
    const batch = await post(`${server.url}/v1/watch`, JSON.stringify({ ids: ['done', 'busy'], timeout: '5s' }));
    assert.is(batch.status, 200);
    assert.equal((await batch.json()).cancelled, ['done']);
    assert.is(server.openWatches(), 1, 'only the first watch is held');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^taskctl_watch_requests_total\{outcome="cancelled"\} 4$/m);
    await eventually(async () => {
      const task = await (await fetch(`${server.url}/v1/tasks/done`)).json();
      return Date.parse(task.status?.lastSeenAt) >= before;
    }, 'the re-polls to count as the worker being seen');
    await fetch(`${server.url}/cancel-task/busy`);
    assert.is(await held, 'true');
  } finally {
    await server.close();
  }
});

test('a large watch of fresh ids and large listings are written a step at a time, /ping answered in between (100,000 tasks on sqlite)', async () => {
  const dir = tempDir();
  const store = new SqliteStore(`${dir.path}/big.db`);
  const now = Date.now();
  const existing: TaskStatus[] = Array.from({ length: 100_000 }, (_, i) => ({
    id: `old-${i}`,
    state: 'succeeded',
    since: now,
    history: [{ state: 'succeeded', at: now }],
  }));
  await saveStatuses(store, existing);
  // How the writes went: one transaction used to write all 100,000 fresh statuses at once, holding the
  // event loop for seconds. How long /ping waits is the bench's to measure (bench/bounded-state.ts).
  let largestWrite = 0;
  let writes = 0;
  const update = store.updateStatuses.bind(store);
  store.updateStatuses = (ids, apply) => {
    largestWrite = Math.max(largestWrite, ids.length);
    writes++;
    return update(ids, apply);
  };
  const server = await startTestServer({ store, watchTimeoutMs: 2_000, maxOpenWatches: 100 });
  try {
    const bodies = Array.from({ length: 10 }, (_, w) =>
      JSON.stringify({ ids: Array.from({ length: 10_000 }, (_, i) => `fresh-${w}-${i}`), timeout: '1s', worker: { id: `w${w}`, host: 'h', pid: w } }),
    );
    // The number of writes made when each /ping was answered.
    const writesAtPings: number[] = [];
    let pinging = true;
    const pinger = (async () => {
      while (pinging) {
        await (await fetch(`${server.url}/ping`)).arrayBuffer();
        writesAtPings.push(writes);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await Promise.all([
      ...bodies.map((body) => post(`${server.url}/v1/watch`, body).then((r) => r.arrayBuffer())),
      ...Array.from({ length: 20 }, () => fetch(`${server.url}/v1/tasks?limit=1000`).then((r) => r.arrayBuffer())),
    ]);
    // The statuses of the fresh ids are written behind the answers; wait until they are all there.
    await eventually(async () => (await store.countStatuses()) >= 200_000, 'the 100,000 fresh statuses to be written', 60_000);
    const allWritten = writes;
    pinging = false;
    await pinger;
    assert.ok(largestWrite <= 1_000, `the largest write held ${largestWrite} statuses; a step is at most 1,000`);
    const firstWrite = writesAtPings.findIndex((n) => n > 0);
    const between = writesAtPings.filter((n) => n > 0 && n < allWritten).length;
    assert.ok(
      between > 0,
      `no /ping was answered between the first write and the last (of ${allWritten}; pings at ${writesAtPings.slice(Math.max(0, firstWrite - 1), firstWrite + 5).join(', ')}...)`,
    );
  } finally {
    await server.close();
    dir.remove();
  }
});

test('serve: --retention must be longer than the lease', async () => {
  const result = await runCli(['serve', '--store', 'memory', '--port', '0', '--watch-timeout', '10s', '--retention', '20s']);
  assert.is(result.code, 2);
  assert.match(result.stderr, /^taskctl: --retention must be longer than the lease \(30s\)/);
});

test.run();
