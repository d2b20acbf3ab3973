// The bench's load generator: a process of its own, so its CPU is not the server's. The orchestrator
// (run.ts) sends it one scenario at a time over IPC and gets the measurements back.
import { Agent, request } from 'node:http';

interface Stats { count: number; p50: number; p90: number; p99: number; max: number }

export type Scenario =
  | { kind: 'latency'; url: string; ids: string[]; mode: 'per-id' | 'batched'; batchWorkers: number; cancelConcurrency: number; memoryOnly?: boolean }
  | { kind: 'throughput'; url: string; what: 'watch-cancelled' | 'cancel'; concurrency: number; durationMs: number; idPrefix: string }
  | { kind: 'fanout'; url: string; id: string; watchers: number };

const keepAlive = new Agent({ keepAlive: true, maxSockets: Infinity });

function send(url: string, method: 'GET' | 'POST', body?: string, agent: Agent = keepAlive): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const round = (n: number) => Math.round(n * 1_000) / 1_000;
  return { count: sorted.length, p50: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)), max: round(sorted.at(-1) ?? 0) };
}

const waitForGo = () => new Promise<void>((resolve) => process.once('message', () => resolve()));

/** Opens watches, tells the orchestrator, waits for "go", then cancels them and times each answer. */
async function latency(s: Extract<Scenario, { kind: 'latency' }>) {
  const answered = new Map<string, (at: number) => void>();
  const answerAt = new Map<string, Promise<number>>();
  for (const id of s.ids) answerAt.set(id, new Promise((resolve) => answered.set(id, resolve)));
  // Each per-id watch needs a connection of its own; open them a few hundred at a time so the
  // listen backlog never overflows (an overflow costs a 1s SYN retry and would skew nothing but set-up).
  const watchAgent = new Agent({ keepAlive: true, maxSockets: Infinity });
  if (s.mode === 'per-id') {
    for (let i = 0; i < s.ids.length; i += 250) {
      const opening = s.ids.slice(i, i + 250).map(
        (id) =>
          new Promise<void>((resolve, reject) => {
            const req = request(`${s.url}/watch-task/${id}`, { agent: watchAgent }, (res) => {
              res.resume();
              res.on('end', () => answered.get(id)!(performance.now()));
            });
            req.on('socket', (socket) => socket.once('connect', () => resolve()));
            req.on('error', reject);
            req.end();
          }),
      );
      await Promise.all(opening);
    }
  } else {
    const per = Math.ceil(s.ids.length / s.batchWorkers);
    for (let w = 0; w < s.batchWorkers; w++) {
      const remaining = new Set(s.ids.slice(w * per, (w + 1) * per));
      void (async () => {
        while (remaining.size > 0) {
          const reply = await send(`${s.url}/v1/watch`, 'POST', JSON.stringify({ ids: [...remaining], timeout: '5m' }), watchAgent);
          const at = performance.now();
          for (const id of (JSON.parse(reply.text) as { cancelled: string[] }).cancelled) {
            remaining.delete(id);
            answered.get(id)?.(at);
          }
        }
      })();
    }
  }
  process.send!({ opened: true });
  await waitForGo();
  if (s.memoryOnly) {
    watchAgent.destroy();
    return { latencyMs: stats([]), totalMs: 0, clientCpuPercent: 0 };
  }

  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const latencies: number[] = [];
  const queue = [...s.ids];
  await Promise.all(
    Array.from({ length: s.cancelConcurrency }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const sentAt = performance.now();
        const [reply, at] = await Promise.all([send(`${s.url}/v1/tasks/${id}/cancel`, 'POST', '{}'), answerAt.get(id)!]);
        if (reply.status !== 200) throw new Error(`cancel ${id}: HTTP ${reply.status}`);
        latencies.push(at - sentAt);
      }
    }),
  );
  const totalMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  watchAgent.destroy();
  return { latencyMs: stats(latencies), totalMs: Math.round(totalMs), clientCpuPercent: Math.round(((cpu.user + cpu.system) / 1_000 / totalMs) * 100) };
}

/** As many requests as `concurrency` loops can make in `durationMs`. */
async function throughput(s: Extract<Scenario, { kind: 'throughput' }>) {
  if (s.what === 'watch-cancelled') {
    for (let i = 0; i < 64; i++) await send(`${s.url}/v1/tasks/${s.idPrefix}-${i}/cancel`, 'POST', '{}');
  }
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + s.durationMs;
  let done = 0;
  let failed = 0;
  const acknowledged: string[] = [];
  await Promise.all(
    Array.from({ length: s.concurrency }, async (_, worker) => {
      for (let n = 0; performance.now() < deadline; n++) {
        const reply =
          s.what === 'cancel'
            ? await send(`${s.url}/v1/tasks/${s.idPrefix}-${worker}-${n}/cancel`, 'POST', '{}')
            : await send(`${s.url}/watch-task/${s.idPrefix}-${n % 64}`, 'GET');
        if (reply.status === 200 && (s.what === 'cancel' || reply.text === 'true')) {
          done++;
          if (s.what === 'cancel') acknowledged.push(`${s.idPrefix}-${worker}-${n}`);
        } else failed++;
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    perSecond: Math.round((done / elapsedMs) * 1_000),
    requests: done,
    failed,
    acknowledged: s.what === 'cancel' ? acknowledged : undefined,
    clientCpuPercent: Math.round(((cpu.user + cpu.system) / 1_000 / elapsedMs) * 100),
  };
}

/** Many watchers on one id; one cancel; how long until the last of them has its answer. */
async function fanout(s: Extract<Scenario, { kind: 'fanout' }>) {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const answers: Promise<number>[] = [];
  for (let i = 0; i < s.watchers; i += 250) {
    const batch = Math.min(250, s.watchers - i);
    const connected: Promise<void>[] = [];
    for (let j = 0; j < batch; j++) {
      answers.push(
        new Promise((resolve, reject) => {
          const req = request(`${s.url}/watch-task/${s.id}`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(performance.now()));
          });
          connected.push(new Promise((ok) => req.on('socket', (socket) => socket.once('connect', () => ok()))));
          req.on('error', reject);
          req.end();
        }),
      );
    }
    await Promise.all(connected);
  }
  process.send!({ opened: true });
  await waitForGo();
  const sentAt = performance.now();
  await send(`${s.url}/cancel-task/${s.id}`, 'GET');
  const times = await Promise.all(answers);
  agent.destroy();
  return { allAnsweredMs: Math.round((Math.max(...times) - sentAt) * 1_000) / 1_000, firstMs: Math.round((Math.min(...times) - sentAt) * 1_000) / 1_000 };
}

process.on('message', async (message: { scenario?: Scenario }) => {
  const scenario = message.scenario;
  if (!scenario) return;
  try {
    const result =
      scenario.kind === 'latency' ? await latency(scenario) : scenario.kind === 'throughput' ? await throughput(scenario) : await fanout(scenario);
    process.send!({ result });
  } catch (error) {
    process.send!({ error: (error as Error).stack ?? String(error) });
  }
});
