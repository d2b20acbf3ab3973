import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TaskctlClient } from '../../src/client/client.ts';
import type { RunningServer } from '../../src/server/listen.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { initialWorkState, type WorkEvent, WorkStore } from '../../src/worker/work-state.ts';
import { runWork } from '../../src/worker/worker.ts';
import { CliProcess } from '../helpers/cli.ts';
import { eventually, startTestServer, tempDir } from '../helpers/server.ts';
import { freePort, TcpProxy } from '../helpers/tcp-proxy.ts';

const FAST_BACKOFF = { baseMs: 20, capMs: 200 };

/** Runs `work` in-process against `server` and records its events. */
function startWork(server: string, ids: string[], extra: { command?: string[]; graceMs?: number; taskTimeoutMs?: number; watchTimeoutMs?: number } = {}) {
  const client = new TaskctlClient({ server });
  const store = new WorkStore(initialWorkState(server, ids, extra.command ? 'command' : 'watch', Date.now()));
  const events: WorkEvent[] = [];
  store.subscribe((event) => events.push(event));
  const shutdown = new AbortController();
  const exitCode = runWork({
    client,
    store,
    command: extra.command,
    graceMs: extra.graceMs ?? 5_000,
    taskTimeoutMs: extra.taskTimeoutMs,
    watchTimeoutMs: extra.watchTimeoutMs ?? 2_000,
    backoff: FAST_BACKOFF,
    env: process.env,
    shutdown: shutdown.signal,
  });
  const has = (predicate: (e: WorkEvent) => boolean) => events.some(predicate);
  return { store, events, exitCode, shutdown, has, stateOf: (id: string) => store.state.tasks.get(id)!.state };
}

const cancel = (server: RunningServer, id: string, reason?: string) => server.canceler.cancel(id, reason ? { reason } : {});

test('cancelling one of two ids stops only that one; the other goes on until it is cancelled too', async () => {
  const server = await startTestServer();
  const work = startWork(server.url, ['1234', '5678']);
  await eventually(() => server.openWatches() === 1, 'one long poll for both ids');
  await cancel(server, '1234', 'wrong data');
  await eventually(() => work.stateOf('1234') === 'cancelled', '1234 to be cancelled');
  assert.is(work.stateOf('5678'), 'watching');
  assert.is(work.store.state.tasks.get('1234')!.reason, 'wrong data');
  await eventually(() => server.openWatches() === 1, 'the poll to go on for 5678');
  await cancel(server, '5678');
  assert.is(await work.exitCode, 0);
  assert.is(work.events.at(-1)!.event, 'done');
  await server.close();
});

test("the seed's scenario: cut off by a real proxy, cancelled meanwhile, hears it as soon as the link is back", async () => {
  const server = await startTestServer();
  const proxy = await TcpProxy.start(server.port);
  const work = startWork(proxy.url, ['1234']);
  await eventually(() => server.openWatches() === 1, 'the watch to be held');
  proxy.cut();
  await eventually(() => work.has((e) => e.event === 'disconnected'), 'the worker to notice the cut');
  await cancel(server, '1234', 'while you were away');
  // Still cut: the worker cannot know yet.
  await eventually(() => work.events.filter((e) => e.event === 'disconnected').length >= 3, 'a few failed retries');
  assert.is(work.stateOf('1234'), 'watching');
  proxy.restore();
  await eventually(() => work.stateOf('1234') === 'cancelled', 'the cancel to arrive after the link came back', 5_000);
  assert.ok(work.has((e) => e.event === 'reconnected'));
  assert.is(await work.exitCode, 0);
  await proxy.close();
  await server.close();
});

test('server killed (kill -9) and restarted on its durable store while the worker waits', async () => {
  const dir = tempDir();
  const port = await freePort();
  const args = ['serve', '--port', String(port), '--store', `sqlite:${dir.path}/taskctl.db`, '--watch-timeout', '2s'];
  let serverProcess = new CliProcess(args);
  await serverProcess.waitFor(/listening/);
  const url = `http://127.0.0.1:${port}`;
  const client = new TaskctlClient({ server: url });
  const work = startWork(url, ['1234', '5678']);
  await eventually(() => work.has((e) => e.event === 'connected'), 'the worker to connect');
  await client.cancel('1234');
  await eventually(() => work.stateOf('1234') === 'cancelled', '1234 cancelled before the crash');
  serverProcess.kill('SIGKILL');
  await serverProcess.exited;
  await eventually(() => work.has((e) => e.event === 'disconnected'), 'the worker to notice the crash');
  // While the server is down, a cancel is written to its store (as another server process would).
  const store = new SqliteStore(`${dir.path}/taskctl.db`);
  await store.insert({ id: '5678', reason: 'during the outage', cancelledAt: Date.now(), expiresAt: Date.now() + 60_000 }, Date.now());
  await store.close();
  serverProcess = new CliProcess(args);
  await serverProcess.waitFor(/listening/);
  assert.is(await work.exitCode, 0);
  assert.is(work.store.state.tasks.get('5678')!.reason, 'during the outage');
  assert.ok(work.has((e) => e.event === 'reconnected'));
  client.close();
  serverProcess.kill();
  await serverProcess.exited;
  dir.remove();
});

test('a worker started before its server says connected when the server first answers, not reconnected', async () => {
  const port = await freePort();
  const work = startWork(`http://127.0.0.1:${port}`, ['1234']);
  await eventually(() => work.has((e) => e.event === 'disconnected'), 'the worker to find no server');
  const server = await startTestServer({ port });
  await eventually(() => server.openWatches() === 1, 'the watch to be held once the server is up');
  assert.ok(
    work.has((e) => e.event === 'connected'),
    'its first contact is reported as connected',
  );
  assert.not.ok(
    work.has((e) => e.event === 'reconnected'),
    'it was never connected before, so nothing was reconnected',
  );
  await cancel(server, '1234');
  assert.is(await work.exitCode, 0);
  await server.close();
});

test('command mode: a child that ignores SIGTERM is killed after the grace period', async () => {
  const server = await startTestServer();
  const stubborn = `process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('ready', process.env.TASKCTL_TASK_ID); setInterval(() => {}, 1000);`;
  const work = startWork(server.url, ['job'], { command: [process.execPath, '-e', stubborn], graceMs: 300 });
  await eventually(() => work.store.state.tasks.get('job')!.lastLine === 'ready job', 'the child to start with its task id');
  const pid = work.store.state.tasks.get('job')!.pid!;
  await cancel(server, 'job');
  assert.is(await work.exitCode, 0);
  const kills = work.events.flatMap((e) => (e.event === 'killing' ? [e.signal] : []));
  assert.equal(kills, ['SIGTERM', 'SIGKILL']);
  assert.ok(work.has((e) => e.event === 'output' && e.line === 'ignoring SIGTERM'));
  const exited = work.events.find((e) => e.event === 'exited');
  assert.is(exited && exited.event === 'exited' && exited.signal, 'SIGKILL');
  assert.is(work.stateOf('job'), 'cancelled');
  assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the child is gone');
  await server.close();
});

test('command mode: each command runs once per id; exits 0 and 1 decide the exit code; finished tasks stop being watched', async () => {
  const server = await startTestServer();
  const script = `process.exit(process.env.TASKCTL_TASK_ID === 'bad' ? 1 : 0)`;
  const work = startWork(server.url, ['good', 'bad'], { command: [process.execPath, '-e', script] });
  assert.is(await work.exitCode, 1);
  assert.is(work.stateOf('good'), 'succeeded');
  assert.is(work.stateOf('bad'), 'failed');
  await eventually(() => server.openWatches() === 0, 'no watch left open');
  await server.close();
});

test('--timeout is handled like a cancel and ends with 124', async () => {
  const server = await startTestServer();
  const work = startWork(server.url, ['slow'], { command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'], taskTimeoutMs: 200 });
  assert.is(await work.exitCode, 124);
  assert.is(work.stateOf('slow'), 'timed_out');
  assert.ok(work.has((e) => e.event === 'killing' && e.signal === 'SIGTERM'));
  await server.close();
});

test('interrupting work stops the commands as on cancel and ends with 130', async () => {
  const server = await startTestServer();
  const work = startWork(server.url, ['a', 'b'], { command: [process.execPath, '-e', 'console.log("up"); setInterval(() => {}, 1000)'] });
  await eventually(() => [...work.store.state.tasks.values()].every((t) => t.lastLine === 'up'), 'both commands to run');
  work.shutdown.abort('SIGINT');
  assert.is(await work.exitCode, 130);
  assert.equal(work.events.filter((e) => e.event === 'killing').length, 2);
  await server.close();
});

test('a stopping server answers the watch once and does not make the worker spin', async () => {
  const server = await startTestServer({ watchTimeoutMs: 30_000 });
  const work = startWork(server.url, ['spin']);
  await eventually(() => server.openWatches() === 1, 'the watch');
  await server.close();
  await eventually(() => work.has((e) => e.event === 'disconnected'), 'the worker to see the server gone');
  assert.ok(work.events.filter((e) => e.event === 'answered').length <= 2, `answered ${work.events.filter((e) => e.event === 'answered').length} times`);
  work.shutdown.abort('SIGINT');
  assert.is(await work.exitCode, 130);
});

test('a thousand watched ids take two connections: two polls of one watch session', async () => {
  const server = await startTestServer();
  const proxy = await TcpProxy.start(server.port);
  const ids = Array.from({ length: 1_000 }, (_, i) => `bulk-${i}`);
  const work = startWork(proxy.url, ids);
  // The worker polls its session twice at once: one is held while the other's answer travels.
  await eventually(() => server.openWatches() === 2 && server.canceler.stats().watchedIds === 1_000, 'two polls of a session of all 1000 ids');
  assert.is(proxy.openConnections, 2);
  await cancel(server, 'bulk-500');
  await eventually(() => work.stateOf('bulk-500') === 'cancelled', 'bulk-500 to be cancelled');
  await eventually(() => server.openWatches() === 2 && server.canceler.stats().watchedIds === 999, 'two polls to go on for the other 999');
  // The report of bulk-500's end used a connection of its own, closed once answered.
  await eventually(async () => (await server.tracker.statuses(['bulk-500']))[0]?.state === 'cancelled', 'the cancel to be confirmed');
  await eventually(() => proxy.openConnections === 2, 'a connection per poll, and no more');
  work.shutdown.abort('SIGINT');
  assert.is(await work.exitCode, 130);
  await proxy.close();
  await server.close();
});

test.run();
