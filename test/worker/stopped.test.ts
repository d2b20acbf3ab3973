// A worker stopped on purpose (a signal, q) says so: its tasks end `stopped`, with what stopped it, and
// never turn `lost` once the lease passes. `lost` keeps its meaning: the worker fell silent.
import { createServer, type Server } from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunningServer } from '../../src/server/listen.ts';
import { DEFAULT_WEBHOOK_EVENTS } from '../../src/server/webhook-defaults.ts';
import type { TaskLifeState } from '../../src/core/task-status.ts';
import { CliProcess } from '../helpers/cli.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

const LEASE_MS = 1_500;

/** Collects the `type` of every webhook delivery it is sent. */
async function startReceiver(): Promise<{ url: string; types: string[]; close(): Promise<void> }> {
  const types: string[] = [];
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    types.push((JSON.parse(body) as { type: string }).type);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/hook`, types, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function serverWithWebhook(url: string, events: readonly TaskLifeState[]): Promise<RunningServer> {
  return startTestServer({
    watchTimeoutMs: 1_000,
    leaseMs: LEASE_MS,
    webhooks: { endpoints: [url], secret: 's3cret', events: new Set(events), retryMs: 60_000, backoff: { baseMs: 20, capMs: 200 } },
  });
}

const statusOf = async (server: RunningServer, id: string) => (await (await fetch(`${server.url}/v1/tasks/${id}`)).json()).status;

test('SIGTERM to work: its task ends stopped (by SIGTERM), stays so past the lease, and is not a default webhook event', async () => {
  const receiver = await startReceiver();
  const server = await serverWithWebhook(receiver.url, DEFAULT_WEBHOOK_EVENTS);
  try {
    const work = new CliProcess(['work', 'interrupted-1', '--json', '--server', server.url, '--', 'sh', '-c', 'echo up; sleep 1000']);
    await work.waitFor(/"line":"up"/);
    work.kill('SIGTERM');
    assert.is((await work.exited).code, 130);
    const stopped = await statusOf(server, 'interrupted-1');
    assert.is(stopped.state, 'stopped');
    assert.is(stopped.stoppedBy, 'SIGTERM');
    assert.is(stopped.signal, 'SIGTERM');
    // The lease passes; a sweep looks for silent workers and must not call this one lost.
    const past = Date.parse(stopped.lastSeenAt) + LEASE_MS + 100;
    await eventually(() => Date.now() > past, 'the lease to pass', LEASE_MS + 1_000);
    await server.tracker.sweep();
    const after = await statusOf(server, 'interrupted-1');
    assert.is(after.state, 'stopped');
    assert.equal(
      after.history.map((h: { state: string }) => h.state),
      ['watching', 'stopped'],
    );
    // A default event made after it arrives; the stop, made before, was never sent.
    await server.canceler.cancel('marker');
    await fetch(`${server.url}/v1/tasks/marker/report`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"outcome":"cancelled"}' });
    await eventually(() => receiver.types.includes('task.cancelled'), 'the later cancelled event to be delivered');
    assert.not.ok(receiver.types.includes('task.stopped'), `sent: ${receiver.types}`);
    assert.not.ok(receiver.types.includes('task.lost'), `sent: ${receiver.types}`);
  } finally {
    await server.close();
    await receiver.close();
  }
});

test('asked for, the stopped event is delivered, with what stopped the worker', async () => {
  const receiver = await startReceiver();
  const server = await serverWithWebhook(receiver.url, ['stopped']);
  try {
    const work = new CliProcess(['work', 'interrupted-2', '--json', '--server', server.url]);
    await work.waitFor(/"event":"connected"/);
    await eventually(async () => (await statusOf(server, 'interrupted-2'))?.state === 'watching', 'the watch');
    work.kill('SIGHUP');
    assert.is((await work.exited).code, 130);
    await eventually(() => receiver.types.includes('task.stopped'), 'the stopped event to be delivered');
    assert.is((await statusOf(server, 'interrupted-2')).stoppedBy, 'SIGHUP');
  } finally {
    await server.close();
    await receiver.close();
  }
});

test('a hang-up that comes twice (the shell passes it on, the terminal sends its own) stops as one: grace, report, stopped', async () => {
  const server = await startTestServer({ watchTimeoutMs: 1_000 });
  try {
    // The command ignores SIGTERM, so the grace runs out: a second SIGHUP taken as "now" would exit before it,
    // unreported, and the task would turn lost.
    const work = new CliProcess([
      'work',
      'hung-up-twice',
      '--json',
      '--grace',
      '1s',
      '--server',
      server.url,
      '--',
      'sh',
      '-c',
      'trap "" TERM; echo ready; sleep 600',
    ]);
    await work.waitFor(/"line":"ready"/);
    work.kill('SIGHUP');
    await work.waitFor(/"event":"interrupted".*"signal":"SIGHUP"/);
    work.kill('SIGHUP');
    const result = await work.exited;
    assert.is(result.code, 130, result.stdout);
    assert.match(result.stdout, /"event":"killing".*"signal":"SIGKILL"/);
    const status = await statusOf(server, 'hung-up-twice');
    assert.is(status.state, 'stopped');
    assert.is(status.stoppedBy, 'SIGHUP');
  } finally {
    await server.close();
  }
});

test.run();
