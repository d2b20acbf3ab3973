// A task's status through its whole story, end to end: real servers, workers and child processes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TaskctlClient } from '../../src/client/client.ts';
import { initialWorkState, WorkStore } from '../../src/worker/work-state.ts';
import { runWork } from '../../src/worker/worker.ts';
import { CliProcess, DurableServer, runCli } from '../helpers/cli.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

function work(server: string, ids: string[], extra: { command?: string[]; taskTimeoutMs?: number } = {}) {
  const store = new WorkStore(initialWorkState(server, ids, extra.command ? 'command' : 'watch', Date.now()));
  const shutdown = new AbortController();
  const exitCode = runWork({
    client: new TaskctlClient({ server }),
    store,
    command: extra.command,
    graceMs: 2_000,
    taskTimeoutMs: extra.taskTimeoutMs,
    watchTimeoutMs: 2_000,
    backoff: { baseMs: 20, capMs: 200 },
    env: process.env,
    shutdown: shutdown.signal,
    worker: { id: 'test-worker', host: 'test-host', pid: 4242 },
  });
  return { exitCode, shutdown };
}

const statusOf = async (server: { url: string }, id: string) => (await (await fetch(`${server.url}/v1/tasks/${id}`)).json()).status;

test('watch -> cancel requested -> cancelled, with the worker and every step in the history', async () => {
  const server = await startTestServer({ watchTimeoutMs: 2_000 });
  const worker = work(server.url, ['life-1']);
  await eventually(async () => (await statusOf(server, 'life-1'))?.state === 'watching', 'watching');
  const watching = await statusOf(server, 'life-1');
  // The run is recorded as the token's whose watch started it (no token: anonymous).
  assert.equal(watching.worker, { id: 'test-worker', host: 'test-host', pid: 4242 });
  assert.is(watching.runBy, 'anonymous');
  await fetch(`${server.url}/v1/tasks/life-1/cancel`, { method: 'POST' });
  assert.is(await worker.exitCode, 0);
  await eventually(async () => (await statusOf(server, 'life-1'))?.state === 'cancelled', 'the worker to confirm');
  const done = await statusOf(server, 'life-1');
  assert.equal(
    done.history.map((h: { state: string }) => h.state),
    ['watching', 'cancel_requested', 'cancelled'],
  );
  await server.close();
});

test('command mode reports exits 0 and 1 as succeeded and failed, with the exit code', async () => {
  const server = await startTestServer();
  const worker = work(server.url, ['ok', 'bad'], { command: [process.execPath, '-e', "process.exit(process.env.TASKCTL_TASK_ID === 'bad' ? 1 : 0)"] });
  assert.is(await worker.exitCode, 1);
  const [ok, bad] = [await statusOf(server, 'ok'), await statusOf(server, 'bad')];
  assert.is(ok.state, 'succeeded');
  assert.is(ok.exitCode, 0);
  assert.is(bad.state, 'failed');
  assert.is(bad.exitCode, 1);
  await server.close();
});

test('a local deadline is reported as timed_out', async () => {
  const server = await startTestServer();
  const worker = work(server.url, ['slow'], { command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'], taskTimeoutMs: 300 });
  assert.is(await worker.exitCode, 124);
  assert.is((await statusOf(server, 'slow')).state, 'timed_out');
  await server.close();
});

test('a worker killed with SIGKILL goes lost after the lease; a new worker brings it back and gets the cancel made meanwhile', async () => {
  const server = await startTestServer({ watchTimeoutMs: 1_000, leaseMs: 1_500 });
  const victim = new CliProcess(['work', 'orphan', '--json', '--server', server.url, '--watch-timeout', '1s']);
  await victim.waitFor(/"event":"connected"/);
  await eventually(async () => (await statusOf(server, 'orphan'))?.state === 'watching', 'watching');
  victim.kill('SIGKILL');
  await victim.exited;
  await eventually(async () => (await statusOf(server, 'orphan'))?.state === 'lost', 'lost after the lease', 6_000);
  const listed = await (await fetch(`${server.url}/v1/tasks?state=lost`)).json();
  assert.equal(
    listed.tasks.map((t: { id: string }) => t.id),
    ['orphan'],
  );
  await eventually(async () => /taskctl_tasks_lost_total 1/.test(await (await fetch(`${server.url}/metrics`)).text()), 'the lost counter', 3_000);
  await fetch(`${server.url}/v1/tasks/orphan/cancel`, { method: 'POST' });
  // One task and a listing read it the same way: a cancel no worker confirmed yet.
  const listedAfterCancel = await (await fetch(`${server.url}/v1/tasks`)).json();
  assert.is((await statusOf(server, 'orphan')).state, 'cancel_requested');
  assert.equal(
    listedAfterCancel.tasks.map((t: { id: string; state: string }) => [t.id, t.state]),
    [['orphan', 'cancel_requested']],
  );
  const rescuer = work(server.url, ['orphan']);
  assert.is(await rescuer.exitCode, 0, 'the new worker hears the cancel made while the task was lost');
  await eventually(async () => (await statusOf(server, 'orphan'))?.state === 'cancelled', 'cancelled');
  const history = (await statusOf(server, 'orphan')).history.map((h: { state: string }) => h.state);
  assert.equal(history, ['watching', 'lost', 'cancel_requested', 'cancelled']);
  await server.close();
});

test('states survive a server restart on sqlite; taskctl status and ls show them', async () => {
  const server = await DurableServer.start();
  const url = server.url;
  try {
    const worker = work(url, ['kept-ok'], { command: [process.execPath, '-e', 'process.exit(0)'] });
    assert.is(await worker.exitCode, 0);
    await runCli(['cancel', 'kept-asked', '--server', url, '--reason', 'no longer needed']);
    await server.restart('SIGKILL');

    const status = await runCli(['status', 'kept-ok', 'kept-asked', 'never-seen', '--server', url]);
    assert.is(status.code, 0, status.stderr);
    assert.match(status.stdout, /^TASK\s+STATE\s+SINCE\s+WORKER\s+DETAIL/);
    assert.match(status.stdout, /^kept-ok\s+succeeded\s+\S+ ago\s+test-host:4242 \(test-worker\)\s+exit 0/m);
    assert.match(status.stdout, /^kept-asked\s+cancel_requested\s+.*reason: no longer needed/m);
    assert.match(status.stdout, /^never-seen\s+unknown/m);
    const json = await runCli(['status', 'kept-ok', '--json', '--server', url]);
    assert.is(JSON.parse(json.stdout).status.state, 'succeeded');
    const ls = await runCli(['ls', '--state', 'succeeded', '--server', url]);
    assert.match(ls.stdout, /^kept-ok\s+succeeded/m);
    assert.not.match(ls.stdout, /kept-asked/);
    assert.match((await runCli(['ls', '--state', 'lost', '--server', url])).stdout, /^no tasks in state lost$/m);
  } finally {
    await server.stop();
  }
});

test('GET /v1/tasks pages in id order; bad reports and queries get 400', async () => {
  const server = await startTestServer();
  const client = new TaskctlClient({ server: server.url });
  for (let i = 0; i < 7; i++) await client.report(`page-${i}`, { outcome: 'succeeded', exitCode: 0 });
  const first = await (await fetch(`${server.url}/v1/tasks?limit=3`)).json();
  assert.equal(
    first.tasks.map((t: { id: string }) => t.id),
    ['page-0', 'page-1', 'page-2'],
  );
  assert.is(first.next, 'page-2');
  const last = await (await fetch(`${server.url}/v1/tasks?limit=5&after=page-4`)).json();
  assert.equal(
    last.tasks.map((t: { id: string }) => t.id),
    ['page-5', 'page-6'],
  );
  assert.is(last.next, undefined);
  const again = await (
    await fetch(`${server.url}/v1/tasks/page-0/report`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"outcome":"succeeded","exitCode":0}',
    })
  ).json();
  assert.equal(again.history.length, 1, 'the same report twice changes nothing');
  for (const [path, body] of [
    ['/v1/tasks/x/report', '{"outcome":"exploded"}'],
    ['/v1/tasks/x/report', '{"outcome":"failed","exitCode":"one"}'],
    ['/v1/tasks/a%20b/report', '{"outcome":"failed"}'],
  ] as const) {
    const res = await fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.is(res.status, 400, `${path} ${body}`);
  }
  assert.is((await fetch(`${server.url}/v1/tasks?state=bogus`)).status, 400);
  assert.is((await fetch(`${server.url}/v1/tasks?limit=0`)).status, 400);
  // A cursor is a task id, and each parameter is given once: anything else is a 400 with a JSON error.
  for (const path of [
    '/v1/tasks?after=a%20b',
    '/v1/tasks?after=',
    `/v1/tasks?after=${'x'.repeat(300)}`,
    '/v1/tasks?after=a&after=b',
    '/v1/tasks?parent=a&parent=b',
    '/v1/tasks?limit=5&limit=6',
    '/v1/schedules?after=%00',
    '/v1/schedules?after=a&after=b',
  ]) {
    const res = await fetch(server.url + path);
    assert.is(res.status, 400, path);
    const body = await res.json();
    assert.is(body.error.code, 'invalid_request', path);
  }
  const repeated = await (await fetch(`${server.url}/v1/tasks?after=a&after=b`)).json();
  assert.match(repeated.error.message, /after: given 2 times; give it once/);
  assert.is((await fetch(`${server.url}/v1/tasks?after=page-4&limit=2`)).status, 200);
  client.close();
  await server.close();
});

test.run();
