// Event streams under pressure: what clients that never read cost the server during an event flood
// (RSS against the same flood with no such clients), and what many streams resuming from the oldest kept
// event cost a bystander's /ping, timed from another process. The server is the built binary (memory
// store). Run alone: npx tsx bench/stream-pressure.ts [--quick].
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { quick, rssKb, sleep, startProbe, startServer } from './harness.ts';

const REASON = 'r'.repeat(1_000);

/** Cancels `count` fresh ids, `concurrency` at a time, each with a 1,000-character reason (a large event). */
async function flood(url: string, prefix: string, count: number, concurrency = 32): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const body = JSON.stringify({ reason: REASON });
  let next = 0;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = request(
        `${url}/v1/tasks/${prefix}-${next++}/cancel`,
        { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await one();
    }),
  );
  agent.destroy();
}

/** An event stream from now; unless `read`, its client stops reading once the stream has begun. */
function openStream(url: string, options: { read: boolean }): Promise<{ socket: Socket; head: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('retry:') && !head.includes('event: reset')) return;
      socket.off('data', onData);
      if (!options.read) socket.pause();
      resolve({ socket, head });
    };
    socket.on('data', onData);
    socket.on('error', (error) => (head.includes('retry:') ? undefined : reject(error)));
    socket.write(`GET /v1/events HTTP/1.1\r\nhost: ${hostname}\r\naccept: text/event-stream\r\n\r\n`);
  });
}

/** A stream that resumes after event `since` and has read up to `last`; closed by the caller. */
function replayTo(url: string, since: number, last: number): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let tail = '';
    socket.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString('latin1')).slice(-4_096);
      if (tail.includes(`id: ${last}\n`)) resolve(socket);
    });
    socket.on('error', reject);
    socket.write(`GET /v1/events HTTP/1.1\r\nhost: ${hostname}\r\nlast-event-id: ${since}\r\n\r\n`);
  });
}

/** The server's peak RSS while a flood runs, sampled every 50 ms. */
async function peakRssDuring(pid: number, work: Promise<void>): Promise<number> {
  let peak = rssKb(pid);
  let done = false;
  void work.finally(() => (done = true));
  while (!done) {
    peak = Math.max(peak, rssKb(pid));
    await sleep(50);
  }
  await work;
  return Math.max(peak, rssKb(pid));
}

async function metricLines(url: string, name: string): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split('\n').filter((line) => line.startsWith(name));
}

/** Peak server RSS during a flood of `events` large events, with `streams` clients that never read, against none. */
export async function nonReadingStreams(streams = 300, events = quick ? 10_000 : 30_000) {
  const runs: Record<string, number> = {};
  let cut: string[] = [];
  for (const withStreams of [0, streams]) {
    const server = await startServer('memory');
    await sleep(300);
    const sockets: Socket[] = [];
    for (let i = 0; i < withStreams; i += 50)
      sockets.push(
        ...(await Promise.all(Array.from({ length: Math.min(50, withStreams - i) }, async () => (await openStream(server.url, { read: false })).socket))),
      );
    const before = rssKb(server.pid);
    console.error(`stream-pressure: ${withStreams} non-reading streams open, flooding ${events} events`);
    const peak = await peakRssDuring(server.pid, flood(server.url, 'flood', events));
    runs[withStreams] = Math.round((peak - before) / 1024);
    if (withStreams > 0) cut = await metricLines(server.url, 'taskctl_event_streams_cut_total{');
    for (const socket of sockets) socket.destroy();
    await server.stop();
  }
  return { streams, events, serverGrowthMbWithout: runs[0], serverGrowthMbWith: runs[streams], extraMb: runs[streams]! - runs[0]!, cut };
}

/** /ping from another process while `streams` clients resume at once from the oldest of `events` kept events. */
export async function resumingStreams(streams = 200, events = 9_000) {
  const server = await startServer('memory');
  await flood(server.url, 'kept', events);
  // The last event's id, from a new stream's head ("id: <last>"): the resuming streams read up to it.
  const fresh = await openStream(server.url, { read: false });
  const last = Number(/\nid: (\d+)\n/.exec(fresh.head)![1]);
  fresh.socket.destroy();
  console.error(`stream-pressure: ${events} events kept; ${streams} streams resume`);
  const probe = await startProbe(server.url, 5);
  await sleep(500);
  const idle = await probe.mark();
  const started = performance.now();
  const sockets = await Promise.all(Array.from({ length: streams }, () => replayTo(server.url, last - events, last)));
  const replayMs = Math.round(performance.now() - started);
  const during = await probe.stop();
  for (const socket of sockets) socket.destroy();
  await server.stop();
  return { streams, events, replayMs, pingIdle: idle, pingDuringReplay: during };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const which = process.argv.find((a) => a === 'nonreading' || a === 'resuming');
  const result: Record<string, unknown> = {};
  if (which !== 'resuming') result.nonReading = await nonReadingStreams();
  if (which !== 'nonreading') result.resuming = await resumingStreams();
  console.log(JSON.stringify(result, null, 2));
  process.exit(0);
}
