// Two servers on one Redis: a worker on A confirms the cancel sent to B. B's write of cancel_requested and
// A's of cancelled race; the confirmed cancel must win every time (a task's state only moves forward).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TaskctlClient } from '../../src/client/client.ts';
import type { RunningServer } from '../../src/server/listen.ts';
import { initialWorkState, WorkStore } from '../../src/worker/work-state.ts';
import { runWork } from '../../src/worker/worker.ts';
import { redisTestsEnabled, SharedRedisServers } from '../helpers/redis-server.ts';
import { eventually } from '../helpers/server.ts';

const enabled = redisTestsEnabled();
const it = enabled ? test : test.skip;
let shared: SharedRedisServers;
let serverA: RunningServer;
let serverB: RunningServer;

test.before(async () => {
  if (!enabled) return;
  shared = await SharedRedisServers.start(2, { watchTimeoutMs: 10_000 });
  [serverA, serverB] = shared.servers as [RunningServer, RunningServer];
});
test.after(async () => {
  if (enabled) await shared.stop();
});

it('50 cancels sent to B, each confirmed by its worker on A, all end cancelled on both servers', async () => {
  const ids = Array.from({ length: 50 }, (_, i) => `mono-${i}`);
  const workers = ids.map((id) => {
    const client = new TaskctlClient({ server: serverA.url });
    const store = new WorkStore(initialWorkState(serverA.url, [id], 'watch', Date.now()));
    return runWork({
      client,
      store,
      graceMs: 1_000,
      watchTimeoutMs: 10_000,
      backoff: { baseMs: 20, capMs: 200 },
      env: process.env,
      shutdown: new AbortController().signal,
    });
  });
  await eventually(async () => (await serverA.tracker.statuses(ids)).filter((s) => s.state === 'watching').length === ids.length, 'every task watched on A');
  const cancels = await Promise.all(ids.map((id) => fetch(`${serverB.url}/v1/tasks/${id}/cancel`, { method: 'POST' })));
  assert.ok(cancels.every((res) => res.status === 200));
  // Each worker heard its cancel and delivered its report before resolving.
  assert.equal(
    await Promise.all(workers),
    ids.map(() => 0),
  );
  for (const server of [serverA, serverB]) {
    let states: string[] = [];
    await eventually(
      async () => {
        states = (await server.tracker.statuses(ids)).map((s) => s.state);
        return states.length === ids.length && states.every((state) => state === 'cancelled');
      },
      `every task cancelled as ${server === serverA ? 'A' : 'B'} sees it`,
    ).catch((error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(states)}`);
    });
  }
});

test.run();
