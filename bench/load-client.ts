// The bench's load generator: a process of its own, so its CPU is not the server's. The orchestrator
// (run.ts) sends it one scenario at a time over IPC and gets the measurements back.
import { Agent, request } from 'node:http';
import { type AddressInfo, connect, createServer } from 'node:net';
import { latencyStats } from './latency-stats.ts';

export type Scenario =
  | {
      kind: 'latency';
      url: string;
      ids: string[];
      mode: 'per-id' | 'batched';
      batchWorkers: number;
      cancelConcurrency: number;
      memoryOnly?: boolean;
      /** Polls of each session held at once (taskctl work holds 2). */
      pollsPerSession?: number;
      /** Watches go through a link that delays every chunk this long each way; cancels go direct. */
      linkDelayMs?: number;
      /** Cancels by the seed article's GET /cancel-task/:id (which any seed-protocol server has) instead of POST /v1. */
      seedCancel?: boolean;
    }
  | { kind: 'throughput'; url: string; what: 'watch-cancelled' | 'cancel'; concurrency: number; durationMs: number; idPrefix: string }
  | { kind: 'fanout'; url: string; id: string; watchers: number }
  | { kind: 'flood'; url: string; watches: number; idsPerWatch: number; pagers: number; prefix: string }
  | { kind: 'churn'; url: string; total: number; batch: number; inFlight: number; concurrency: number; prefix: string }
  | { kind: 'parents'; url: string; parent: string; watches: number; idsPerWatch: number; prefix: string };

const keepAlive = new Agent({ keepAlive: true, maxSockets: Infinity });

function send(url: string, method: 'GET' | 'POST', body?: string, agent: Agent = keepAlive): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, agent, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * A TCP link to `url` that delays every chunk by `delayMs` each way, in order: a network with a round trip
 * of twice that, where the time a re-poll takes to reach the server shows.
 */
async function delayedLink(url: string, delayMs: number): Promise<string> {
  const target = new URL(url);
  const link = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      // Timers of one duration fire in the order they were set: the bytes keep their order.
      from.on('data', (chunk) => setTimeout(() => to.destroyed || to.write(chunk), delayMs));
      from.on('close', () => setTimeout(() => to.destroy(), delayMs));
      from.on('error', () => {});
    }
  });
  await new Promise<void>((resolve) => link.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(link.address() as AddressInfo).port}`;
}

const waitForGo = () => new Promise<void>((resolve) => process.once('message', () => resolve()));

/** Opens watches, tells the orchestrator, waits for "go", then cancels them and times each answer. */
async function latency(s: Extract<Scenario, { kind: 'latency' }>) {
  let ending = false;
  const answered = new Map<string, (at: number) => void>();
  const answerAt = new Map<string, Promise<number>>();
  for (const id of s.ids) answerAt.set(id, new Promise((resolve) => answered.set(id, resolve)));
  // Each per-id watch needs a connection of its own; open them a few hundred at a time so the
  // listen backlog never overflows (an overflow costs a 1s SYN retry and would skew nothing but set-up).
  const watchAgent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const watchUrl = s.linkDelayMs ? await delayedLink(s.url, s.linkDelayMs) : s.url;
  if (s.mode === 'per-id') {
    for (let i = 0; i < s.ids.length; i += 250) {
      const opening = s.ids.slice(i, i + 250).map(
        (id) =>
          new Promise<void>((resolve, reject) => {
            const req = request(`${watchUrl}/watch-task/${id}`, { agent: watchAgent }, (res) => {
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
    // A poll still held when the scenario ends is cut by watchAgent.destroy(): that is the end, not an error.
    const ended = (error: unknown) => {
      if (!ending) throw error;
    };
    for (let w = 0; w < s.batchWorkers; w++) {
      const remaining = new Set(s.ids.slice(w * per, (w + 1) * per));
      // As `taskctl work` does: the first watch asks the server to keep the ids as a session; then two polls
      // (pollsPerSession) name the session at once, each sent again as soon as it is answered (a session the
      // server forgot means the ids again).
      let session: string | undefined;
      const watch = async (body: object) => {
        const reply = await send(`${watchUrl}/v1/watch`, 'POST', JSON.stringify(body), watchAgent);
        const at = performance.now();
        if (reply.status === 409) return void (session = undefined);
        const answer = JSON.parse(reply.text) as { cancelled: string[]; session?: string };
        session = answer.session;
        for (const id of answer.cancelled) {
          remaining.delete(id);
          answered.get(id)?.(at);
        }
      };
      const poll = async (current: string) => {
        while (remaining.size > 0 && session === current) await watch({ session: current, timeout: '5m' });
      };
      void (async () => {
        while (remaining.size > 0) {
          if (session === undefined) await watch({ ids: [...remaining], timeout: '5m', keep: true });
          else await Promise.all(Array.from({ length: s.pollsPerSession ?? 2 }, () => poll(session!)));
        }
      })().catch(ended);
    }
  }
  process.send!({ opened: true });
  await waitForGo();
  if (s.memoryOnly) {
    ending = true;
    watchAgent.destroy();
    return { latencyMs: latencyStats([], 3), totalMs: 0, clientCpuPercent: 0 };
  }

  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const latencies: number[] = [];
  const queue = [...s.ids];
  await Promise.all(
    Array.from({ length: s.cancelConcurrency }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const sentAt = performance.now();
        const cancel = s.seedCancel ? send(`${s.url}/cancel-task/${id}`, 'GET') : send(`${s.url}/v1/tasks/${id}/cancel`, 'POST', '{}');
        const [reply, at] = await Promise.all([cancel, answerAt.get(id)!]);
        if (reply.status !== 200) throw new Error(`cancel ${id}: HTTP ${reply.status}`);
        latencies.push(at - sentAt);
      }
    }),
  );
  const totalMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  ending = true;
  watchAgent.destroy();
  return {
    latencyMs: latencyStats(latencies, 3),
    totalMs: Math.round(totalMs),
    clientCpuPercent: Math.round(((cpu.user + cpu.system) / 1_000 / totalMs) * 100),
  };
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

async function metric(url: string, name: string): Promise<number> {
  const text = (await send(`${url}/metrics`, 'GET')).text;
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
}

/**
 * Bounded state, flood: many big watches of fresh ids at once (the server writes a status for each), then
 * a crowd of `taskctl ls` (two pages of 500 each), while the orchestrator's probe pings.
 */
async function flood(s: Extract<Scenario, { kind: 'flood' }>) {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const before = await metric(s.url, 'taskctl_tasks_tracked');
  const started = performance.now();
  for (let w = 0; w < s.watches; w++) {
    const ids = Array.from({ length: s.idsPerWatch }, (_, i) => `${s.prefix}-${w}-${i}`);
    const body = JSON.stringify({ ids, timeout: '5m', worker: { id: `flood-${w}`, host: 'bench', pid: w } });
    // Held until the client is killed: the watches stay open through the listing phase.
    send(`${s.url}/v1/watch`, 'POST', body, agent).catch(() => {});
  }
  const target = before + s.watches * s.idsPerWatch;
  while ((await metric(s.url, 'taskctl_tasks_tracked')) < target) await new Promise((resolve) => setTimeout(resolve, 50));
  const writtenMs = performance.now() - started;
  process.send!({ opened: true });
  await waitForGo();
  const firstStarted = performance.now();
  const first = await send(`${s.url}/v1/tasks?limit=1000`, 'GET');
  const firstPageMs = performance.now() - firstStarted;
  if (first.status !== 200) throw new Error(`first ls page: HTTP ${first.status}`);
  const pageTimes: number[] = [];
  await Promise.all(
    Array.from({ length: s.pagers }, async () => {
      let after: string | undefined;
      for (let page = 0; page < 2; page++) {
        const t = performance.now();
        const reply = await send(`${s.url}/v1/tasks?limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`, 'GET');
        pageTimes.push(performance.now() - t);
        after = (JSON.parse(reply.text) as { next?: string }).next;
      }
    }),
  );
  return { tracked: target, writtenMs: Math.round(writtenMs), firstPageMs: Math.round(firstPageMs * 10) / 10, pages: latencyStats(pageTimes, 3) };
}

/**
 * Bounded state, churn: `total` distinct ids pass through watch -> cancel -> report, `batch` ids at a
 * time with `inFlight` batches going at once; progress goes to the orchestrator as it happens.
 */
async function churn(s: Extract<Scenario, { kind: 'churn' }>) {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const started = performance.now();
  let done = 0;
  let failed = 0;
  let nextBatch = 0;
  const batches = Math.ceil(s.total / s.batch);
  const runBatch = async (b: number) => {
    const ids = Array.from({ length: Math.min(s.batch, s.total - b * s.batch) }, (_, i) => `${s.prefix}-${b}-${i}`);
    const worker = { id: `churn-${b % 64}`, host: 'bench', pid: b % 64 };
    const watch = send(`${s.url}/v1/watch`, 'POST', JSON.stringify({ ids, timeout: '1s', worker }), agent).catch(() => undefined);
    const queue = [...ids];
    const step = async (path: (id: string) => string, body: (id: string) => string) => {
      const work = [...queue];
      await Promise.all(
        Array.from({ length: s.concurrency }, async () => {
          for (let id = work.shift(); id !== undefined; id = work.shift()) {
            const reply = await send(`${s.url}${path(id)}`, 'POST', body(id), agent).catch(() => ({ status: 0, text: '' }));
            if (reply.status !== 200) failed++;
          }
        }),
      );
    };
    await step(
      (id) => `/v1/tasks/${id}/cancel`,
      () => '{"reason":"churn"}',
    );
    await step(
      (id) => `/v1/tasks/${id}/report`,
      () => JSON.stringify({ outcome: 'cancelled', worker }),
    );
    await watch;
    done += ids.length;
    process.send!({ progress: done });
  };
  await Promise.all(
    Array.from({ length: s.inFlight }, async () => {
      for (let b = nextBatch++; b < batches; b = nextBatch++) await runBatch(b);
    }),
  );
  const elapsedMs = performance.now() - started;
  return { ids: done, failed, seconds: Math.round(elapsedMs / 100) / 10, idsPerSecond: Math.round((done / elapsedMs) * 1_000) };
}

/**
 * Parents: `watches` watches of `idsPerWatch` fresh ids, all children of `parent`, held open; once every
 * status and link is written, "go" cancels the parent, and every watch is answered with all its ids.
 */
async function parents(s: Extract<Scenario, { kind: 'parents' }>) {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const before = await metric(s.url, 'taskctl_tasks_tracked');
  const started = performance.now();
  const chunks = Array.from({ length: s.watches }, (_, w) => Array.from({ length: s.idsPerWatch }, (_, i) => `${s.prefix}-${w}-${String(i).padStart(6, '0')}`));
  const answers = chunks.map((ids, w) =>
    send(
      `${s.url}/v1/watch`,
      'POST',
      JSON.stringify({ ids, parents: [s.parent], timeout: '5m', worker: { id: `parents-${w}`, host: 'bench', pid: w } }),
      agent,
    ).then((reply) => ({ at: performance.now(), cancelled: (JSON.parse(reply.text) as { cancelled: string[] }).cancelled.length })),
  );
  const target = before + s.watches * s.idsPerWatch;
  while ((await metric(s.url, 'taskctl_tasks_tracked')) < target) await new Promise((resolve) => setTimeout(resolve, 100));
  // Links are written after the statuses, in id order per watch: each watch's last id linked means all are.
  const linked = async (ids: string[]) =>
    (JSON.parse((await send(`${s.url}/v1/tasks?parent=${s.parent}&limit=1&after=${ids.at(-2)!}`, 'GET')).text) as { tasks: Array<{ id: string }> }).tasks[0]
      ?.id === ids.at(-1);
  while (!(await Promise.all(chunks.map(linked))).every(Boolean)) await new Promise((resolve) => setTimeout(resolve, 100));
  const setUpMs = performance.now() - started;
  process.send!({ opened: true });
  await waitForGo();
  const sentAt = performance.now();
  const cancel = await send(`${s.url}/v1/tasks/${s.parent}/cancel`, 'POST', '{"reason":"bench"}');
  if (cancel.status !== 200) throw new Error(`cancel ${s.parent}: HTTP ${cancel.status}`);
  const answered = await Promise.all(answers);
  agent.destroy();
  return {
    children: s.watches * s.idsPerWatch,
    setUpMs: Math.round(setUpMs),
    answeredIds: answered.reduce((n, a) => n + a.cancelled, 0),
    allAnsweredMs: Math.round(Math.max(...answered.map((a) => a.at)) - sentAt),
  };
}

process.on('message', async (message: { scenario?: Scenario }) => {
  const scenario = message.scenario;
  if (!scenario) return;
  try {
    const result =
      scenario.kind === 'latency'
        ? await latency(scenario)
        : scenario.kind === 'throughput'
          ? await throughput(scenario)
          : scenario.kind === 'flood'
            ? await flood(scenario)
            : scenario.kind === 'churn'
              ? await churn(scenario)
              : scenario.kind === 'parents'
                ? await parents(scenario)
                : await fanout(scenario);
    process.send!({ result });
  } catch (error) {
    process.send!({ error: (error as Error).stack ?? String(error) });
  }
});
