// GET /v1/events against real servers: what the events say and in what order, filters, resuming after a
// cut (through a real TCP proxy) and from before the window, the heartbeat, shutdown, caps and roles.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tokenHash, type TokenEntry } from '../../src/server/auth.ts';
import type { RunningServer } from '../../src/server/listen.ts';
import { follow, post, readRaw } from '../helpers/events.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const worker = { id: 'w-ev', host: 'gpu-7', pid: 4242 };
const getJson = async (url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.json() };
};
const contiguous = (seqs: readonly number[]) => seqs.every((seq, i) => i === 0 || seq === seqs[i - 1]! + 1);

test('one event per change, in order, with strictly increasing ids; each shows the task as GET /v1/tasks/:id does', async () => {
  const server = await startTestServer({ progressIntervalMs: 50 });
  const f = follow(server.url);
  try {
    await eventually(() => server.events.delivered > 0 && f.stream.lastEventId !== undefined, 'the stream to open');
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['watching', () => post(`${server.url}/v1/watch`, { ids: ['life'], timeout: '100ms', worker })],
      ['progress', () => post(`${server.url}/v1/progress`, { updates: [{ id: 'life', text: '\x1b[32mepoch 3/10\x1b[0m' }] })],
      ['scheduled', () => post(`${server.url}/v1/tasks/other/cancel`, { after: '1h', reason: 'deadline' })],
      ['cancel_requested', () => post(`${server.url}/v1/tasks/life/cancel`, { reason: 'wrong dataset' })],
      ['cancelled', () => post(`${server.url}/v1/tasks/life/report`, { outcome: 'cancelled', worker })],
      ['succeeded', () => post(`${server.url}/v1/tasks/other/report`, { outcome: 'succeeded', exitCode: 0 })],
    ];
    for (const [change, act] of steps) {
      const before = f.events.length;
      await act();
      await eventually(() => f.events.some((e, i) => i >= before && e.change === change), `the ${change} event`);
    }
    // The report also dropped the scheduled cancel of "other".
    await eventually(() => f.events.some((e) => e.change === 'unscheduled'), 'the schedule dropped');
    assert.equal(
      f.events.map((e) => [e.change, e.id]),
      [
        ['watching', 'life'],
        ['progress', 'life'],
        ['scheduled', 'other'],
        ['cancel_requested', 'life'],
        ['cancelled', 'life'],
        ['succeeded', 'other'],
        ['unscheduled', 'other'],
      ],
    );
    const seqs = f.events.map((e) => e.seq);
    assert.ok(contiguous(seqs), `contiguous ids: ${seqs}`);
    assert.is(f.events[1]!.status!.progress!.text, 'epoch 3/10', 'progress arrives cleaned');
    assert.is(f.events[2]!.scheduled!.reason, 'deadline');
    assert.is(f.events[3]!.record!.reason, 'wrong dataset');
    assert.is(f.events[3]!.status!.cancelledBy!.route, 'v1');
    assert.equal(
      f.events[4]!.status!.history.map((h) => h.state),
      ['watching', 'cancel_requested', 'cancelled'],
    );
    // The last event of each task is the task as GET shows it now, field for field.
    for (const id of ['life', 'other']) {
      const { change: _change, at: _at, seq: _seq, ...shown } = f.events.filter((e) => e.id === id).at(-1)!;
      const { body } = await getJson(`${server.url}/v1/tasks/${id}`);
      assert.equal(shown, body, `${id}: the event shows what GET shows`);
    }
  } finally {
    await f.stop();
    await server.close();
  }
});

test('filters: ?ids= (an id with a comma included) and ?state=', async () => {
  const server = await startTestServer();
  const byId = follow(server.url, { ids: ['f-1', 'f,2'] });
  const byState = follow(server.url, { states: ['succeeded'] });
  const all = follow(server.url);
  try {
    await eventually(() => [byId, byState, all].every((f) => f.stream.lastEventId !== undefined), 'three streams open');
    await post(`${server.url}/v1/tasks/f-1/cancel`);
    await post(`${server.url}/v1/tasks/${encodeURIComponent('f,2')}/report`, { outcome: 'succeeded', exitCode: 0 });
    await post(`${server.url}/v1/tasks/f-3/report`, { outcome: 'succeeded', exitCode: 0 });
    await post(`${server.url}/v1/tasks/f-4/cancel`);
    await eventually(() => all.events.length === 4, 'all four events');
    await eventually(() => byId.events.length === 2 && byState.events.length === 2, 'the filtered ones');
    assert.equal(
      byId.events.map((e) => e.id),
      ['f-1', 'f,2'],
    );
    assert.equal(
      byState.events.map((e) => e.id),
      ['f,2', 'f-3'],
    );
    assert.equal(
      byState.events.map((e) => e.seq),
      all.events.slice(1, 3).map((e) => e.seq),
      'the same ids as the unfiltered stream',
    );
  } finally {
    await Promise.all([byId.stop(), byState.stop(), all.stop()]);
    await server.close();
  }
});

test('a stream cut by the network resumes with Last-Event-ID: every event once, in order', async () => {
  const server = await startTestServer();
  const proxy = await TcpProxy.start(server.port);
  const direct = follow(server.url);
  const cut = follow(proxy.url, { idleTimeoutMs: 2_000 });
  try {
    await eventually(() => direct.stream.lastEventId !== undefined && cut.stream.lastEventId !== undefined, 'both streams open');
    for (let i = 0; i < 10; i++) await post(`${server.url}/v1/tasks/cut-${i}/cancel`);
    await eventually(() => cut.events.length === 10, 'the first ten through the proxy');
    proxy.cut();
    for (let i = 10; i < 25; i++) await post(`${server.url}/v1/tasks/cut-${i}/cancel`);
    await eventually(() => cut.disconnects.length > 0, 'the cut to be noticed');
    proxy.restore();
    for (let i = 25; i < 30; i++) await post(`${server.url}/v1/tasks/cut-${i}/cancel`);
    await eventually(() => direct.events.length === 30 && cut.events.length >= 30, 'all thirty on both', 15_000);
    assert.ok(cut.reconnects >= 1, 'it reconnected');
    assert.equal(
      cut.events.map((e) => e.seq),
      direct.events.map((e) => e.seq),
      'no gap, no duplicate',
    );
    assert.equal(
      cut.events.map((e) => e.id),
      Array.from({ length: 30 }, (_, i) => `cut-${i}`),
    );
    assert.equal(cut.resets, []);
  } finally {
    await Promise.all([direct.stop(), cut.stop()]);
    await proxy.close();
    await server.close();
  }
});

test('a resume inside the window replays exactly what came after; from before it, a reset and then live events', async () => {
  const server = await startTestServer({ eventWindow: { maxEvents: 5, maxAgeMs: 60_000 } });
  const direct = follow(server.url);
  try {
    await eventually(() => direct.stream.lastEventId !== undefined, 'the stream open');
    for (let i = 0; i < 12; i++) await post(`${server.url}/v1/tasks/w-${i}/cancel`);
    await eventually(() => direct.events.length === 12, 'twelve events');
    const seqs = direct.events.map((e) => e.seq);

    const inside = follow(server.url, { since: seqs[8] });
    await eventually(() => inside.events.length === 3, 'the three after the ninth');
    assert.equal(
      inside.events.map((e) => e.id),
      ['w-9', 'w-10', 'w-11'],
    );
    assert.equal(inside.resets, []);
    await inside.stop();

    const before = follow(server.url, { since: seqs[2] });
    await eventually(() => before.resets.length === 1, 'the reset');
    assert.match(before.resets[0]!.reason, `the events after ${seqs[2]} are no longer kept`);
    assert.is(before.resets[0]!.seq, seqs[11], 'it goes on from the newest event');
    assert.equal(before.events, [], 'no stale event after the reset');
    await post(`${server.url}/v1/tasks/w-12/cancel`);
    await eventually(() => before.events.length === 1, 'a live event after the reset');
    assert.is(before.events[0]!.id, 'w-12');
    await before.stop();

    // An id from another sequence (a server that started over) is a reset too, raw over HTTP.
    const raw = await readRaw(`${server.url}/v1/events`, /event: reset[\s\S]*\n\n/, { headers: { 'last-event-id': String(seqs[11]! + 1_000) } });
    assert.is(raw.status, 200);
    assert.match(raw.text, /^retry: 1000\n\nevent: reset\nid: \d+\ndata: \{"reason":"event \d+ is not from this server's sequence/);
  } finally {
    await direct.stop();
    await server.close();
  }
});

test('the stream says where it starts, keeps proxies awake with a comment line, and comes from taskctl', async () => {
  const server = await startTestServer({ eventsHeartbeatMs: 100 });
  try {
    const { status, text, headers } = await readRaw(`${server.url}/v1/events`, /: keepalive\n/);
    assert.is(status, 200);
    assert.match(headers.get('content-type')!, /^text\/event-stream/);
    assert.is(headers.get('cache-control'), 'no-cache');
    assert.ok(headers.get('taskctl-version'));
    assert.match(text, /^retry: 1000\nid: \d+\n\n(: keepalive\n\n)+$/);
    assert.is(Number(/id: (\d+)/.exec(text)![1]), server.events.delivered);
  } finally {
    await server.close();
  }
});

test('stopping the server ends every stream cleanly, and the client sees the end', async () => {
  const server = await startTestServer();
  const f = follow(server.url);
  const raw = readRaw(`${server.url}/v1/events`, /the server is stopping/);
  await eventually(async () => (await fetch(`${server.url}/metrics`).then((r) => r.text())).includes('taskctl_open_event_streams 2'), 'two streams open');
  await server.close();
  assert.match((await raw).text, /: the server is stopping\n\n$/);
  await eventually(() => f.disconnects.length > 0, 'the client to hear the end');
  assert.match(f.disconnects[0]!, 'ended the event stream');
  await f.stop();
});

test('streams have their own cap (--max-event-streams), apart from watches: past it new streams get 503 + Retry-After, while watches still find room', async () => {
  const server = await startTestServer({ maxOpenWatches: 1, maxEventStreams: 1, watchTimeoutMs: 30_000 });
  const stop = new AbortController();
  try {
    const stream = await fetch(`${server.url}/v1/events`, { signal: stop.signal });
    assert.is(stream.status, 200);
    const refusedStream = await fetch(`${server.url}/v1/events`);
    assert.is(refusedStream.status, 503);
    assert.is(refusedStream.headers.get('retry-after'), '1');
    assert.is((await refusedStream.json()).error.code, 'too_many_watches');
    const watch = fetch(`${server.url}/v1/watch?ids=held&timeout=30s`, { signal: stop.signal }).catch(() => undefined);
    await eventually(() => server.openWatches() === 1, "the watch held beside the stream: a stream takes no watch's place");
    stop.abort();
    await watch;
    await eventually(async () => {
      const res = await fetch(`${server.url}/v1/events`);
      const ok = res.status === 200;
      await res.body?.cancel();
      return ok;
    }, 'room for a stream again once the first ended');
  } finally {
    stop.abort();
    await server.close();
  }
});

const TOKENS = { worker: 'tok-w', operator: 'tok-o', reader: 'tok-r', admin: 'tok-a' } as const;

test("reading the stream is listing: reader, operator and admin may, a worker gets 403; progress is a worker's to send", async () => {
  const tokens: TokenEntry[] = Object.entries(TOKENS).map(([role, token]) => ({ name: role, role: role as TokenEntry['role'], sha256: tokenHash(token) }));
  const server = await startTestServer({ tokens });
  try {
    for (const role of ['reader', 'operator', 'admin'] as const) {
      const raw = await readRaw(`${server.url}/v1/events`, /id: \d+\n\n/, { headers: { authorization: `Bearer ${TOKENS[role]}` } });
      assert.is(raw.status, 200, role);
    }
    const refused = await getJson(`${server.url}/v1/events`, { authorization: `Bearer ${TOKENS.worker}` });
    assert.is(refused.status, 403);
    assert.match(refused.body.error.message, 'needs the operator or reader role');
    assert.is((await getJson(`${server.url}/v1/events`)).status, 401);
    const progress = { updates: [{ id: 'p', text: 'x' }] };
    assert.is(await post(`${server.url}/v1/progress`, progress, TOKENS.worker), 202);
    assert.is(await post(`${server.url}/v1/progress`, progress, TOKENS.operator), 202);
    assert.is(await post(`${server.url}/v1/progress`, progress, TOKENS.reader), 403);
  } finally {
    await server.close();
  }
});

test('bad input is a 400 in JSON: since, Last-Event-ID, state, ids; progress bodies', async () => {
  const server = await startTestServer();
  try {
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['/v1/events?since=abc', {}, /since: must be an event id/],
      ['/v1/events', { 'last-event-id': '12x' }, /must be an event id/],
      ['/v1/events?state=running', {}, /each state one of watching/],
      ['/v1/events?ids=..', {}, /ids\.0/],
      ['/v1/events?what=1', {}, /unrecognized key/i],
    ];
    for (const [path, headers, message] of cases) {
      const { status, body } = await getJson(`${server.url}${path}`, headers);
      assert.is(status, 400, path);
      assert.is(body.error.code, 'invalid_request', path);
      assert.match(body.error.message, message, path);
    }
    for (const bad of [{}, { updates: [] }, { updates: [{ id: 'a/b', text: 'x' }] }, { updates: [{ id: 'a', text: 'x'.repeat(1_001) }] }, { updates: 'no' }]) {
      assert.is(await post(`${server.url}/v1/progress`, bad), 400, JSON.stringify(bad).slice(0, 60));
    }
  } finally {
    await server.close();
  }
});

test('progress: a flood of reports is one write and one event per interval, with the latest text', async () => {
  const server: RunningServer = await startTestServer({ progressIntervalMs: 300 });
  const f = follow(server.url, { ids: ['busy'] });
  try {
    await eventually(() => f.stream.lastEventId !== undefined, 'the stream open');
    await post(`${server.url}/v1/watch`, { ids: ['busy'], timeout: '100ms', worker });
    await eventually(() => f.events.length === 1, 'watching');
    // Fifty reports as fast as they can go, then nothing: the interval coalesces them.
    for (let i = 1; i <= 50; i++) await post(`${server.url}/v1/progress`, { updates: [{ id: 'busy', text: `line ${i}` }] });
    await eventually(async () => (await getJson(`${server.url}/v1/tasks/busy`)).body.status.progress?.text === 'line 50', 'the latest line shown');
    await eventually(() => f.events.at(-1)?.status?.progress?.text === 'line 50', 'the latest line as an event');
    const progressEvents = f.events.filter((e) => e.change === 'progress');
    assert.ok(progressEvents.length < 50 / 2, `coalesced: ${progressEvents.length} events for 50 reports`);
    const texts = progressEvents.map((e) => e.status!.progress!.text);
    assert.equal([...new Set(texts)], texts, 'an unchanged line is never sent twice');
  } finally {
    await f.stop();
    await server.close();
  }
});

test.run();
