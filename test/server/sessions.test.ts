// Watch sessions: a worker with many ids polls by the session's name and what changed, and nothing
// cancelled between two polls is missed.
import { createServer, request as httpRequest, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ClientError, TaskctlClient } from '../../src/client/client.ts';
import { WatchLoop, type WatchLoopOptions } from '../../src/client/watch-loop.ts';
import { SESSION_MIN_IDS } from '../../src/protocol/limits.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { FakeServer, TASKCTL_HEADERS } from '../helpers/fake-server.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const many = (prefix: string, n = SESSION_MIN_IDS + 44) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const post = (url: string, body: unknown) =>
  fetch(`${url}/v1/watch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const watchedIds = async (url: string) => Number(/^taskctl_watched_ids (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())![1]);

/** What a worker sends to POST /v1/watch: its ids (asking to keep them), or a poll of a session. */
interface SentWatch {
  ids?: string[];
  keep?: boolean;
  replaces?: string;
  session?: string;
  remove?: string[];
}

/** A fake taskctl server that answers /ping and hands every watch, its body parsed, to `onWatch`. */
function fakeWatchServer(onWatch: (watch: SentWatch, res: ServerResponse) => void): Promise<FakeServer> {
  return FakeServer.start((req, res) => {
    if (req.url === '/ping') return void res.writeHead(200, TASKCTL_HEADERS).end('{"message":"pong"}');
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => onWatch(JSON.parse(body) as SentWatch, res));
  });
}

/** A cancel record as a server sends it. */
const record = (id: string) => ({ id, cancelledAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-02T00:00:00.000Z' });

/** A WatchLoop on `ids` running through `client` until end(): the ids it heard cancelled, the failures it reported and their attempt numbers. */
function startLoop(client: TaskctlClient, ids: readonly string[], options: Omit<WatchLoopOptions, 'listener'> = {}) {
  const heard: string[] = [];
  const failures: ClientError[] = [];
  const attempts: number[] = [];
  const listener = {
    cancelled: (r: { id: string }) => heard.push(r.id),
    disconnected: (e: ClientError, attempt: number) => {
      failures.push(e);
      attempts.push(attempt);
    },
  };
  const loop = new WatchLoop(client, ids, { ...options, listener });
  const stop = new AbortController();
  const running = loop.run(stop.signal);
  return {
    loop,
    heard,
    failures,
    attempts,
    async end() {
      stop.abort();
      await running;
      client.close();
    },
  };
}

test('a kept watch is answered at once with its session; polls by name answer cancels made during and between them, once each', async () => {
  const server = await startTestServer({ watchTimeoutMs: 5_000 });
  try {
    const ids = many('s');
    await server.canceler.cancel('s-1', { reason: 'before' });
    // Not held for its 30 s: the request that makes a session is answered with its name.
    const opening = await fetch(`${server.url}/v1/watch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ids, timeout: '30s', keep: true }),
      signal: AbortSignal.timeout(2_000),
    });
    const first = await opening.json();
    assert.equal(first.cancelled, []);
    assert.type(first.session, 'string');
    assert.is(await watchedIds(server.url), ids.length - 1, 'the session holds the ids between polls');
    // A cancel made before the session: the first poll answers it at once.
    const early = await (await post(server.url, { session: first.session, timeout: '5s' })).json();
    assert.equal(early.cancelled, ['s-1']);
    assert.is(early.records[0].reason, 'before');
    // During a poll.
    const held = post(server.url, { session: first.session, timeout: '5s' }).then((r) => r.json());
    await eventually(() => server.openWatches() === 1, 'the poll to be held');
    await server.canceler.cancel('s-7', { reason: 'during' });
    const during = await held;
    assert.equal(during.cancelled, ['s-7']);
    assert.is(during.records[0].reason, 'during');
    assert.is(during.session, first.session);
    // Between polls: kept for the next one, which answers at once.
    await server.canceler.cancel('s-8', { reason: 'between' });
    const between = await (await post(server.url, { session: first.session, timeout: '5s' })).json();
    assert.equal(between.cancelled, ['s-8']);
    // Each once: the next poll waits (and times out) instead of answering them again.
    const quiet = await (await post(server.url, { session: first.session, timeout: '200ms' })).json();
    assert.equal(quiet.cancelled, []);
    assert.is(await watchedIds(server.url), ids.length - 3, 'cancelled ids left the session');
  } finally {
    await server.close();
  }
});

test('a session holds two polls: a cancel answers the oldest and the other waits for the next; a third poll ends the oldest', async () => {
  const server = await startTestServer({ watchTimeoutMs: 5_000 });
  try {
    const { session } = await (await post(server.url, { ids: many('two'), timeout: '100ms', keep: true })).json();
    const poll = () => post(server.url, { session, timeout: '5s' }).then((r) => r.json());
    const first = poll();
    await eventually(() => server.openWatches() === 1, 'the first poll to be held');
    const second = poll();
    await eventually(() => server.openWatches() === 2, 'both polls to be held');
    await server.canceler.cancel('two-1');
    assert.equal((await first).cancelled, ['two-1'], 'the oldest poll answers');
    assert.is(server.openWatches(), 1, 'the other is still held, for the next cancel while the worker polls again');
    await server.canceler.cancel('two-2');
    assert.equal((await second).cancelled, ['two-2']);
    const [a, b] = [poll(), poll()];
    await eventually(() => server.openWatches() === 2, 'two more polls to be held');
    const c = poll();
    assert.equal((await a).cancelled, [], 'a third poll ends the oldest, without cancels');
    await eventually(() => server.openWatches() === 2, 'the newer two held');
    await server.canceler.cancel('two-3');
    assert.equal((await b).cancelled, ['two-3']);
    await server.canceler.cancel('two-4');
    assert.equal((await c).cancelled, ['two-4']);
  } finally {
    await server.close();
  }
});

test('removed ids are no longer watched; an unknown session is 409 session_unknown; few ids get no session', async () => {
  const server = await startTestServer({ watchTimeoutMs: 5_000 });
  try {
    const ids = many('r');
    const { session } = await (await post(server.url, { ids, timeout: '100ms', keep: true })).json();
    // An id named many times is taken out once: its copies do not count off ids the session still holds.
    const held = post(server.url, { session, remove: ['r-1', 'r-2', ...Array(500).fill('r-2')], timeout: '1s' }).then((r) => r.json());
    await eventually(() => server.openWatches() === 1, 'the poll to be held');
    assert.is(await watchedIds(server.url), ids.length - 2);
    await server.canceler.cancel('r-1');
    assert.equal((await held).cancelled, [], 'a removed id no longer answers the session');
    const unknown = await post(server.url, { session: 'no-such-session', timeout: '1s' });
    assert.is(unknown.status, 409);
    assert.is((await unknown.json()).error.code, 'session_unknown');
    // An id named twice in the watch that makes a session is held once, and let go once.
    const twice = await (await post(server.url, { ids: [...many('t'), ...Array(50).fill('t-1')], timeout: '100ms', keep: true })).json();
    assert.is(await watchedIds(server.url), 2 * ids.length - 2, 'each id of the new session counted once');
    await post(server.url, { session: twice.session, remove: many('t'), timeout: '100ms' });
    assert.is(await watchedIds(server.url), ids.length - 2, 'all of them counted off as they leave');
    const small = await (await post(server.url, { ids: ['a', 'b'], timeout: '100ms', keep: true })).json();
    assert.is(small.session, undefined, 'a watch on a few ids is not worth a session');
  } finally {
    await server.close();
  }
});

test('a session nobody polls ends after its idle time and gives its ids back; shutdown answers a held poll', async () => {
  // The server clock, not the wall's: on a loaded machine the second session could idle out on its own
  // between being made and being polled.
  const clock = new FakeClock(Date.now());
  const server = await startTestServer({ clock, watchTimeoutMs: 5_000, sessionIdleMs: 300 });
  const { session } = await (await post(server.url, { ids: many('idle'), timeout: '100ms', keep: true })).json();
  assert.is(await watchedIds(server.url), many('idle').length, 'held until its idle time passes');
  clock.advance(300);
  assert.is(await watchedIds(server.url), 0, 'the idle session ended and gave its ids back');
  assert.is((await post(server.url, { session, timeout: '1s' })).status, 409);
  const other = await (await post(server.url, { ids: many('down'), timeout: '100ms', keep: true })).json();
  const held = post(server.url, { session: other.session, timeout: '5s' }).then((r) => r.json());
  await eventually(() => server.openWatches() === 1, 'the poll to be held');
  await server.close();
  assert.equal((await held).cancelled, [], 'stopping answers the poll "not cancelled"');
});

test('a session never polled (its worker never got the answer naming it) ends sooner than one polled, on the server clock', async () => {
  const clock = new FakeClock(Date.now());
  const server = await startTestServer({ clock, watchTimeoutMs: 5_000, sessionIdleMs: 60_000 });
  try {
    const polled = await (await post(server.url, { ids: many('polled'), timeout: '100ms', keep: true })).json();
    await post(server.url, { ids: many('orphan'), timeout: '100ms', keep: true });
    const poll = post(server.url, { session: polled.session, timeout: '1s' }).then((r) => r.json());
    await eventually(() => server.openWatches() === 1, 'the poll to be held');
    clock.advance(1_000);
    assert.equal((await poll).cancelled, [], 'the poll timed out on the server clock');
    // A sixth of the idle time (10 s) for the one never polled; the whole minute from its last answer for the other.
    clock.advance(8_999);
    assert.is(await watchedIds(server.url), 2 * many('polled').length, 'both kept before the sixth');
    clock.advance(1);
    assert.is(await watchedIds(server.url), many('polled').length, 'the session never polled ended at a sixth of the idle time');
    clock.advance(50_999);
    assert.is(await watchedIds(server.url), many('polled').length, 'the polled session is kept for the whole idle time');
    clock.advance(1);
    assert.is(await watchedIds(server.url), 0, 'and ends when it passes');
    assert.is((await post(server.url, { session: polled.session, timeout: '100ms' })).status, 409);
  } finally {
    await server.close();
  }
});

test('an ancestor cancelled stops every id of the session at once', async () => {
  const server = await startTestServer({ watchTimeoutMs: 5_000 });
  try {
    const ids = many('kid');
    const { session } = await (await post(server.url, { ids, parents: ['job-1'], timeout: '100ms', keep: true })).json();
    const held = post(server.url, { session, timeout: '5s' }).then((r) => r.json());
    await eventually(() => server.openWatches() === 1, 'the poll to be held');
    await server.canceler.cancel('job-1', { reason: 'abort the pipeline' });
    const answer = await held;
    assert.is(answer.parent.id, 'job-1');
    assert.is(answer.cancelled.length, ids.length);
    assert.is((await post(server.url, { session, timeout: '1s' })).status, 409, 'nothing left: the session ended');
  } finally {
    await server.close();
  }
});

test('WatchLoop: with many ids the polls after the first carry the session and what changed, not the ids', async () => {
  const server = await startTestServer({ watchTimeoutMs: 5_000 });
  // A real proxy in front of the server that keeps each request body it forwards.
  const bodies: string[] = [];
  const proxy = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      if (req.url === '/v1/watch') bodies.push(body);
      const upstream = httpRequest(`${server.url}${req.url}`, { method: req.method, headers: req.headers }, (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      });
      // A poll still held when the test ends is cut with the server: that is the end, not a failure.
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const client = new TaskctlClient({ server: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
  const ids = many('loop');
  const { loop, heard, end } = startLoop(client, ids, { watchTimeoutMs: 2_000 });
  try {
    await eventually(() => server.openWatches() === 2, 'the session (answered at once) and its two polls');
    await server.canceler.cancel('loop-3');
    await eventually(() => heard.includes('loop-3'), 'the cancel to be heard');
    loop.remove('loop-9');
    await server.canceler.cancel('loop-4');
    await eventually(() => heard.includes('loop-4'), 'the second cancel');
    // The removal rides on the first poll sent after it, which may be the one after loop-4's answer.
    const removes = () => bodies.some((body) => JSON.parse(body).remove?.includes('loop-9'));
    await eventually(removes, 'a poll that takes loop-9 out of the session');
    const sent = bodies.map((body) => JSON.parse(body));
    assert.ok(sent[0].ids.length === ids.length && sent[0].keep === true, 'the first poll sends the ids and asks to keep them');
    assert.ok(
      sent.slice(1).every((b) => b.ids === undefined && typeof b.session === 'string'),
      'later polls name the session instead',
    );
    assert.not.ok(heard.includes('loop-9'));
  } finally {
    await end();
    proxy.closeAllConnections();
    proxy.close();
    await server.close();
  }
});

test('WatchLoop: the last id heard ends the loop at once, though the other poll is still held', async () => {
  const server = await startTestServer({ watchTimeoutMs: 30_000 });
  const client = new TaskctlClient({ server: server.url });
  const ids = many('last');
  const loop = new WatchLoop(client, ids, { watchTimeoutMs: 30_000 });
  let ended = false;
  const running = loop.run(new AbortController().signal).then(() => (ended = true));
  try {
    await eventually(() => server.openWatches() === 2, 'both polls of the session held');
    // Removed here, not yet told to the server: the session there still holds them, and a poll with them.
    for (const id of ids.slice(1)) loop.remove(id);
    await server.canceler.cancel(ids[0]!);
    await eventually(() => ended, "the loop to end with its last id heard, not at the held poll's timeout");
    await running;
  } finally {
    client.close();
    await server.close();
  }
});

test('WatchLoop: sessions made and failing at once wait longer each time, and an id removed while one is being made leaves it', async () => {
  const sent: SentWatch[] = [];
  let opening: (() => void) | undefined;
  const server = await fakeWatchServer((watch, res) => {
    sent.push(watch);
    const reply = () => res.writeHead(200, TASKCTL_HEADERS).end(JSON.stringify({ cancelled: [], records: [], session: `s${sent.length}` }));
    // The first session's making is answered when the test says; every poll fails as behind a balancer
    // whose backend is gone.
    if (watch.ids && sent.length === 1) opening = reply;
    else if (watch.ids) reply();
    else res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>');
  });
  const client = new TaskctlClient({ server: server.url });
  const { loop, attempts, end } = startLoop(client, many('rm'), { backoff: { baseMs: 10, capMs: 10_000 } });
  try {
    await eventually(() => opening !== undefined, 'the watch that makes a session');
    loop.remove('rm-3');
    opening!();
    await eventually(() => sent.some((w) => w.remove?.includes('rm-3')), 'a poll of the new session that takes rm-3 out');
    await eventually(() => attempts.length >= 4, 'four failures');
    assert.equal(attempts.slice(0, 4), [1, 2, 3, 4], 'each failure counted on, though a session was made in between');
  } finally {
    await end();
    await server.close();
  }
});

test('WatchLoop: a server that forgot the session (restarted) gets the ids again, and nothing is missed', async () => {
  const first = await startTestServer({ watchTimeoutMs: 5_000 });
  const client = new TaskctlClient({ server: first.url });
  const { heard, failures, end } = startLoop(client, many('forget'), { watchTimeoutMs: 2_000, backoff: { baseMs: 20, capMs: 100 } });
  let second: Awaited<ReturnType<typeof startTestServer>> | undefined;
  try {
    await eventually(() => first.openWatches() === 2, 'the two polls of the session');
    await first.close();
    // A new server on the same address knows no session: the next poll gets 409 (or failed, while no server
    // listened), and the ids go again.
    second = await startTestServer({ watchTimeoutMs: 5_000, port: first.port });
    await second.canceler.cancel('forget-5');
    await eventually(() => heard.includes('forget-5'), 'the cancel, through a new session', 10_000);
    assert.not.ok(
      failures.some((e) => e.code === 'session_unknown'),
      'a forgotten session is no failure to report',
    );
  } finally {
    await end();
    await second?.close();
  }
});

test('WatchLoop: an answer lost on the way (its connection reset) is not a cancel lost: the ids go again, the old session ends', async () => {
  const server = await startTestServer({ watchTimeoutMs: 5_000 });
  const proxy = await TcpProxy.start(server.port);
  const client = new TaskctlClient({ server: proxy.url });
  const ids = many('lost');
  const { heard, end } = startLoop(client, ids, { watchTimeoutMs: 5_000, backoff: { baseMs: 20, capMs: 100 } });
  try {
    await eventually(() => server.openWatches() === 2, 'both polls of the session held');
    // The server answers the held poll with lost-3 and takes it out of the session; the answer never arrives.
    const dropped = proxy.dropNextReply();
    await server.canceler.cancel('lost-3', { reason: 'while the answer was lost' });
    await dropped;
    await eventually(() => heard.includes('lost-3'), 'the cancel whose answer was lost');
    assert.is(await watchedIds(server.url), ids.length - 1, 'the old session was ended, not left holding its ids until it expires');
  } finally {
    await end();
    await proxy.close();
    await server.close();
  }
});

test('WatchLoop: a full server turns one poll away and the other stays held; a failure that may have lost an answer sends the ids again', async () => {
  const sent: string[] = [];
  const held: ServerResponse[] = [];
  let cutShort = 0;
  let sessions = 0;
  let polls = 0;
  const server = await fakeWatchServer((watch, res) => {
    sent.push(watch.ids ? `ids${watch.replaces ? ` replacing ${watch.replaces}` : ''}` : `poll ${watch.session}`);
    if (watch.ids) return void res.writeHead(200, TASKCTL_HEADERS).end(JSON.stringify({ cancelled: [], records: [], session: `s${++sessions}` }));
    polls++;
    // The second poll: turned away by the server itself, full (nothing was taken out of the session).
    if (polls === 2) return void res.writeHead(503, TASKCTL_HEADERS).end(JSON.stringify({ error: { code: 'too_many_watches', message: 'full' } }));
    // The fourth: a proxy's 502, behind which the server's answer may be lost.
    if (polls === 4) return void res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>');
    held.push(res);
    res.on('close', () => res.writableEnded || cutShort++);
  });
  const client = new TaskctlClient({ server: server.url });
  const { heard, failures, end } = startLoop(client, many('err'), { backoff: { baseMs: 10, capMs: 20 } });
  try {
    // The refused poll asks again by itself; the first poll is still held, and its answer is heard.
    await eventually(() => polls === 3, 'the refused poll to ask again');
    assert.is(cutShort, 0, 'the held poll was not cut short when the other was turned away');
    assert.equal(failures, [], 'no link down to report while a poll is held');
    held
      .shift()!
      .writeHead(200, TASKCTL_HEADERS)
      .end(JSON.stringify({ cancelled: ['err-5'], records: [record('err-5')] }));
    await eventually(() => heard.includes('err-5'), 'the cancel the held poll carried');
    await eventually(() => sent.includes('ids replacing s1'), 'the ids again, after the 502');
    assert.equal(sent.slice(0, 5), ['ids', 'poll s1', 'poll s1', 'poll s1', 'poll s1'], 'the 503 cost one poll again, not the ids');
    assert.equal(sent.slice(5, 6), ['ids replacing s1'], 'after the 502 the ids go again, naming the old session');
  } finally {
    await end();
    await server.close();
  }
});

test('WatchLoop: behind a balancer that spreads the polls over servers that each keep their own sessions, the worker soon watches without one', async () => {
  const servers = [await startTestServer({ watchTimeoutMs: 5_000 }), await startTestServer({ watchTimeoutMs: 5_000 })];
  const balancer = await TcpProxy.start(servers.map((s) => s.port));
  const client = new TaskctlClient({ server: balancer.url });
  const ids = many('spread');
  const { heard, end } = startLoop(client, ids, { watchTimeoutMs: 5_000, backoff: { baseMs: 20, capMs: 100 } });
  try {
    // Each session is forgotten by the server the other poll reaches; after three, a plain watch is held.
    // A worker that went on opening sessions would by then have made hundreds of connections.
    await eventually(() => servers[0]!.openWatches() + servers[1]!.openWatches() === 1, 'a plain watch to be held');
    assert.ok(balancer.accepted <= 10, `the worker does not spin: ${balancer.accepted} connections`);
    assert.is(servers[0]!.openWatches() + servers[1]!.openWatches(), 1, 'one plain watch held');
    const held = (await watchedIds(servers[0]!.url)) + (await watchedIds(servers[1]!.url));
    assert.ok(held <= 4 * ids.length, `at most three sessions left to expire beside the watch: ${held} ids held`);
    // With a store they shared the cancel would be on both; here it is made on each.
    for (const server of servers) await server.canceler.cancel('spread-7');
    await eventually(() => heard.includes('spread-7'), 'the cancel, through a plain watch');
  } finally {
    await end();
    await balancer.close();
    for (const server of servers) await server.close();
  }
});

test('WatchLoop: a server from before sessions refuses "keep"; the loop asks it the old way from then on', async () => {
  const seen: SentWatch[] = [];
  const old = await fakeWatchServer((watch, res) => {
    seen.push(watch);
    if (watch.keep)
      return void res.writeHead(400, TASKCTL_HEADERS).end(JSON.stringify({ error: { code: 'invalid_request', message: 'Unrecognized key: "keep"' } }));
    const id = watch.ids![0]!;
    res.writeHead(200, TASKCTL_HEADERS).end(JSON.stringify({ cancelled: [id], records: [record(id)] }));
  });
  const client = new TaskctlClient({ server: old.url });
  const { heard, failures, end } = startLoop(client, many('old'));
  try {
    await eventually(() => heard.length > 0, 'a cancel from the old server');
    assert.is(seen[0]!.keep, true);
    assert.ok(
      seen.slice(1).every((w) => w.keep === undefined && w.ids !== undefined),
      'after the refusal, the ids without keep',
    );
    assert.equal(failures, [], 'the refusal is no failure to report');
  } finally {
    await end();
    await old.close();
  }
});

test.run();
