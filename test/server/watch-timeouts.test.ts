// Held watches end at their timeout on the server's clock, each at its own, and one timer serves every
// watch held with the same timeout (a timer per watch was a sixth of a held watch's heap).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FakeClock } from '../helpers/fake-clock.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

test('held watches time out each at its own timeout, through one timer per timeout; a cancel or a departure ends one early', async () => {
  const clock = new FakeClock(Date.now());
  const server = await startTestServer({ clock, watchTimeoutMs: 5_000 });
  const seed = (id: string, signal?: AbortSignal) => fetch(`${server.url}/watch-task/${id}`, { signal }).then((r) => r.text());
  const first = [seed('t-1'), seed('t-2')];
  const leaving = new AbortController();
  const leaver = seed('t-leaver', leaving.signal).catch((error: Error) => error.name);
  await eventually(() => server.openWatches() === 3, 'three watches of the server timeout held');
  const timers = clock.pendingTimers;
  const more = [seed('t-3'), seed('t-4'), seed('t-cancelled')];
  const short = fetch(`${server.url}/v1/watch?ids=t-short&timeout=2s`).then((r) => r.json());
  await eventually(() => server.openWatches() === 7, 'seven watches held');
  assert.is(clock.pendingTimers, timers + 1, 'three more of the same timeout add no timer; the 2 s watch adds one');

  assert.is(await (await fetch(`${server.url}/cancel-task/t-cancelled`)).text(), 'ok');
  assert.is(await more[2], 'true');
  leaving.abort();
  assert.is(await leaver, 'AbortError');
  await eventually(() => server.openWatches() === 5, 'the cancelled watch and the one that left let go');

  clock.advance(2_000);
  assert.equal((await short).cancelled, []);
  await eventually(() => server.openWatches() === 4, 'the 2 s watch timed out alone');
  clock.advance(2_999);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.is(server.openWatches(), 4, 'none of the server timeout before it passed');
  clock.advance(1);
  assert.equal(await Promise.all([...first, more[0], more[1]]), ['false', 'false', 'false', 'false']);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /^taskctl_watch_requests_total\{outcome="timeout"\} 5$/m);
  assert.match(metrics, /^taskctl_watch_requests_total\{outcome="cancelled"\} 1$/m);
  assert.match(metrics, /^taskctl_watch_requests_total\{outcome="gone"\} 1$/m);
  await server.close();
});

test.run();
