// The event stream bench's clients: a process of its own that holds many GET /v1/events connections,
// makes changes one at a time and times each change's arrival on every connection. The orchestrator
// (events.ts) sends it one scenario over IPC and gets the measurements back.
import { Agent, type ClientRequest, request } from 'node:http';
import { latencyStats } from './latency-stats.ts';

export type EventScenario =
  | { kind: 'fanout'; url: string; clients: number; changes: number; burst: number; prefix: string }
  | { kind: 'hold'; url: string; clients: number };

const keepAlive = new Agent({ keepAlive: true, maxSockets: 64 });

function cancel(url: string, id: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/v1/tasks/${id}/cancel`,
      { method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/json', 'content-length': 2 } },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`cancel answered ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
}

/**
 * Opens `count` event streams; `onTask(client, taskId)` hears each task event's id as it arrives. Resolves
 * once every stream has said where it starts (so each is registered with the server's hub).
 */
async function openStreams(url: string, count: number, onTask: (client: number, id: string) => void): Promise<ClientRequest[]> {
  const requests: ClientRequest[] = [];
  for (let i = 0; i < count; i += 200) {
    await Promise.all(
      Array.from(
        { length: Math.min(200, count - i) },
        (_, k) =>
          new Promise<void>((resolve, reject) => {
            const client = i + k;
            const req = request(`${url}/v1/events`, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
              if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
              res.setEncoding('utf8');
              let buffer = '';
              res.on('data', (chunk: string) => {
                buffer += chunk;
                for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
                  const frame = buffer.slice(0, end);
                  buffer = buffer.slice(end + 2);
                  if (frame.startsWith('retry:')) resolve();
                  const match = /^data: \{"change":"[^"]+","at":"[^"]+","id":"([^"]+)"/m.exec(frame);
                  if (match) onTask(client, match[1]!);
                }
              });
            });
            req.on('error', reject);
            req.end();
            requests.push(req);
          }),
      ),
    );
  }
  return requests;
}

const waitForGo = () => new Promise<void>((resolve) => process.once('message', () => resolve()));

/** `changes` cancels, `burst` at a time; for each, the time from sending it to its event on each stream. */
async function fanout(s: Extract<EventScenario, { kind: 'fanout' }>) {
  const waiting = new Map<string, { sentAt: number; left: number; done: () => void }>();
  const latencies: number[] = [];
  const lastArrival: number[] = [];
  const streams = await openStreams(s.url, s.clients, (_client, id) => {
    const entry = waiting.get(id);
    if (!entry) return;
    latencies.push(performance.now() - entry.sentAt);
    if (--entry.left === 0) {
      lastArrival.push(performance.now() - entry.sentAt);
      waiting.delete(id);
      entry.done();
    }
  });
  process.send!({ opened: true });
  await waitForGo();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let c = 0; c < s.changes; c += s.burst) {
    await Promise.all(
      Array.from({ length: Math.min(s.burst, s.changes - c) }, (_, k) => {
        // Fresh ids: a second cancel of one id changes nothing, so it would make no event.
        const id = `${s.prefix}-${c + k}`;
        return new Promise<void>((resolve, reject) => {
          waiting.set(id, { sentAt: performance.now(), left: s.clients, done: resolve });
          cancel(s.url, id).catch(reject);
        });
      }),
    );
  }
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  streams.forEach((req) => req.destroy());
  return {
    clients: s.clients,
    changes: s.changes,
    burst: s.burst,
    perClientMs: latencyStats(latencies, 2),
    allClientsMs: latencyStats(lastArrival, 2),
    clientCpuPercent: Math.round(((cpu.user + cpu.system) / 1_000 / elapsedMs) * 100),
  };
}

/** Holds `clients` idle streams until told to let go (the orchestrator reads the server's memory meanwhile). */
async function hold(s: Extract<EventScenario, { kind: 'hold' }>) {
  const streams = await openStreams(s.url, s.clients, () => {});
  process.send!({ opened: true });
  await waitForGo();
  streams.forEach((req) => req.destroy());
  return { clients: s.clients };
}

process.on('message', async (message: { scenario?: EventScenario }) => {
  const scenario = message.scenario;
  if (!scenario) return;
  try {
    const result = scenario.kind === 'fanout' ? await fanout(scenario) : await hold(scenario);
    process.send!({ result });
  } catch (error) {
    process.send!({ error: (error as Error).stack ?? String(error) });
  }
});
