// Parking: once many watches are held, a held watch gives back its connection's HTTP parser, and its
// answer closes the connection. Raw sockets here, so what goes over the wire is what is checked.
import { createServer, type ServerResponse } from 'node:http';
import { getHeapSnapshot } from 'node:v8';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import { test } from 'uvu';
import { FakeClock } from '../helpers/fake-clock.ts';
import * as assert from 'uvu/assert';
import { TaskctlClient } from '../../src/client/client.ts';
import { WatchLoop } from '../../src/client/watch-loop.ts';
import { shutDown } from '../../src/server/listen.ts';
import { canPark, PARK_FROM, ParkedConnections } from '../../src/server/park-connection.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { TestCa } from '../helpers/tls.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

/** The text of a GET of `path`, as a client writes it. */
const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

/** One HTTP/1.1 connection written and read by hand. */
class RawConnection {
  #received = '';
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8').on('data', (chunk: string) => (this.#received += chunk));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static open(url: string, open: (port: number) => Socket = (port) => connect(port, '127.0.0.1')): Promise<RawConnection> {
    const socket = open(Number(new URL(url).port));
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.once(socket instanceof TLSSocket ? 'secureConnect' : 'connect', () => resolve(new RawConnection(socket)));
    });
  }

  /** Everything read and not yet taken as a response. */
  get received(): string {
    return this.#received;
  }

  get(path: string): void {
    this.socket.write(request(path));
  }

  /** The next whole response (status line, headers, a body of its Content-Length), taken off what was read. */
  async response(): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    let parsed: { status: number; headers: Record<string, string>; body: string } | undefined;
    await eventually(() => (parsed = this.#take()) !== undefined, 'a whole response');
    return parsed!;
  }

  #take() {
    const end = this.#received.indexOf('\r\n\r\n');
    if (end === -1) return undefined;
    const [statusLine, ...lines] = this.#received.slice(0, end).split('\r\n');
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length'] ?? 0);
    if (this.#received.length < end + 4 + length) return undefined;
    const body = this.#received.slice(end + 4, end + 4 + length);
    this.#received = this.#received.slice(end + 4 + length);
    return { status: Number(statusLine!.split(' ')[1]), headers, body };
  }
}

/** Until `server` holds `n` watches, and a turn later, by when each newly held one has parked. */
async function held(server: { openWatches(): number }, n: number): Promise<void> {
  await eventually(() => server.openWatches() === n, `${n} held watches`);
  await new Promise((resolve) => setImmediate(resolve));
}

test('parking works on the Node this project pins', () => {
  assert.ok(canPark, "node:http's freeParser is where parking expects it");
});

test('a parked watch is answered by its cancel, then its connection closes', async () => {
  const server = await startTestServer({ parkFrom: 0 });
  const connection = await RawConnection.open(server.url);
  connection.get('/watch-task/parked');
  await held(server, 1);
  assert.is(server.parkedConnections(), 1);
  assert.match(await (await fetch(`${server.url}/metrics`)).text(), /^taskctl_parked_connections 1$/m);
  await (await fetch(`${server.url}/cancel-task/parked`)).text();
  const answer = await connection.response();
  assert.equal([answer.status, answer.body, answer.headers.connection], [200, 'true', 'close']);
  await connection.closed;
  assert.is(server.openWatches(), 0);
  await eventually(() => server.parkedConnections() === 0, 'the closed connection no longer counted');
  await server.close();
});

/** How many objects of class `name` this process's heap holds (a snapshot, which collects garbage first). */
async function liveObjects(name: string): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const chunk of getHeapSnapshot()) chunks.push(chunk as Buffer);
  const { snapshot, nodes, strings } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const fields: string[] = snapshot.meta.node_fields;
  const types: string[] = snapshot.meta.node_types[0];
  const [typeAt, nameAt] = [fields.indexOf('type'), fields.indexOf('name')];
  let count = 0;
  for (let i = 0; i < nodes.length; i += fields.length) if (types[nodes[i + typeAt]] === 'object' && strings[nodes[i + nameAt]] === name) count++;
  return count;
}

test("a parked seed watch keeps no node:http response or request, and its answer is written as node's would be", async () => {
  const server = await startTestServer({ parkFrom: 0 });
  const before = { responses: await liveObjects('ServerResponse'), requests: await liveObjects('IncomingMessage') };
  const connections = await Promise.all(Array.from({ length: 20 }, () => RawConnection.open(server.url)));
  connections.forEach((connection, i) => connection.get(`/watch-task/lean-${i}`));
  await held(server, 20);
  await eventually(() => server.parkedConnections() === 20, 'all 20 parked');
  const kept = (await liveObjects('ServerResponse')) - before.responses;
  assert.ok(kept < 5, `${kept} responses kept for 20 parked watches`);
  const requests = (await liveObjects('IncomingMessage')) - before.requests;
  assert.ok(requests < 5, `${requests} requests kept for 20 parked watches`);
  await (await fetch(`${server.url}/cancel-task/lean-0`)).text();
  const answer = await connections[0]!.response();
  assert.equal(answer.status, 200);
  assert.equal(Object.keys(answer.headers), ['content-type', 'content-length', 'taskctl-version', 'date', 'connection']);
  assert.equal(
    [answer.headers['content-type'], answer.headers['content-length'], answer.headers.connection, answer.body],
    ['text/plain; charset=utf-8', '4', 'close', 'true'],
  );
  assert.ok(Math.abs(Date.parse(answer.headers.date!) - Date.now()) < 60_000, `a date of now: ${answer.headers.date}`);
  await connections[0]!.closed;
  // The others still hear their own: one left (gone), one times out with the server stopping ("false").
  connections[1]!.socket.destroy();
  await eventually(() => server.openWatches() === 18, 'the one that left let go');
  await (await fetch(`${server.url}/cancel-task/lean-2`)).text();
  assert.is((await connections[2]!.response()).body, 'true');
  const stopping = server.close();
  for (const connection of connections.slice(3)) assert.is((await connection.response()).body, 'false');
  await stopping;
});

test("a parked connection closes without node:http destroying its request with an error (that error's stack was a tenth of the CPU)", async () => {
  const server = await startTestServer({ parkFrom: 0 });
  // node:http formats the stack of the error it destroys a request with; a stack formatted is a call here.
  const reset: unknown[] = [];
  const previous = Error.prepareStackTrace;
  Error.prepareStackTrace = (error, frames) => {
    if ((error as NodeJS.ErrnoException).code === 'ECONNRESET') reset.push(error);
    return previous ? previous(error, frames) : [String(error), ...frames.map((frame) => `    at ${frame}`)].join('\n');
  };
  try {
    const connections = await Promise.all(Array.from({ length: 10 }, () => RawConnection.open(server.url)));
    connections.forEach((connection, i) => connection.get(`/watch-task/quiet-${i}`));
    await held(server, 10);
    await eventually(() => server.parkedConnections() === 10, 'all 10 parked');
    // Five answered (the server closes), five whose clients leave.
    for (let i = 0; i < 5; i++) await (await fetch(`${server.url}/cancel-task/quiet-${i}`)).text();
    for (const connection of connections.slice(5)) connection.socket.destroy();
    await Promise.all(connections.map((connection) => connection.closed));
    await eventually(() => server.parkedConnections() === 0, 'every parked connection closed');
    assert.is(server.openWatches(), 0);
    assert.is(reset.length, 0, 'no error made for a parked request at its close');
  } finally {
    Error.prepareStackTrace = previous;
  }
  await server.close();
});

test('below the line a held watch keeps its connection for the next request', async () => {
  const server = await startTestServer();
  const connection = await RawConnection.open(server.url);
  connection.get('/watch-task/kept');
  await held(server, 1);
  await (await fetch(`${server.url}/cancel-task/kept`)).text();
  const answer = await connection.response();
  assert.equal([answer.body, answer.headers.connection], ['true', 'keep-alive']);
  connection.get('/ping');
  assert.is((await connection.response()).status, 200);
  connection.socket.destroy();
  await server.close();
});

test('a parked watch that times out answers "false" and closes; the next poll comes on a new connection', async () => {
  const server = await startTestServer({ parkFrom: 0, watchTimeoutMs: 200 });
  const connection = await RawConnection.open(server.url);
  connection.get('/watch-task/slow');
  await held(server, 1);
  const answer = await connection.response();
  assert.equal([answer.body, answer.headers.connection], ['false', 'close']);
  await connection.closed;
  assert.is(await (await fetch(`${server.url}/watch-task/slow`, { signal: AbortSignal.timeout(2_000) })).text(), 'false');
  await server.close();
});

test("a parked watch is let go when its client leaves, half-closes, or sends more than a request's headers may hold", async () => {
  const answered: string[] = [];
  const server = await startTestServer({ parkFrom: 0, observer: { watchAnswered: (outcome) => answered.push(outcome) } });
  const leaving: Array<[string, (socket: Socket) => void]> = [
    ['closes', (socket) => socket.destroy()],
    ['half-closes', (socket) => socket.end()],
    ['sends 17 KB', (socket) => socket.write(Buffer.alloc(17 * 1024, 'x'))],
  ];
  for (const [what, leave] of leaving) {
    const connection = await RawConnection.open(server.url);
    connection.get(`/watch-task/${what.replace(/ /g, '-')}`);
    await held(server, 1);
    leave(connection.socket);
    await eventually(() => server.openWatches() === 0, `the watch of a client that ${what} is let go`);
    await connection.closed;
  }
  assert.equal(answered, ['gone', 'gone', 'gone']);
  await server.close();
});

test('what a parked client sends behind its watch is dropped; the watch is still answered, and the connection closes', async () => {
  const server = await startTestServer({ parkFrom: 0 });
  const connection = await RawConnection.open(server.url);
  connection.get('/watch-task/pipelined');
  await held(server, 1);
  connection.get('/ping');
  connection.socket.write('\r\n\x00\xff stray bytes');
  await (await fetch(`${server.url}/cancel-task/pipelined`)).text();
  const answer = await connection.response();
  assert.equal([answer.body, answer.headers.connection], ['true', 'close']);
  await connection.closed;
  assert.is(connection.received, '', 'the pipelined /ping was not answered: its client sends it again');
  await server.close();
});

test('below 257 held watches none parks; from then on each does', async () => {
  const server = await startTestServer({ watchTimeoutMs: 60_000 });
  const n = PARK_FROM + 2;
  const connections: RawConnection[] = [];
  for (let i = 0; i < n; i++) {
    const connection = await RawConnection.open(server.url);
    connection.get(`/watch-task/crowd-${i}`);
    connections.push(connection);
    await eventually(() => server.openWatches() === i + 1, `watch ${i + 1} held`);
  }
  await new Promise((resolve) => setImmediate(resolve));
  assert.is(server.parkedConnections(), 2);
  await Promise.all(connections.map((_, i) => fetch(`${server.url}/cancel-task/crowd-${i}`).then((r) => r.text())));
  const closing = await Promise.all(connections.map(async (connection) => (await connection.response()).headers.connection));
  assert.equal(closing.slice(0, PARK_FROM), Array(PARK_FROM).fill('keep-alive'));
  assert.equal(closing.slice(PARK_FROM), ['close', 'close']);
  connections.forEach((connection) => connection.socket.destroy());
  await server.close();
});

// An answer larger than both sockets' buffers take: it cannot all be written while the client reads nothing.
const STUCK_ANSWER_BYTES = 64 * 1024 * 1024;

/** A bare node:http server whose one connection is parked, with an answer its paused client is not reading. */
async function stuckParkedConnection() {
  const parked = new ParkedConnections();
  let held: ServerResponse | undefined;
  const server = createServer((_req, res) => {
    held = res;
    parked.parkWhenParsed(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const connection = await RawConnection.open(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  connection.socket.pause();
  connection.get('/held');
  await eventually(() => parked.size === 1, 'the connection parked');
  held!.end(Buffer.alloc(STUCK_ANSWER_BYTES));
  await eventually(() => held!.writableLength > 0, 'the answer waiting on the client');
  return { parked, server, connection, serverSide: held!.socket! };
}

test('a parked connection whose answer cannot be written (its client reads nothing) is closed when asked', async () => {
  const { parked, server, connection, serverSide } = await stuckParkedConnection();
  parked.destroyAll();
  assert.ok(serverSide.destroyed);
  // Reading again, the client sees the connection closed, short of the answer.
  connection.socket.resume();
  await connection.closed;
  assert.ok(connection.received.length < STUCK_ANSWER_BYTES);
  assert.is(parked.size, 0);
  await new Promise((resolve) => server.close(resolve));
});

test('a stopping server closes a parked connection whose answer its client does not read, once the drain time is up', async () => {
  const { parked, server, connection, serverSide } = await stuckParkedConnection();
  // node:http's closeAllConnections does not see the parked connection: without shutDown closing it, the
  // server would wait on it for good.
  // The drain runs on the given clock: the connection stays until it is up.
  const clock = new FakeClock();
  const stopped = shutDown(server, { close: () => {} }, new MemoryStore(), () => parked.destroyAll(), { clock, drainMs: 2_000 });
  await new Promise((resolve) => setImmediate(resolve));
  clock.advance(1_999);
  assert.not.ok(serverSide.destroyed, 'kept while the drain lasts');
  clock.advance(1);
  await stopped;
  assert.ok(serverSide.destroyed);
  connection.socket.destroy();
});

test('a server stopping answers its parked watches "false", closes their connections, and stops', async () => {
  const server = await startTestServer({ parkFrom: 0 });
  const connections = await Promise.all([1, 2, 3].map(() => RawConnection.open(server.url)));
  connections.forEach((connection, i) => connection.get(`/watch-task/stopping-${i}`));
  await held(server, 3);
  await server.close();
  for (const connection of connections) {
    const answer = await connection.response();
    assert.equal([answer.body, answer.headers.connection], ['false', 'close']);
    await connection.closed;
  }
});

test('an event stream parks too: it goes on streaming, and ends when its client closes its side or the server stops', async () => {
  const server = await startTestServer({ parkFrom: 0 });
  const streams = async () => Number(/^taskctl_open_event_streams (\d+)$/m.exec(await (await fetch(`${server.url}/metrics`)).text())![1]);
  const open = async () => {
    const connection = await RawConnection.open(server.url);
    connection.get('/v1/events');
    await eventually(() => connection.received.includes('retry: 1000'), 'the stream begun');
    await new Promise((resolve) => setImmediate(resolve));
    return connection;
  };
  const [leaving, staying] = [await open(), await open()];
  await eventually(() => server.parkedConnections() === 2, 'both streams parked');
  assert.match(staying.received, /\r\nconnection: close\r\n/i);
  await (await fetch(`${server.url}/cancel-task/streamed`)).text();
  await eventually(() => staying.received.includes('"id":"streamed"'), 'the cancel on the parked stream');
  leaving.socket.end();
  await leaving.closed;
  await eventually(async () => (await streams()) === 1, 'the stream of the client that closed its side ended');
  await server.close();
  await staying.closed;
  assert.match(staying.received, /: the server is stopping/);
});

test('a watch with a second request already behind it on its connection is not parked, and both are answered', async () => {
  const server = await startTestServer({ parkFrom: 0 });
  const connection = await RawConnection.open(server.url);
  connection.socket.write(request('/watch-task/piped') + request('/ping'));
  await held(server, 1);
  assert.is(server.parkedConnections(), 0);
  await (await fetch(`${server.url}/cancel-task/piped`)).text();
  const first = await connection.response();
  const second = await connection.response();
  assert.equal([first.body, first.headers.connection], ['true', 'keep-alive']);
  assert.equal([second.status, second.body], [200, '{"message":"pong"}']);
  connection.socket.destroy();
  await server.close();
});

test('a watch whose answer waits behind another on its connection is not parked, and both are answered in order', async () => {
  const server = await startTestServer({ parkFrom: 0 });
  const connection = await RawConnection.open(server.url);
  connection.socket.write(request('/watch-task/ahead') + request('/watch-task/behind'));
  await held(server, 2);
  assert.is(server.parkedConnections(), 0);
  await (await fetch(`${server.url}/cancel-task/behind`)).text();
  await (await fetch(`${server.url}/cancel-task/ahead`)).text();
  const [first, second] = [await connection.response(), await connection.response()];
  assert.equal([first.body, second.body, second.headers.connection], ['true', 'true', 'keep-alive']);
  connection.socket.destroy();
  await server.close();
});

test('a watch over TLS is never parked: a reconnect there costs a handshake', async () => {
  const ca = TestCa.create();
  const issued = ca.issue('park-server');
  const server = await startTestServer({ parkFrom: 0, tls: { cert: issued.cert, key: issued.key } });
  const connection = await RawConnection.open(server.url, (port) => tlsConnect({ port, host: '127.0.0.1', ca: ca.cert }));
  connection.get('/watch-task/secure');
  await held(server, 1);
  assert.is(server.parkedConnections(), 0);
  // fetch does not trust the test CA: the cancel goes through a TLS connection of our own.
  const canceller = await RawConnection.open(server.url, (port) => tlsConnect({ port, host: '127.0.0.1', ca: ca.cert }));
  canceller.get('/cancel-task/secure');
  assert.is((await canceller.response()).body, 'ok');
  const answer = await connection.response();
  assert.equal([answer.body, answer.headers.connection], ['true', 'keep-alive']);
  connection.socket.destroy();
  canceller.socket.destroy();
  await server.close();
  ca.remove();
});

test('a worker watching through parked connections hears its cancel after polls that timed out', async () => {
  const server = await startTestServer({ parkFrom: 0, watchTimeoutMs: 150 });
  let failures = 0;
  const client = new TaskctlClient({ server: server.url });
  const heard: string[] = [];
  const loop = new WatchLoop(client, ['w-1', 'w-2'], { watchTimeoutMs: 150, listener: { cancelled: (r) => heard.push(r.id), disconnected: () => failures++ } });
  const stop = new AbortController();
  const running = loop.run(stop.signal);
  // Three polls come and go (each answered "nothing yet" and closed), then the cancel lands.
  await eventually(
    async () => Number(/^taskctl_watch_requests_total\{outcome="timeout"\} (\d+)$/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1] ?? 0) >= 3,
    'three timed-out polls',
  );
  await (await fetch(`${server.url}/cancel-task/w-2`)).text();
  await eventually(() => heard.includes('w-2'), 'the cancel heard');
  assert.is(failures, 0, 'no poll failed on a closed connection');
  stop.abort();
  await running;
  await server.close();
});

test.run();
