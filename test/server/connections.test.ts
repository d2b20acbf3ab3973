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

test('past --max-connections new connections are closed on arrival; once idle ones are reaped, all is well', async () => {
  const server = await startTestServer({ maxConnections: 10, headersTimeoutMs: 1_500 });
  try {
    const hoarded = Array.from({ length: 10 }, () => openSocket(server.port, ''));
    await eventually(async () => {
      const probe = openSocket(server.port, 'GET /ping HTTP/1.1\r\nHost: x\r\n\r\n');
      const { answer } = await probe.closed;
      return answer === '';
    }, 'an 11th connection to be refused');
    // The hoarder sent nothing: its sockets go at the header timeout, and the server serves again.
    await Promise.all(hoarded.map((h) => h.closed));
    const res = await fetch(`${server.url}/metrics`);
    assert.is(res.status, 200);
    assert.match(await res.text(), /^taskctl_connections_dropped_total [1-9]/m);
  } finally {
    await server.close();
  }
});

test.run();
