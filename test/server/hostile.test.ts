import { request } from 'node:http';
import { connect } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunningServer } from '../../src/server/listen.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

let server: RunningServer;
test.before(async () => {
  server = await startTestServer({ watchTimeoutMs: 1_000, maxOpenWatches: 3 });
  await fetch(`${server.url}/cancel-task/precious`);
});
test.after(() => server.close());

async function expectJsonError(res: Response, status: number, code: string): Promise<string> {
  assert.is(res.status, status, `${res.url} -> ${res.status}`);
  assert.match(res.headers.get('content-type') ?? '', 'application/json');
  const body = await res.json();
  assert.is(body.error.code, code);
  assert.type(body.error.message, 'string');
  return body.error.message;
}

const post = (path: string, body: string | Uint8Array, type = 'application/json') =>
  fetch(server.url + path, { method: 'POST', headers: { 'content-type': type }, body });

test('bad ids get 400 invalid_task_id', async () => {
  for (const path of [
    `/cancel-task/${'a'.repeat(300)}`,
    '/cancel-task/a%00b',
    '/watch-task/a%20b',
    '/cancel-task/a%2Fb',
    '/v1/tasks/%0A',
    '/v1/tasks/%E2%80%A8',
  ]) {
    await expectJsonError(await fetch(server.url + path), 400, 'invalid_task_id');
  }
  await expectJsonError(await fetch(`${server.url}/v1/tasks/${'x'.repeat(300)}/cancel`, { method: 'POST' }), 400, 'invalid_task_id');
});

/** A GET with the path exactly as given: fetch() would resolve "." and ".." segments before sending. */
function rawGet(path: string): Promise<{ status: number; body: string; version: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, version: res.headers['taskctl-version'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('ids that cannot travel in a URL or could disguise themselves are refused by the server', async () => {
  for (const path of [
    '/cancel-task/.',
    '/cancel-task/..',
    '/v1/tasks/..',
    '/cancel-task/%2E%2E',
    '/cancel-task/abc%E2%80%AEfdp',
    '/cancel-task/a%E2%80%8Bb',
    '/watch-task/%EF%BB%BFa',
  ]) {
    const res = await rawGet(path);
    assert.is(res.status, 400, path);
    assert.is(JSON.parse(res.body).error.code, 'invalid_task_id', path);
  }
  assert.equal(await server.canceler.store.find(['.', '..', 'abc\u202Efdp', 'a\u200Bb'], Date.now()), [], 'none was stored');
});

test('GET /v1/watch takes ids repeated and comma-separated; an id with a comma travels as %2C', async () => {
  await fetch(`${server.url}/cancel-task/${encodeURIComponent('job,7')}`);
  const reply = await (await fetch(`${server.url}/v1/watch?ids=a,b&ids=job%2C7&timeout=1s`)).json();
  assert.equal(reply.cancelled, ['job,7']);
  const none = await (await fetch(`${server.url}/v1/watch?ids=a,b&ids=c&timeout=200ms`)).json();
  assert.equal(none.cancelled, []);
});

test('every answer carries taskctl-version, errors and unparseable requests included; the latter as JSON', async () => {
  for (const path of ['/ping', '/cancel-task/v-1', '/watch-task/v-1', '/v1/tasks/v-1', '/nope', '/v1/tasks/a%2Fb', '/healthz', '/metrics']) {
    const res = await fetch(server.url + path);
    assert.match(res.headers.get('taskctl-version') ?? '', /^\d+\.\d+\.\d+/, path);
    await res.arrayBuffer();
  }
  const reply = await new Promise<string>((resolve) => {
    const socket = connect(server.port, '127.0.0.1', () => socket.end('GARBAGE \x00\x01 nonsense\r\n\r\n'));
    let data = '';
    socket.on('data', (chunk) => (data += chunk));
    socket.on('close', () => resolve(data));
  });
  assert.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(reply, /\r\ntaskctl-version: \d+\.\d+\.\d+/);
  assert.is(JSON.parse(reply.split('\r\n\r\n')[1]!).error.code, 'invalid_request');
});

test('broken percent-encoding gets 400', async () => {
  await expectJsonError(await fetch(`${server.url}/cancel-task/%E0%A4%A`), 400, 'invalid_request');
});

test('bad watch requests get 400 with the first problem', async () => {
  assert.match(await expectJsonError(await fetch(`${server.url}/v1/watch?ids=a&timeout=soon`), 400, 'invalid_request'), 'not a duration');
  assert.match(await expectJsonError(await fetch(`${server.url}/v1/watch?ids=a&timeout=1ms`), 400, 'invalid_request'), 'at least');
  await expectJsonError(await fetch(`${server.url}/v1/watch`), 400, 'invalid_request');
  await expectJsonError(await fetch(`${server.url}/v1/watch?ids=a,,b`), 400, 'invalid_request');
  await expectJsonError(await fetch(`${server.url}/v1/watch?ids=a&color=red`), 400, 'invalid_request');
  await expectJsonError(await post('/v1/watch', JSON.stringify({ ids: [] })), 400, 'invalid_request');
  await expectJsonError(await post('/v1/watch', JSON.stringify({ ids: 'a' })), 400, 'invalid_request');
  await expectJsonError(await post('/v1/watch', JSON.stringify({ ids: Array.from({ length: 10_001 }, (_, i) => `id${i}`) })), 400, 'invalid_request');
  await expectJsonError(await post('/v1/watch', JSON.stringify({ ids: ['ok', 'not ok'] })), 400, 'invalid_request');
});

test('broken, wrongly typed and huge JSON bodies are refused', async () => {
  await expectJsonError(await post('/v1/tasks/x/cancel', '{"reason":'), 400, 'invalid_json');
  await expectJsonError(await post('/v1/tasks/x/cancel', '[1,2]'), 400, 'invalid_request');
  await expectJsonError(await post('/v1/tasks/x/cancel', JSON.stringify({ reason: 42 })), 400, 'invalid_request');
  await expectJsonError(await post('/v1/tasks/x/cancel', JSON.stringify({ reason: 'r'.repeat(2_000) })), 400, 'invalid_request');
  // A NUL no store could share (PostgreSQL's text refuses it, and failed the cancels committed beside it).
  assert.match(await expectJsonError(await post('/v1/tasks/x/cancel', JSON.stringify({ reason: 'a\u0000b' })), 400, 'invalid_request'), 'NUL');
  await expectJsonError(await post('/v1/tasks/x/cancel', 'reason=x', 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type');
  const huge = new Uint8Array(5 * 1024 * 1024).fill(0x20);
  await expectJsonError(await post('/v1/watch', huge), 413, 'payload_too_large');
  const task = await (await fetch(`${server.url}/v1/tasks/x`)).json();
  assert.is(task.cancelled, false, 'no refused request cancelled anything');
});

test('unknown routes get 404 and wrong methods 405 with Allow', async () => {
  await expectJsonError(await fetch(`${server.url}/nope`), 404, 'not_found');
  await expectJsonError(await fetch(`${server.url}/cancel-task/`), 404, 'not_found');
  const wrong = await fetch(`${server.url}/v1/tasks/x/cancel`);
  assert.is(wrong.headers.get('allow'), 'POST');
  await expectJsonError(wrong, 405, 'method_not_allowed');
  await expectJsonError(await fetch(`${server.url}/ping`, { method: 'DELETE' }), 405, 'method_not_allowed');
});

test('past the open-watch limit a watch gets 503 with Retry-After', async () => {
  const held = Array.from({ length: 3 }, () => fetch(`${server.url}/watch-task/busy`).then((r) => r.text()));
  await eventually(() => server.openWatches() >= 3, 'three watches to be held');
  const refused = await fetch(`${server.url}/watch-task/busy`);
  assert.is(refused.headers.get('retry-after'), '1');
  await expectJsonError(refused, 503, 'too_many_watches');
  await fetch(`${server.url}/cancel-task/busy`);
  assert.equal(await Promise.all(held), ['true', 'true', 'true']);
});

test('a garbage request line gets a 400 and the server goes on', async () => {
  const reply = await new Promise<string>((resolve) => {
    const socket = connect(server.port, '127.0.0.1', () => socket.end('GARBAGE \x00\x01 nonsense\r\n\r\n'));
    let data = '';
    socket.on('data', (chunk) => (data += chunk));
    socket.on('close', () => resolve(data));
  });
  assert.match(reply, /^HTTP\/1\.1 400/);
});

test('a GET with a body, from a stranger, is refused at once and its connection closed: the rest is never read', async () => {
  // A chunked body that has begun and not ended: answered 400 and closed, not read for as long as it comes.
  const result = await new Promise<{ reply: string; endedByServer: boolean }>((resolve) => {
    const socket = connect(server.port, '127.0.0.1', () =>
      socket.write('GET /ping HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n'),
    );
    let reply = '';
    let endedByServer = false;
    socket.on('data', (data) => (reply += data));
    socket.on('end', () => (endedByServer = true));
    socket.on('error', () => {});
    socket.on('close', () => resolve({ reply, endedByServer }));
    // Before the fix the server answered 200 and kept the connection for the rest of the body.
    setTimeout(() => socket.destroy(), 3_000).unref();
  });
  assert.match(result.reply, /^HTTP\/1\.1 400/, result.reply.slice(0, 100));
  assert.match(result.reply, /takes no request body/);
  assert.match(result.reply, /connection: close/i);
  assert.ok(result.endedByServer, 'the server closed the connection');
  assert.is((await fetch(`${server.url}/ping`)).status, 200, 'a GET without a body is answered as ever');
});

test('after all of it the server still answers and the stored cancel is intact', async () => {
  assert.is((await fetch(`${server.url}/ping`)).status, 200);
  assert.is(await (await fetch(`${server.url}/watch-task/precious`)).text(), 'true');
});

test.run();
