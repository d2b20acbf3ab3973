import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TaskctlClient } from '../../src/client/client.ts';
import { initialWorkState, type WorkEvent, WorkStore } from '../../src/worker/work-state.ts';
import { runWork } from '../../src/worker/worker.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { TestCa } from '../helpers/tls.ts';

const FAST_BACKOFF = { baseMs: 20, capMs: 200 };

let ca: TestCa;
test.before(() => {
  ca = TestCa.create();
});
test.after(() => ca.remove());

function startWork(client: TaskctlClient, ids: string[], command?: string[]) {
  const store = new WorkStore(initialWorkState(client.server, ids, command ? 'command' : 'watch', Date.now()));
  const events: WorkEvent[] = [];
  store.subscribe((event) => events.push(event));
  const exitCode = runWork({
    client,
    store,
    command,
    graceMs: 5_000,
    watchTimeoutMs: 2_000,
    backoff: FAST_BACKOFF,
    env: process.env,
    shutdown: new AbortController().signal,
  });
  return {
    store,
    events,
    exitCode,
    has: (predicate: (e: WorkEvent) => boolean) => events.some(predicate),
    stateOf: (id: string) => store.state.tasks.get(id)!.state,
  };
}

test("the seed's scenario over TLS: cut off by a real proxy, cancelled meanwhile, hears it (and who) once the link is back", async () => {
  const issued = ca.issue('seed-server');
  const server = await startTestServer({ tls: { cert: issued.cert, key: issued.key } });
  const proxy = await TcpProxy.start(server.port);
  const client = new TaskctlClient({ server: proxy.url.replace('http:', 'https:'), ca: ca.cert });
  const work = startWork(client, ['1234']);
  await eventually(() => server.openWatches() === 1, 'the watch to be held');
  proxy.cut();
  await eventually(() => work.has((e) => e.event === 'disconnected'), 'the worker to notice the cut');
  await server.canceler.cancel('1234', { reason: 'while you were away', by: { name: 'ops', address: '10.0.0.7', route: 'v1' } });
  await eventually(() => work.events.filter((e) => e.event === 'disconnected').length >= 3, 'a few failed retries');
  assert.is(work.stateOf('1234'), 'watching');
  proxy.restore();
  await eventually(() => work.stateOf('1234') === 'cancelled', 'the cancel to arrive after the link came back');
  assert.ok(work.has((e) => e.event === 'reconnected'));
  const cancelled = work.events.find((e) => e.event === 'cancelled');
  assert.equal(cancelled && cancelled.event === 'cancelled' && cancelled.by, { name: 'ops', address: '10.0.0.7', route: 'v1' });
  assert.is(work.store.state.tasks.get('1234')!.cancelledBy, 'ops');
  assert.is(await work.exitCode, 0);
  await proxy.close();
  await server.close();
});

test('an untrusted server is not retried: no command starts (the server could not say its task is not cancelled) and work ends with 5', async () => {
  const issued = ca.issue('expired-server', { days: -1 });
  const server = await startTestServer({ tls: { cert: issued.cert, key: issued.key } });
  const client = new TaskctlClient({ server: server.url, ca: ca.cert });
  const work = startWork(client, ['t-1'], [process.execPath, '-e', 'setInterval(() => {}, 1000)']);
  assert.is(await work.exitCode, 5);
  const refused = work.events.find((e) => e.event === 'refused');
  assert.ok(refused && refused.event === 'refused' && refused.kind === 'untrusted');
  assert.match(work.store.state.refusal!, /is not trusted: its certificate has expired$/);
  assert.not.ok(
    work.has((e) => e.event === 'disconnected'),
    'never retried',
  );
  assert.not.ok(
    work.has((e) => e.event === 'started'),
    'the command started',
  );
  await server.close();
});

test.run();
