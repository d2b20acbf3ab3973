import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunningServer } from '../../src/server/listen.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

let server: RunningServer;
test.before(async () => {
  server = await startTestServer({ watchTimeoutMs: 3_000 });
});
test.after(() => server.close());

const get = (path: string, init?: RequestInit) => fetch(server.url + path, init);
const postJson = (path: string, body: unknown) =>
  fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('GET /ping answers pong', async () => {
  const res = await get('/ping');
  assert.is(res.status, 200);
  assert.equal(await res.json(), { message: 'pong' });
});

test('seed routes: a watch answers "true" when its id is cancelled while it waits', async () => {
  const started = Date.now();
  const watch = get('/watch-task/seed-1').then((r) => r.text());
  await eventually(() => server.openWatches() === 1, 'the watch to be held');
  const cancel = await get('/cancel-task/seed-1');
  assert.is(cancel.status, 200);
  assert.is(await cancel.text(), 'ok');
  assert.is(await watch, 'true');
  assert.ok(Date.now() - started < 2_500, 'woken by the cancel, not by the 3s timeout');
});

test('seed routes: a watch after the cancel answers "true" at once', async () => {
  await get('/cancel-task/seed-2');
  const res = await get('/watch-task/seed-2');
  assert.is(await res.text(), 'true');
});

test('seed routes: a watch with nothing cancelled holds until the server timeout, then answers "false"', async () => {
  const started = Date.now();
  const res = await get('/watch-task/seed-never');
  assert.is(await res.text(), 'false');
  assert.ok(Date.now() - started >= 2_900, 'held for the whole watch timeout');
});

test('POST /v1/tasks/:id/cancel stores a record with a reason and is idempotent', async () => {
  const first = await postJson('/v1/tasks/v1-1/cancel', { reason: 'wrong dataset' });
  assert.is(first.status, 200);
  const record = await first.json();
  assert.is(record.id, 'v1-1');
  assert.is(record.reason, 'wrong dataset');
  assert.ok(Date.parse(record.expiresAt) - Date.parse(record.cancelledAt) === 60_000);
  const second = await postJson('/v1/tasks/v1-1/cancel', { reason: 'again' });
  assert.equal(await second.json(), record, 'the first cancel is kept');
  const empty = await fetch(`${server.url}/v1/tasks/v1-2/cancel`, { method: 'POST' });
  assert.is(empty.status, 200, 'the body is optional');
});

test('GET /v1/tasks/:id tells whether a task is cancelled', async () => {
  assert.equal(await (await get('/v1/tasks/v1-unknown')).json(), { id: 'v1-unknown', cancelled: false });
  await postJson('/v1/tasks/v1-3/cancel', {});
  const reply = await (await get('/v1/tasks/v1-3')).json();
  assert.is(reply.cancelled, true);
  assert.is(reply.record.id, 'v1-3');
});

test('GET /v1/watch holds many ids and answers with the one cancelled', async () => {
  const watch = get('/v1/watch?ids=b-1,b-2,b-3&timeout=2s').then((r) => r.json());
  await eventually(() => server.openWatches() === 1, 'the watch to be held');
  await postJson('/v1/tasks/b-2/cancel', { reason: 'r' });
  const reply = await watch;
  assert.equal(reply.cancelled, ['b-2']);
  assert.is(reply.records[0].reason, 'r');
});

test('POST /v1/watch answers at once with every id already cancelled, and empty at its timeout', async () => {
  await postJson('/v1/tasks/p-1/cancel', {});
  await postJson('/v1/tasks/p-3/cancel', {});
  const now = await (await postJson('/v1/watch', { ids: ['p-1', 'p-2', 'p-3'] })).json();
  assert.equal(now.cancelled.sort(), ['p-1', 'p-3']);
  const started = Date.now();
  const later = await (await postJson('/v1/watch', { ids: ['p-2'], timeout: '300ms' })).json();
  assert.equal(later, { cancelled: [], records: [] });
  assert.ok(Date.now() - started >= 290, 'held for the requested timeout');
});

test('a client may ask for a shorter watch, never a longer one than the server allows', async () => {
  const started = Date.now();
  const reply = await (await get('/v1/watch?ids=cap-1&timeout=5m')).json();
  const held = Date.now() - started;
  assert.equal(reply.cancelled, []);
  assert.ok(held >= 2_900 && held < 4_500, `held ${held}ms, the server's 3s limit`);
});

test('many watchers on one id all hear one cancel', async () => {
  const watches = Array.from({ length: 200 }, () => get('/watch-task/fan-1').then((r) => r.text()));
  await eventually(() => server.openWatches() === 200, '200 watches to be held');
  await get('/cancel-task/fan-1');
  const answers = await Promise.all(watches);
  assert.ok(answers.every((a) => a === 'true'));
  assert.is(server.openWatches(), 0);
});

test('a watcher that leaves is released', async () => {
  const controller = new AbortController();
  const watch = get('/watch-task/leaver', { signal: controller.signal }).catch((e: Error) => e.name);
  await eventually(() => server.openWatches() === 1, 'the watch to be held');
  controller.abort();
  assert.is(await watch, 'AbortError');
  await eventually(() => server.openWatches() === 0 && server.canceler.stats().watchedIds === 0, 'the server to release the watch');
});

test('GET /healthz reports the store', async () => {
  const res = await get('/healthz');
  assert.is(res.status, 200);
  const body = await res.json();
  assert.is(body.status, 'ok');
  assert.equal(body.store, { kind: 'memory', ok: true });
});

test('GET /metrics speaks Prometheus text with the counts that happened', async () => {
  const text = await (await get('/metrics')).text();
  assert.match(text, /^taskctl_open_watches 0$/m);
  assert.match(text, /^taskctl_cancels_total\{route="seed"\} [1-9]/m);
  assert.match(text, /^taskctl_watch_requests_total\{outcome="cancelled"\} [1-9]/m);
  assert.match(text, /^taskctl_watch_requests_total\{outcome="timeout"\} [1-9]/m);
  assert.match(text, /^taskctl_notify_latency_seconds_count [1-9]/m);
});

test.run();
