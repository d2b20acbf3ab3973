// Event streams whose clients never read, during a flood of events: each is cut once 256 KB wait for it
// ("slow"), all together are held under a total budget by cutting the furthest behind ("budget"), and a
// client that reads keeps every event throughout. The clients are real sockets that stop reading.
import { connect, type Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunningServer } from '../../src/server/listen.ts';
import { follow, post } from '../helpers/events.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

/** A GET /v1/events whose client stops reading once the stream has begun. */
function nonReader(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('retry:')) return;
      socket.off('data', onData);
      socket.pause();
      resolve(socket);
    };
    socket.on('data', onData).on('error', reject);
    socket.write(`GET /v1/events HTTP/1.1\r\nhost: ${hostname}\r\n\r\n`);
  });
}

async function metric(server: RunningServer, line: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(found.lastIndexOf(' ') + 1));
}

const IDS_PER_ROUND = 200;
const progressRound = (round: number) => ({
  updates: Array.from({ length: IDS_PER_ROUND }, (_, i) => ({ id: `p-${i}`, text: `round ${round} ${'x'.repeat(180)}` })),
});

/**
 * Floods progress events (200 of about 450 bytes per round) until `done`, waiting each round until the
 * reading follower has them all, so no round is coalesced away; at most `maxRounds` rounds. Returns the
 * rounds sent; the reader also heard the 200 tasks' watching events.
 */
async function floodUntil(server: RunningServer, reader: ReturnType<typeof follow>, done: () => Promise<boolean>, maxRounds: number): Promise<number> {
  // Progress is kept only for tasks the store knows: a worker watches them all first.
  await post(`${server.url}/v1/watch`, { ids: progressRound(0).updates.map((u) => u.id), timeout: '100ms', worker: { id: 'w-flood', host: 'h', pid: 1 } });
  await eventually(() => reader.events.length === IDS_PER_ROUND, 'the watching events');
  for (let round = 0; round < maxRounds; round++) {
    if (await done()) return round;
    await post(`${server.url}/v1/progress`, progressRound(round));
    // A generous deadline: test files run two at a time on a busy machine, and a round is 200 store writes.
    await eventually(
      () => reader.events.length === (round + 2) * IDS_PER_ROUND,
      `round ${round} on the reading stream (cut ${reader.disconnects.length} times)`,
      20_000,
    );
  }
  throw new Error(`not done after ${maxRounds} rounds of events`);
}

test('a client that stops reading is cut once 256 KB wait for it, counted as slow; a reader beside it keeps every event', async () => {
  const server = await startTestServer({ progressIntervalMs: 20 });
  const reader = follow(server.url);
  const stalled = await nonReader(server.url);
  try {
    await eventually(() => reader.stream.lastEventId !== undefined, 'the reader to start');
    const rounds = await floodUntil(server, reader, async () => (await metric(server, 'taskctl_event_streams_cut_total{reason="slow"}')) === 1, 200);
    assert.is(await metric(server, 'taskctl_open_event_streams'), 1, 'the stalled stream is gone, the reader stays');
    assert.equal(reader.disconnects, [], 'the reader was never cut');
    assert.is(reader.events.length, (rounds + 1) * IDS_PER_ROUND);
    assert.ok(
      reader.events.every((e, i) => i === 0 || e.seq === reader.events[i - 1]!.seq + 1),
      'every event, in order',
    );
  } finally {
    stalled.destroy();
    await reader.stop();
    await server.close();
  }
});

test('streams that stop reading are held under a total budget: the furthest behind are cut first, counted as budget', async () => {
  // A budget below what the stalled streams would hold each: it is reached before any one of them is slow.
  const server = await startTestServer({ progressIntervalMs: 20, eventStreamUnwrittenBytes: { perStream: 4 * 1024 * 1024, total: 512 * 1024 } });
  const reader = follow(server.url);
  const stalled = await Promise.all(Array.from({ length: 4 }, () => nonReader(server.url)));
  try {
    await eventually(() => reader.stream.lastEventId !== undefined, 'the reader to start');
    await floodUntil(server, reader, async () => (await metric(server, 'taskctl_open_event_streams')) === 1, 400);
    assert.ok((await metric(server, 'taskctl_event_streams_cut_total{reason="budget"}')) >= 1, 'cut for the budget');
    assert.is(await metric(server, 'taskctl_event_streams_cut_total{reason="slow"}'), 0, 'none reached its own cap');
    assert.equal(reader.disconnects, [], 'the reader, never behind, was never cut');
  } finally {
    for (const socket of stalled) socket.destroy();
    await reader.stop();
    await server.close();
  }
});

test.run();
