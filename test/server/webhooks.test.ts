// Webhooks end to end: a real receiver checks each signature as docs/webhooks.md tells users to; it goes down
// and comes back; servers restart with events queued; two servers share one Redis.
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import * as tls from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TaskReply } from '../../src/protocol/schemas.ts';
import type { RunningServer } from '../../src/server/listen.ts';
import type { WebhookConfig } from '../../src/server/webhooks.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { DurableServer } from '../helpers/cli.ts';
import { redisTestsEnabled, SharedRedisServers } from '../helpers/redis-server.ts';
import { eventually, startTestServer, tempDir } from '../helpers/server.ts';
import { freePort } from '../helpers/tcp-proxy.ts';
import { type Issued, TestCa } from '../helpers/tls.ts';

const SECRET = 'a-long-shared-secret-for-the-tests';

interface Received {
  readonly id: string;
  readonly timestamp: number;
  readonly signatureValid: boolean;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly event: { id: string; type: string; at: string; task: TaskReply };
}

/**
 * A webhook receiver on a fixed port that can go down and come back. It checks signatures the way the
 * docs/webhooks.md shows (HMAC-SHA256 of "<id>.<timestamp>.<body>"), written out here rather than imported, so a
 * change of the scheme fails the test.
 */
class Receiver {
  readonly received: Received[] = [];
  /** What it answers; 200 unless a test says otherwise. */
  status = 200;
  location: string | undefined;
  /** Takes requests and never answers them. */
  hang = false;
  /** Answers 200 with its headers, then a byte every 100 ms, never ending. */
  drip = false;
  /** Answers 200 and then sends 64 KiB chunks as fast as they are taken, never ending. */
  endless = false;
  /** TCP connections taken. */
  connections = 0;
  /** Requests taken, answered or not. */
  requests = 0;
  /** Requests open now, and the most open at once. */
  open = 0;
  mostOpen = 0;
  #server: Server | undefined;

  private constructor(
    readonly port: number,
    private readonly certificate: Issued | undefined,
  ) {}

  /** A receiver on `port` (a free one unless given), over TLS with `certificate` when given. */
  static async start(port?: number, certificate?: Issued): Promise<Receiver> {
    const receiver = new Receiver(port ?? (await freePort()), certificate);
    await receiver.up();
    return receiver;
  }

  get url(): string {
    return `${this.certificate ? 'https' : 'http'}://127.0.0.1:${this.port}/hooks/taskctl?token=in-the-query`;
  }

  eventIds(): string[] {
    return this.received.map((r) => r.id);
  }

  async up(): Promise<void> {
    const handle: RequestListener = async (req, res) => {
      this.requests++;
      this.open++;
      this.mostOpen = Math.max(this.mostOpen, this.open);
      res.on('close', () => this.open--);
      if (this.hang) return;
      if (this.drip) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const dripping = setInterval(() => res.write('.'), 100);
        res.on('close', () => clearInterval(dripping));
        return;
      }
      if (this.endless) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 'x');
        const more = () => {
          while (!res.destroyed && res.write(chunk));
        };
        res.on('drain', more);
        more();
        return;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['taskctl-webhook-id']);
      const timestamp = Number(req.headers['taskctl-webhook-timestamp']);
      const expected = `v1=${createHmac('sha256', SECRET).update(`${id}.${timestamp}.${body}`).digest('hex')}`;
      if (this.status >= 200 && this.status < 300) {
        this.received.push({
          id,
          timestamp,
          signatureValid: req.headers['taskctl-webhook-signature'] === expected,
          headers: req.headers,
          body,
          event: JSON.parse(body),
        });
      }
      res.writeHead(this.status, this.location ? { location: this.location } : {}).end('ok');
    };
    this.#server = this.certificate ? createTlsServer({ cert: this.certificate.cert, key: this.certificate.key }, handle) : createServer(handle);
    this.#server.on('connection', () => this.connections++);
    this.#server.listen(this.port, '127.0.0.1');
    await once(this.#server, 'listening');
  }

  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function webhooksTo(receivers: Receiver[], extra: Partial<WebhookConfig> = {}): WebhookConfig {
  return {
    endpoints: receivers.map((r) => r.url),
    secret: SECRET,
    events: new Set(['cancelled', 'lost', 'timed_out', 'failed', 'succeeded']),
    retryMs: 60_000,
    backoff: { baseMs: 20, capMs: 200 },
    ...extra,
  };
}

const report = (server: { url: string }, id: string, outcome: string) =>
  fetch(`${server.url}/v1/tasks/${id}/report`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ outcome, exitCode: outcome === 'failed' ? 3 : null }),
  });

async function metric(server: { url: string }, name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('an ended task is POSTed, signed as docs/webhooks.md says, with its id, type and status; other changes are not', async () => {
  const receiver = await Receiver.start();
  const server = await startTestServer({ webhooks: webhooksTo([receiver]) });
  try {
    // A cancel request is not a chosen event; the worker's report that it stopped is.
    await fetch(`${server.url}/v1/tasks/job-1/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"wrong data"}' });
    await report(server, 'job-1', 'cancelled');
    await report(server, 'job-2', 'failed');
    await eventually(() => receiver.received.length === 2, 'two events');
    const [cancelled, failed] = receiver.received;
    assert.ok(cancelled!.signatureValid && failed!.signatureValid, 'signatures check out');
    assert.is(cancelled!.event.type, 'task.cancelled');
    assert.is(cancelled!.event.id, cancelled!.id, 'the header and the body carry the same event id');
    assert.is(cancelled!.event.task.id, 'job-1');
    assert.is(cancelled!.event.task.status!.state, 'cancelled');
    assert.ok(cancelled!.event.task.cancelled);
    assert.is(cancelled!.event.task.record!.reason, 'wrong data');
    assert.is(failed!.event.type, 'task.failed');
    assert.is(failed!.event.task.status!.exitCode, 3);
    assert.not.ok(failed!.event.task.cancelled);
    assert.ok(Math.abs(cancelled!.timestamp - Date.now() / 1_000) < 60, 'the timestamp is unix seconds, now');
    assert.is(await metric(server, 'taskctl_webhook_deliveries_total{outcome="delivered"}'), 2);
    assert.is(await metric(server, 'taskctl_webhook_queue'), 0);
  } finally {
    await server.close();
    await receiver.down();
  }
});

test('a receiver that is down for a while gets every event once it is back, each id at least once', async () => {
  const receiver = await Receiver.start();
  await receiver.down();
  const server = await startTestServer({ webhooks: webhooksTo([receiver]) });
  try {
    const ids = ['d1', 'd2', 'd3', 'd4', 'd5'];
    for (const id of ids) await report(server, id, 'succeeded');
    await eventually(async () => (await metric(server, 'taskctl_webhook_deliveries_total{outcome="failed"}')) >= 5, 'tries to fail while the receiver is down');
    assert.is(await metric(server, 'taskctl_webhook_queue'), 5, 'all five stay queued');
    await receiver.up();
    await eventually(() => new Set(receiver.received.map((r) => r.event.task.id)).size === 5, 'all five events', 10_000);
    assert.equal([...new Set(receiver.received.map((r) => r.event.task.id))].sort(), ids);
    assert.ok(receiver.received.every((r) => r.signatureValid));
    await eventually(async () => (await metric(server, 'taskctl_webhook_queue')) === 0, 'the queue to empty');
  } finally {
    await server.close();
    await receiver.down();
  }
});

test('a receiver that keeps failing is given up after the retry window, and counted as dropped', async () => {
  const receiver = await Receiver.start();
  receiver.status = 500;
  const server = await startTestServer({ webhooks: webhooksTo([receiver], { retryMs: 300 }) });
  try {
    await report(server, 'doomed', 'failed');
    await eventually(async () => (await metric(server, 'taskctl_webhook_deliveries_total{outcome="dropped"}')) === 1, 'the event to be given up');
    assert.is(await metric(server, 'taskctl_webhook_queue'), 0);
    assert.is(receiver.received.length, 0);
  } finally {
    await server.close();
    await receiver.down();
  }
});

test('a redirect is a failed try, never followed to where it points', async () => {
  const elsewhere = await Receiver.start();
  const receiver = await Receiver.start();
  receiver.status = 307;
  receiver.location = elsewhere.url;
  const failures: string[] = [];
  const server = await startTestServer({
    webhooks: webhooksTo([receiver]),
    observer: { webhooks: { failed: (endpoint, error) => failures.push(`${endpoint} ${error}`) } },
  });
  try {
    await report(server, 'moved', 'succeeded');
    await eventually(() => failures.length >= 2, 'tries to fail');
    assert.match(failures[0]!, /redirect \(HTTP 307\)/);
    // The endpoint as logs show it: no query, where receivers often keep a secret.
    assert.not.match(failures[0]!, /in-the-query/);
    assert.is(elsewhere.received.length, 0);
    receiver.status = 200;
    await eventually(() => receiver.received.length === 1, 'delivery once the receiver answers 200');
  } finally {
    await server.close();
    await Promise.all([receiver.down(), elsewhere.down()]);
  }
});

test('an https receiver gets its events over TLS, its certificate checked; one whose certificate is not trusted gets nothing', async () => {
  const trustedCa = TestCa.create('receivers-ca');
  const unknownCa = TestCa.create('unknown-ca');
  // Stands in for a CA the machine trusts already (the system's store, or NODE_EXTRA_CA_CERTS).
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), trustedCa.cert]);
  const trusted = await Receiver.start(undefined, trustedCa.issue('trusted-receiver'));
  const untrusted = await Receiver.start(undefined, unknownCa.issue('untrusted-receiver'));
  const failures: string[] = [];
  const server = await startTestServer({
    webhooks: webhooksTo([trusted, untrusted]),
    observer: { webhooks: { failed: (endpoint, error) => failures.push(`${endpoint} ${error}`) } },
  });
  try {
    await report(server, 'over-tls', 'succeeded');
    await eventually(() => trusted.received.length === 1, 'the event at the trusted receiver');
    assert.ok(trusted.received[0]!.signatureValid);
    assert.is(trusted.received[0]!.event.task.id, 'over-tls');
    await eventually(() => failures.length >= 1, 'a try to the untrusted receiver to fail');
    assert.match(
      failures[0]!,
      /^https:\/\/127\.0\.0\.1:\d+\/hooks\/taskctl cannot reach it \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)$/,
    );
    assert.is(untrusted.requests, 0, 'no request is sent to a receiver that is not trusted');
  } finally {
    await server.close();
    await Promise.all([trusted.down(), untrusted.down()]);
    trustedCa.remove();
    unknownCa.remove();
  }
});

test('an answer is read no further than a small cap: an endless 200 counts as delivered, long before the deadline', async () => {
  const receiver = await Receiver.start();
  receiver.endless = true;
  const failures: string[] = [];
  const server = await startTestServer({
    webhooks: webhooksTo([receiver], { deadlineMs: 120_000 }),
    observer: { webhooks: { failed: (endpoint, error) => failures.push(`${endpoint} ${error}`) } },
  });
  try {
    await report(server, 'big-answer', 'succeeded');
    // Read to its end, the answer would hold the try until the deadline, two minutes away.
    await eventually(
      async () => (await metric(server, 'taskctl_webhook_deliveries_total{outcome="delivered"}')) === 1,
      'the try to end as delivered, its answer cut',
    );
    await eventually(() => receiver.open === 0, 'the endless answer to be cut off');
    assert.equal(failures, []);
  } finally {
    await server.close();
    await receiver.down();
  }
});

test('tries to one receiver reuse its kept-alive connection', async () => {
  const receiver = await Receiver.start();
  const server = await startTestServer({ webhooks: webhooksTo([receiver], { concurrency: 1 }) });
  try {
    const ids = ['k1', 'k2', 'k3', 'k4', 'k5'];
    for (const id of ids) {
      await report(server, id, 'succeeded');
      await eventually(() => receiver.received.length === ids.indexOf(id) + 1, `the event of ${id}`);
    }
    assert.is(receiver.connections, 1, `${ids.length} tries over ${receiver.connections} connections`);
  } finally {
    await server.close();
    await receiver.down();
  }
});

test('events queued in sqlite are sent after the server is killed and started again', async () => {
  const receiver = await Receiver.start();
  await receiver.down();
  const server = await DurableServer.start(['--no-tui', '--webhook', receiver.url, '--webhook-secret', SECRET]);
  try {
    for (const id of ['r1', 'r2', 'r3']) assert.is((await report(server, id, 'succeeded')).status, 200);
    await eventually(async () => (await metric(server, 'taskctl_webhook_deliveries_total{outcome="failed"}')) >= 3, 'a failed try of each');
    assert.is(await metric(server, 'taskctl_webhook_queue'), 3);
    await server.kill('SIGKILL');
    await receiver.up();
    await server.restart();
    await eventually(() => new Set(receiver.eventIds()).size === 3, 'the queued events after the restart', 15_000);
    assert.equal(receiver.received.map((r) => r.event.task.id).sort(), ['r1', 'r2', 'r3']);
    assert.ok(receiver.received.every((r) => r.signatureValid));
  } finally {
    await server.stop();
    await receiver.down();
  }
});

test('an event queued in a sqlite store survives close and open, with its attempts', async () => {
  const dir = tempDir();
  const receiver = await Receiver.start();
  await receiver.down();
  try {
    const path = `${dir.path}/taskctl.db`;
    const first = await startTestServer({ store: await new SqliteStore(path), webhooks: webhooksTo([receiver]) });
    await report(first, 'kept', 'timed_out');
    await eventually(async () => (await metric(first, 'taskctl_webhook_deliveries_total{outcome="failed"}')) >= 1, 'a failed try');
    await first.close();
    await receiver.up();
    const second = await startTestServer({ store: await new SqliteStore(path), webhooks: webhooksTo([receiver]) });
    await eventually(() => receiver.received.length === 1, 'the event from the first run');
    assert.is(receiver.received[0]!.event.type, 'task.timed_out');
    await second.close();
  } finally {
    await receiver.down();
    dir.remove();
  }
});

test('a receiver that trickles its answer holds back neither a healthy one nor more than its own tries, and is cut at the deadline', async () => {
  const dripping = await Receiver.start();
  dripping.drip = true;
  const healthy = await Receiver.start();
  const failures: string[] = [];
  const server = await startTestServer({
    webhooks: webhooksTo([dripping, healthy], { deadlineMs: 3_000, concurrency: 2, backoff: { baseMs: 1_000, capMs: 2_000 } }),
    observer: { webhooks: { failed: (endpoint, error) => failures.push(`${endpoint} ${error}`) } },
  });
  try {
    const ids = ['t1', 't2', 't3', 't4', 't5', 't6'];
    for (const id of ids) await report(server, id, 'succeeded');
    // Before, a round of deliveries waited for all of its tries: the healthy receiver got the first event
    // and then nothing while the other dripped.
    await eventually(() => healthy.received.length === ids.length, 'the healthy receiver to get every event while the other drips');
    assert.equal(healthy.received.map((r) => r.event.task.id).sort(), ids);
    await eventually(async () => (await metric(server, 'taskctl_webhook_timeouts_total')) >= 1, 'a dripping try to be cut at its deadline');
    assert.ok(
      failures.some((f) => /^http:\/\/127\.0\.0\.1:\d+\/hooks\/taskctl no complete answer within 3s \(timed out\)$/.test(f)),
      failures.join('\n'),
    );
    assert.ok((await metric(server, 'taskctl_webhook_deliveries_total{outcome="failed"}')) >= 1, 'a timed-out try is a failed try');
    assert.is(dripping.mostOpen, 2, 'no more tries at once than its concurrency');
  } finally {
    await server.close();
    await Promise.all([dripping.down(), healthy.down()]);
  }
});

test('a flood of events for a failing receiver costs a try per rest, not one per event, and all go once it recovers', async () => {
  const receiver = await Receiver.start();
  receiver.status = 500;
  const server = await startTestServer({ webhooks: webhooksTo([receiver], { triesPerSecond: 200 }) });
  try {
    const ids = Array.from({ length: 100 }, (_, i) => `flood-${i}`);
    for (const id of ids) await report(server, id, 'failed');
    await eventually(async () => (await metric(server, 'taskctl_webhook_deliveries_total{outcome="failed"}')) >= 12, 'some tries to fail');
    // Each event tried on its own (as before) is at least a hundred tries by now.
    assert.ok(receiver.requests < 50, `${receiver.requests} tries for ${ids.length} events`);
    assert.is(await metric(server, 'taskctl_webhook_queue'), ids.length, 'every event still queued');
    receiver.status = 200;
    await eventually(() => new Set(receiver.received.map((r) => r.event.task.id)).size === ids.length, 'every event once the receiver recovers', 15_000);
    await eventually(async () => (await metric(server, 'taskctl_webhook_queue')) === 0, 'the queue to empty');
  } finally {
    await server.close();
    await receiver.down();
  }
});

/** The code blocks of docs/webhooks.md in `language`, so that what users copy is what is tested. */
function readmeBlock(language: string, containing: string): string {
  const readme = readFileSync(new URL('../../docs/webhooks.md', import.meta.url), 'utf8');
  const blocks = [...readme.matchAll(new RegExp(`\`\`\`${language}\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);
  const block = blocks.find((b) => b.includes(containing));
  if (!block) throw new Error(`docs/webhooks.md: no ${language} block with ${containing}`);
  return block;
}

test("docs/webhooks.md's Node, Python and Go checks accept a real delivery and refuse a changed body, secret or stale timestamp", async () => {
  const receiver = await Receiver.start();
  const server = await startTestServer({ webhooks: webhooksTo([receiver]) });
  const dir = tempDir();
  try {
    await report(server, 'checked', 'succeeded');
    await eventually(() => receiver.received.length === 1, 'the event');
    const { headers, body } = receiver.received[0]!;
    const modulePath = join(dir.path, 'verify.mjs');
    writeFileSync(modulePath, readmeBlock('js', 'export function verifyTaskctlWebhook'));
    const { verifyTaskctlWebhook } = await import(pathToFileURL(modulePath).href);
    assert.ok(verifyTaskctlWebhook(SECRET, headers, body));
    assert.ok(verifyTaskctlWebhook(SECRET, headers, Buffer.from(body)), 'a Buffer body too');
    assert.not.ok(verifyTaskctlWebhook(SECRET, headers, body.replace('succeeded', 'failed')));
    assert.not.ok(verifyTaskctlWebhook('another secret', headers, body));
    assert.not.ok(verifyTaskctlWebhook(SECRET, headers, body, -1), 'refused once older than the tolerance');
    const python = `${readmeBlock('python', 'def verify_taskctl_webhook')}
import json, sys
given = json.load(sys.stdin)
body, headers = given["body"].encode(), given["headers"]
secret = given["secret"].encode()
print(json.dumps([verify_taskctl_webhook(secret, headers, body), verify_taskctl_webhook(secret, headers, body + b" "), verify_taskctl_webhook(b"x", headers, body)]))
`;
    const run = spawnSync('python3', ['-c', python], { input: JSON.stringify({ body, headers, secret: SECRET }), encoding: 'utf8' });
    assert.is(run.status, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout), [true, false, false]);
    // Go: the docs' block (its imports and function) in a program that reads the delivery on stdin. The
    // program's own imports come first, so that the block's import declaration still precedes every function.
    const goProgram = `package main

import (
	"encoding/json"
	"fmt"
	"os"
)

${readmeBlock('go', 'func VerifyTaskctlWebhook')}
func main() {
	var given struct {
		Body    string            \`json:"body"\`
		Headers map[string]string \`json:"headers"\`
		Secret  string            \`json:"secret"\`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&given); err != nil {
		panic(err)
	}
	h, body, secret := given.Headers, []byte(given.Body), []byte(given.Secret)
	check := func(secret []byte, body []byte, tolerance time.Duration) bool {
		return VerifyTaskctlWebhook(secret, h["taskctl-webhook-id"], h["taskctl-webhook-timestamp"], h["taskctl-webhook-signature"], body, tolerance)
	}
	out, _ := json.Marshal([]bool{check(secret, body, 5*time.Minute), check(secret, append(body, ' '), 5*time.Minute), check([]byte("x"), body, 5*time.Minute), check(secret, body, -time.Second)})
	fmt.Println(string(out))
}
`;
    const goPath = join(dir.path, 'verify.go');
    writeFileSync(goPath, goProgram);
    const go = spawnSync('go', ['run', goPath], { input: JSON.stringify({ body, headers, secret: SECRET }), encoding: 'utf8' });
    assert.is(go.status, 0, go.error ? `go is needed for this test (.ci/run installs golang-go): ${go.error.message}` : go.stderr);
    assert.equal(JSON.parse(go.stdout), [true, false, false, false]);
    // The re-run receiver is at least valid JavaScript (it calls a scheduler this machine does not have).
    const receiverPath = join(dir.path, 'rerun-receiver.mjs');
    writeFileSync(receiverPath, readmeBlock('js', "event.type === 'task.lost'"));
    const check = spawnSync(process.execPath, ['--check', receiverPath], { encoding: 'utf8' });
    assert.is(check.status, 0, check.stderr);
  } finally {
    await server.close();
    await receiver.down();
    dir.remove();
  }
});

test('a stop cuts a try in flight and puts it back in the queue, due at once and not counted', async () => {
  const dir = tempDir();
  const receiver = await Receiver.start();
  receiver.hang = true;
  try {
    const path = `${dir.path}/taskctl.db`;
    const first = await startTestServer({ store: new SqliteStore(path), webhooks: webhooksTo([receiver]) });
    await report(first, 'in-flight', 'succeeded');
    await eventually(() => receiver.requests === 1, 'the try to reach the receiver');
    await first.close();
    // Back in the queue, due now, and not counted as a try (a try that timed out would count).
    const store = new SqliteStore(path);
    const due = await store.claimDeliveries(Date.now(), 30_000, 10);
    await store.close();
    assert.is(due.length, 1);
    assert.is(due[0]!.attempts, 0);
    assert.match(due[0]!.body, '"id":"in-flight"');
  } finally {
    await receiver.down();
    dir.remove();
  }
});

const redisEnabled = redisTestsEnabled();

test('two servers on one Redis send each event once, a lost task seen by both included', async () => {
  if (!redisEnabled) return;
  const receiver = await Receiver.start();
  const shared = await SharedRedisServers.start(2, { webhooks: webhooksTo([receiver]), watchTimeoutMs: 1_000, leaseMs: 1_000 });
  const servers = shared.servers;
  try {
    const [a, b] = servers as [RunningServer, RunningServer];
    await report(a, 'on-a', 'succeeded');
    await report(b, 'on-b', 'failed');
    // A worker watches once through A, then is never heard again: both servers' sweeps find it lost.
    await fetch(`${a.url}/v1/watch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ids: ['quiet'], timeout: '100ms' }),
    });
    await eventually(() => receiver.received.some((r) => r.event.type === 'task.lost'), 'the lost event', 10_000);
    // Both servers sweep again (each sees the task lost), their events reach the log, and every queued
    // delivery is sent: a second copy would be among them.
    for (const server of servers) await server.tracker.sweep();
    for (const server of servers) await server.events.settled();
    await eventually(
      async () => (await a.trackedTasks()) >= 3 && (await metric(a, 'taskctl_webhook_queue')) === 0 && (await metric(b, 'taskctl_webhook_queue')) === 0,
      'the queues to empty',
    );
    await eventually(() => receiver.received.length >= 3, 'the three deliveries');
    const byTask = receiver.received.map((r) => `${r.event.task.id}:${r.event.type}`).sort();
    assert.equal(byTask, ['on-a:task.succeeded', 'on-b:task.failed', 'quiet:task.lost']);
    assert.is(new Set(receiver.eventIds()).size, 3);
  } finally {
    await shared.stop();
    await receiver.down();
  }
});

test.run();
