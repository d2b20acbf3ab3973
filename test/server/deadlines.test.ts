// Cancels at a given time: cancel --after/--at, and the deadline work --timeout registers with the server.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CliProcess, DurableServer, runCli } from '../helpers/cli.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

const task = async (url: string, id: string) => (await fetch(`${url}/v1/tasks/${id}`)).json();

test('a cancel scheduled with "after" is 202, shows on the task, and reaches a waiting watcher when due', async () => {
  const server = await startTestServer({ watchTimeoutMs: 5_000 });
  const res = await fetch(`${server.url}/v1/tasks/later-1/cancel`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"after":"400ms","reason":"time is up"}',
  });
  assert.is(res.status, 202);
  const scheduled = await res.json();
  assert.is(scheduled.reason, 'time is up');
  assert.is((await task(server.url, 'later-1')).scheduled.reason, 'time is up');
  assert.is((await task(server.url, 'later-1')).cancelled, false, 'not before its time');
  const answer = await (await fetch(`${server.url}/watch-task/later-1`)).text();
  assert.is(answer, 'true');
  const after = await task(server.url, 'later-1');
  assert.is(after.record.reason, 'time is up');
  assert.is(after.scheduled, undefined, 'a made cancel is no longer scheduled');
  assert.is(after.status.state, 'cancel_requested');
  await server.close();
});

test('bad schedules are refused', async () => {
  const server = await startTestServer();
  for (const body of ['{"after":"soon"}', '{"at":"tomorrow"}', '{"after":"1s","at":"2030-01-01T00:00:00Z"}']) {
    const res = await fetch(`${server.url}/v1/tasks/x/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.is(res.status, 400, body);
  }
  assert.is((await runCli(['cancel', 'x', '--after', 'soon', '--server', server.url])).code, 2);
  assert.is((await runCli(['cancel', 'x', '--at', 'teatime', '--server', server.url])).code, 2);
  await server.close();
});

test('a schedule beyond a year, or at a time no clock reaches, is a 400 and stores nothing', async () => {
  const server = await startTestServer();
  try {
    for (const body of ['{"after":"100000000d"}', '{"after":"367d"}', '{"at":"9999-12-31T00:00:00Z"}', '{"at":"+275760-09-13T00:00:00.000Z"}']) {
      const res = await fetch(`${server.url}/v1/tasks/far/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.is(res.status, 400, body);
      assert.match((await res.json()).error.message, /at most 366d ahead|datetime|Invalid/i, body);
    }
    const res = await fetch(`${server.url}/v1/tasks/far`);
    assert.is(res.status, 200, 'the task stays readable');
    const body = await res.json();
    assert.is(body.scheduled, undefined, 'nothing was stored');
    const status = await runCli(['status', 'far', '--server', server.url]);
    assert.is(status.code, 0, status.stderr);
    const cli = await runCli(['cancel', 'far', '--after', '400d', '--server', server.url]);
    assert.is(cli.code, 2);
    assert.match(cli.stderr, /^taskctl: --after: at most 366d/);
    assert.is((await runCli(['work', 'far', '--timeout', '1000d', '--server', server.url])).code, 2);
  } finally {
    await server.close();
  }
});

test('a schedule stored out of range (by an older version) never makes its task unreadable', async () => {
  const store = new MemoryStore();
  await store.schedule({ id: 'old', at: 8.64e15 * 10, reason: 'from long ago' });
  const server = await startTestServer({ store });
  try {
    const res = await fetch(`${server.url}/v1/tasks/old`);
    assert.is(res.status, 200);
    assert.is((await res.json()).scheduled.at, '9999-12-31T23:59:59.999Z');
    assert.is((await runCli(['status', 'old', '--server', server.url])).code, 0);
  } finally {
    await server.close();
  }
});

test('cancel --after survives a kill -9 of the server and is made after the restart', async () => {
  const server = await DurableServer.start();
  try {
    const scheduled = await runCli(['cancel', 'nightly', '--after', '1500ms', '--reason', 'maintenance', '--server', server.url]);
    assert.is(scheduled.code, 0, scheduled.stderr);
    assert.match(scheduled.stdout, /^scheduled the cancel of nightly at \d{4}-/);
    await server.restart('SIGKILL');
    assert.is(await (await fetch(`${server.url}/watch-task/nightly`)).text(), 'true');
    assert.is((await task(server.url, 'nightly')).record.reason, 'maintenance');
  } finally {
    await server.stop();
  }
});

test('work --timeout registers its deadline: a frozen worker is still cancelled on time by the server', async () => {
  const server = await startTestServer({ watchTimeoutMs: 5_000 });
  const worker = new CliProcess([
    'work',
    'frozen',
    '--json',
    '--timeout',
    '1500ms',
    '--server',
    server.url,
    '--',
    process.execPath,
    '-e',
    'setInterval(() => {}, 1000)',
  ]);
  await worker.waitFor(/"event":"started"/);
  await eventually(async () => (await task(server.url, 'frozen')).scheduled !== undefined, 'the deadline to reach the server');
  assert.match((await task(server.url, 'frozen')).scheduled.reason, /^deadline: work --timeout 1s/);
  // A stopped process cannot keep its own time.
  worker.kill('SIGSTOP');
  await eventually(async () => (await task(server.url, 'frozen')).cancelled, 'the server to cancel at the deadline', 5_000);
  worker.kill('SIGCONT');
  const result = await worker.exited;
  assert.is(result.code, 124, 'the worker counts its own deadline as a timeout');
  await eventually(async () => (await task(server.url, 'frozen')).status?.state === 'timed_out', 'timed_out reported');
  await server.close();
});

test('a task that ends before its deadline has its scheduled cancel dropped', async () => {
  const server = await startTestServer();
  const result = await runCli([
    'work',
    'quick',
    '--timeout',
    '1h',
    '--json',
    '--server',
    server.url,
    '--',
    process.execPath,
    '-e',
    'setTimeout(() => {}, 300)',
  ]);
  assert.is(result.code, 0, result.stderr);
  const after = await task(server.url, 'quick');
  assert.is(after.status.state, 'succeeded');
  assert.is(after.scheduled, undefined);
  await server.close();
});

test.run();
