// Slow and idle clients are cut on the documented timeouts, and a cap on open connections keeps a client
// that hoards sockets from taking the descriptors everyone else needs.
import { connect, type Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestServer, eventually } from '../helpers/server.ts';

/** Opens a raw socket, writes `text`, and resolves with what the server answered once it closed the socket. */
function openSocket(port: number, text: string): { socket: Socket; closed: Promise<{ answer: string; afterMs: number }> } {
  const started = Date.now();
  const socket = connect(port, '127.0.0.1', () => socket.write(text));
  let answer = '';
  socket.on('data', (chunk) => (answer += chunk));
  socket.on('error', () => {});
  const closed = new Promise<{ answer: string; afterMs: number }>((resolve) => socket.on('close', () => resolve({ answer, afterMs: Date.now() - started })));
  return { socket, closed };
}

test('a client that never finishes its headers is cut at the header timeout, with a JSON 408', async () => {
  const server = await startTestServer({ headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
  try {
    const { closed } = openSocket(server.port, 'GET /ping HTTP/1.1\r\nHost: x\r\n');
    const { answer, afterMs } = await closed;
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"code":"invalid_request"/);
    // Node looked at these timeouts only every 30 s before: the cut came up to 30 s late.
    assert.ok(afterMs >= 900 && afterMs < 5_000, `cut after ${afterMs} ms`);
  } finally {
    await server.close();
  }
});

test('a request whose body trickles in is cut at the request timeout', async () => {
  const server = await startTestServer({ headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
  try {
    const { socket, closed } = openSocket(server.port, 'POST /v1/watch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    const trickle = setInterval(() => socket.writable && socket.write(' '), 200);
    const { afterMs } = await closed;
    clearInterval(trickle);
    assert.ok(afterMs >= 1_900 && afterMs < 6_000, `cut after ${afterMs} ms`);
  } finally {
    await server.close();
  }
});

test('at --max-connections a newcomer takes the place of the connection idle longest; only when every connection has a request in progress is it refused', async () => {
  const server = await startTestServer({ maxConnections: 4, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000 });
  try {
    // A hoarder holds every place with connections that send nothing (they would be cut only at the header timeout).
    const hoarded = Array.from({ length: 4 }, () => openSocket(server.port, ''));
    let hoardedClosed = 0;
    for (const { closed } of hoarded) void closed.then(() => hoardedClosed++);
    await eventually(() => server.openConnections() === 4, 'the hoarder to hold every place');
    const ping = openSocket(server.port, 'GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match((await ping.closed).answer, /^HTTP\/1\.1 200 /, 'the newcomer was served');
    assert.is(hoardedClosed, 1, 'one hoarded connection gave its place');
    // Held watches are requests in progress: they keep their places, and a newcomer finds none.
    const watches = Array.from({ length: 4 }, (_, i) => openSocket(server.port, `GET /v1/watch?ids=held-${i}&timeout=30000 HTTP/1.1\r\nHost: x\r\n\r\n`));
    await eventually(() => server.openWatches() === 4, 'four watches to be held');
    assert.is(hoardedClosed, 4, 'every hoarded connection gave its place to a watch');
    const refused = openSocket(server.port, 'GET /ping HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.is((await refused.closed).answer, '', 'refused on arrival');
    assert.is(server.openWatches(), 4, 'no held watch was cut for it');
    // A watch answered leaves its connection idle: the next newcomer takes that place.
    await server.canceler.cancel('held-0');
    await eventually(() => server.openWatches() === 3, 'the cancelled watch to be answered');
    const res = await fetch(`${server.url}/metrics`);
    assert.is(res.status, 200);
    assert.match(await res.text(), /^taskctl_connections_dropped_total 1$/m);
    for (const { socket } of watches) socket.destroy();
  } finally {
    await server.close();
  }
});

test.run();
