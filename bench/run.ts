// npm run bench [-- --quick]: measures the built binary on loopback and writes bench/results.json.
// Servers are the real dist/taskctl; load comes from load-client.ts in a process of its own.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { ask, binary, cpuTicks, maxConnections, quick, ratio, rssKb, scratch, sleep, sockets, startClient, startServer, track } from './harness.ts';
import { churn, flood } from './bounded-state.ts';
import { eventFanout, eventStreamMemory } from './events.ts';
import { nonReadingStreams, resumingStreams } from './stream-pressure.ts';
import { tailAgainstGo } from './tail-latency.ts';
import { batchedAgainstPerId } from './batched-latency.ts';
import { webhookStorm } from './webhook-storm.ts';
import { parentCancel } from './parent-cancel.ts';
import { postgresFigures } from './postgres.ts';
import { callgrindAvailable, instructionsAgainstBare } from './instructions.ts';
import { startBare, startupAgainstNode, throughputAgainstBare } from './per-request.ts';
import { webPage } from './web.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const results: Record<string, unknown> = {
  quick,
  machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  startedAt: new Date().toISOString(),
};
const table: string[][] = [];
const row = (...cells: (string | number)[]) => table.push(cells.map(String));
let serial = 0;

async function openWatches(url: string): Promise<number> {
  return ((await (await fetch(`${url}/healthz`)).json()) as { openWatches: number }).openWatches;
}
async function waitForOpenWatches(url: string, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await openWatches(url)) < n) {
    if (Date.now() > deadline) throw new Error(`only ${await openWatches(url)} of ${n} watches opened`);
    await sleep(20);
  }
}

// 1 and 2: cancel -> watcher latency, and memory per open watch.
async function latencyAndMemory(
  n: number,
  mode: 'per-id' | 'batched',
  cancelConcurrency: number,
  memoryOnly = false,
  batchWorkers = 4,
  store = 'memory',
  link: { linkDelayMs?: number; pollsPerSession?: number } = {},
) {
  const server = await startServer(store === 'sqlite' ? `sqlite:${join(scratch, `mem-${serial}.db`)}` : store);
  const client = startClient();
  await sleep(200);
  const idle = rssKb(server.pid);
  let held = 0;
  const ids = Array.from({ length: n }, (_, i) => `lat${serial}-${i}`);
  serial++;
  const result = await ask<{ latencyMs: Record<string, number>; totalMs: number; clientCpuPercent: number }>(
    client,
    { kind: 'latency', url: server.url, ids, mode, batchWorkers, cancelConcurrency, memoryOnly, ...link },
    async () => {
      await waitForOpenWatches(server.url, mode === 'per-id' ? n : batchWorkers);
      await sleep(300);
      held = rssKb(server.pid);
    },
  );
  client.kill();
  await server.stop();
  const bytesPerWatch = Math.round(((held - idle) * 1024) / n);
  return {
    n,
    mode,
    store,
    cancelConcurrency,
    ...link,
    ...result,
    serverRssIdleMb: Math.round(idle / 1024),
    serverRssHeldMb: Math.round(held / 1024),
    bytesPerWatchedId: bytesPerWatch,
  };
}

/** The same held per-id watches on the bare node:http baseline, which holds each request unanswered. */
async function bareHeldMemory(n: number) {
  const bare = await startBare('hold');
  const client = startClient();
  await sleep(200);
  const idle = rssKb(bare.pid);
  let held = 0;
  const ids = Array.from({ length: n }, (_, i) => `bare${serial}-${i}`);
  serial++;
  await ask(client, { kind: 'latency', url: bare.url, ids, mode: 'per-id', batchWorkers: 1, cancelConcurrency: 1, memoryOnly: true }, async () => {
    // The bare server has no /healthz: its open sockets say when every watch is held.
    while (sockets(bare.pid) < n) await sleep(50);
    await sleep(300);
    held = rssKb(bare.pid);
  });
  client.kill();
  await bare.stop();
  return { n, serverRssIdleMb: Math.round(idle / 1024), serverRssHeldMb: Math.round(held / 1024), bytesPerWatchedId: Math.round(((held - idle) * 1024) / n) };
}

/** Durable cancels on sqlite, 64 at a time; every acknowledged one is then looked for in the file. */
async function durableCancels() {
  const dbPath = join(scratch, `tp-${serial++}.db`);
  const server = await startServer(`sqlite:${dbPath}`);
  const client = startClient();
  const result = await ask<{ perSecond: number; requests: number; failed: number; acknowledged?: string[]; clientCpuPercent: number }>(client, {
    kind: 'throughput',
    url: server.url,
    what: 'cancel',
    concurrency: 64,
    durationMs: quick ? 2_000 : 5_000,
    idPrefix: `tp${serial}`,
  });
  client.kill();
  await server.stop();
  const db = new DatabaseSync(dbPath, { readOnly: true });
  const stored = new Set((db.prepare('SELECT id FROM cancels').all() as Array<{ id: string }>).map((r) => r.id));
  db.close();
  const onDisk = result.acknowledged!.filter((id) => stored.has(id)).length;
  return {
    store: 'sqlite',
    what: 'cancel',
    perSecond: result.perSecond,
    requests: result.requests,
    failed: result.failed,
    acknowledgedOnDisk: onDisk,
    clientCpuPercent: result.clientCpuPercent,
  };
}

async function fanout(watchers: number) {
  const server = await startServer('memory');
  const client = startClient();
  const result = await ask<{ allAnsweredMs: number; firstMs: number }>(client, { kind: 'fanout', url: server.url, id: `fan${serial++}`, watchers }, () =>
    waitForOpenWatches(server.url, watchers),
  );
  client.kill();
  await server.stop();
  return { watchers, ...result };
}

async function workerSide(ids: number) {
  const server = await startServer('memory');
  const idList = Array.from({ length: ids }, (_, i) => `w${i}`);
  const measure = async (command: string[], label: string) => {
    const child = track(spawn(command[0]!, command.slice(1), { stdio: 'ignore' }));
    await waitForOpenWatches(server.url, 1);
    await sleep(500);
    const pid =
      label === 'tui' ? Number(execFileSync('tmux', ['-L', 'taskctl-bench', 'display-message', '-p', '-t', 'bench', '#{pane_pid}']).toString()) : child.pid!;
    const before = cpuTicks(pid);
    const seconds = quick ? 3 : 10;
    await sleep(seconds * 1_000);
    const cpuPercent = Math.round(((cpuTicks(pid) - before) / 100 / seconds) * 1_000) / 10;
    const result = { sockets: sockets(pid), cpuPercent, rssMb: Math.round(rssKb(pid) / 1024) };
    child.kill('SIGTERM');
    process.kill(pid, 'SIGTERM');
    await sleep(300);
    return result;
  };
  const plain = await measure([binary, 'work', ...idList, '--server', server.url, '--no-tui'], 'plain');
  const tui = await measure(
    [
      'tmux',
      '-L',
      'taskctl-bench',
      'new-session',
      '-d',
      '-s',
      'bench',
      '-x',
      '120',
      '-y',
      '30',
      `exec ${binary} work ${idList.join(' ')} --server ${server.url}`,
    ],
    'tui',
  );
  spawnSync('tmux', ['-L', 'taskctl-bench', 'kill-server'], { stdio: 'ignore' });
  await server.stop();
  return { ids, plain, tui };
}

const t0 = Date.now();
const log = (line: string) => process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(0)}s] ${line}\n`);

const sizes = quick ? [1_000] : [1_000, 10_000];
const latency: unknown[] = [];
for (const n of sizes) {
  for (const mode of ['per-id', 'batched'] as const) {
    for (const cancelConcurrency of [1, 16]) {
      log(`latency: ${n} watches, ${mode}, ${cancelConcurrency} at a time`);
      const r = await latencyAndMemory(n, mode, cancelConcurrency);
      latency.push(r);
      row(
        'cancel->watcher',
        `${n} ${mode}, ${cancelConcurrency} at a time`,
        `p50 ${r.latencyMs.p50} p90 ${r.latencyMs.p90} p99 ${r.latencyMs.p99} max ${r.latencyMs.max} ms; all in ${r.totalMs} ms`,
        `client cpu ${r.clientCpuPercent}%`,
      );
      if (cancelConcurrency === 1)
        row('memory', `${n} ${mode} watches`, `${r.serverRssIdleMb} -> ${r.serverRssHeldMb} MB RSS; ${r.bytesPerWatchedId} B per watched id`, '');
    }
  }
}
results.latency = latency;

// The same through a link that delays each chunk 2 ms each way (cancels go direct): a batched watch with
// one poll at a time leaves its next cancel waiting while the re-poll crosses the link; two polls do not.
const linkIds = quick ? 1_200 : 2_000;
const linkDelayMs = 2;
const overLink: Array<{ label: string; latencyMs: Record<string, number> }> = [];
for (const [label, mode, pollsPerSession] of [
  ['per-id', 'per-id', undefined],
  ['batched, 1 poll per session', 'batched', 1],
  ['batched, 2 polls per session', 'batched', 2],
] as const) {
  log(`latency over a ${linkDelayMs} ms link: ${linkIds} ${label}, one at a time`);
  const r = await latencyAndMemory(linkIds, mode, 1, false, 4, 'memory', { linkDelayMs, ...(pollsPerSession ? { pollsPerSession } : {}) });
  overLink.push({ label, latencyMs: r.latencyMs });
  row(
    'cancel->watcher',
    `${linkIds} ${label}, ${linkDelayMs} ms link each way`,
    `p50 ${r.latencyMs.p50} p90 ${r.latencyMs.p90} p99 ${r.latencyMs.p99} max ${r.latencyMs.max} ms`,
    '',
  );
}
results.latencyOverLink = { linkDelayMs, ids: linkIds, runs: overLink };

// Memory per held per-id watch, at as many as one process may hold (the open-file limit, ulimit -n, caps
// it: 20,000 here), on the default store (sqlite), beside the bare node:http server holding as many.
const heldCount = quick ? 2_000 : Math.min(19_000, maxConnections() - 500);
log(`memory: ${heldCount} held per-id watches (sqlite), and the bare baseline`);
const held = await latencyAndMemory(heldCount, 'per-id', 16, true, 4, 'sqlite');
const bareHeld = await bareHeldMemory(heldCount);
results.memoryHeld = { taskctl: held, bare: bareHeld, ratio: ratio(held.bytesPerWatchedId, bareHeld.bytesPerWatchedId) };
row(
  'memory',
  `${heldCount} held per-id watches (sqlite)`,
  `${held.bytesPerWatchedId} B each (${held.serverRssHeldMb} MB RSS); bare node:http ${bareHeld.bytesPerWatchedId} B each`,
  '',
);
if (!quick) {
  // Batched watching at scale: 100,000 ids held by 10 workers (10,000 ids each).
  log('memory: 100,000 ids in 10 batched watches (sqlite)');
  const batched = await latencyAndMemory(100_000, 'batched', 1, true, 10, 'sqlite');
  results.memoryBatchedLarge = batched;
  row(
    'memory',
    '100000 ids, 10 batched watches (sqlite)',
    `${batched.serverRssIdleMb} -> ${batched.serverRssHeldMb} MB RSS; ${batched.bytesPerWatchedId} B per watched id`,
    '',
  );
}

// Against Go: cancel-to-watcher p99 and memory per watch at 5,000 per-id watches, taskctl beside a Go
// server of the seed protocol, taskctl with each later addition off (the share of each in the tail), and
// two baselines on the same Node: a bare node:http seed server and the floor (node:net, no HTTP stack).
const tail = await tailAgainstGo(5_000, quick ? 1 : 3, log);
results.tailAgainstGo = tail;
for (const [label, m] of Object.entries(tail.medians)) {
  const toGo = tail.toGo?.[label];
  row(
    'against Go',
    `5000 per-id watches, ${label}`,
    `p99 ${m.p99} ms (rounds ${m.p99s.join(', ')}); ${m.bytesPerWatch} B per watch`,
    toGo ? `x${toGo.p99} p99, x${toGo.bytesPerWatch} memory of Go` : '',
  );
}
if (!tail.goBuilt) row('against Go', '5000 per-id watches', 'Go not measured: go is not installed', '');
if (tail.taskctlToBareNode) row('against Go', '5000 per-id watches, taskctl', 'against the bare node:http seed server', `x${tail.taskctlToBareNode.p99} p99`);

// Batched against per-id at each size, in interleaved rounds (one round each in --quick): the latency rows
// above measure each once, and one run's p99 on a shared machine moves by more than the difference.
const batchedRounds = await batchedAgainstPerId(sizes, quick ? 1 : 3, log);
results.batchedAgainstPerId = batchedRounds;
for (const [n, m] of Object.entries(batchedRounds.bySize)) {
  row(
    'batched vs per-id',
    `${n} ids, one cancel at a time, ${batchedRounds.rounds} rounds`,
    `p99 batched ${m.batchedP99} ms (${m.batched.join(', ')}), per-id ${m.perIdP99} ms (${m.perId.join(', ')})`,
    `x${m.batchedToPerId}`,
  );
}

log(quick ? 'bounded state: flood, 10 watches x 10,000 fresh ids + 30 ls' : 'bounded state: flood, 50 watches x 10,000 fresh ids + 150 ls');
const floodResult = quick ? await flood(10, 10_000, 30) : await flood(50, 10_000, 150);
log(`bounded state: churn of ${quick ? '50,000' : '1,000,000'} ids`);
const churnResult = await churn(quick ? 50_000 : 1_000_000);
results.boundedState = { flood: floodResult, churn: churnResult };
row(
  'bounded',
  `flood: ${floodResult.watches} x ${floodResult.idsPerWatch} fresh ids (sqlite)`,
  `/ping p99 ${floodResult.ping.flood.p99} ms (max ${floodResult.ping.flood.max}); all ${floodResult.tracked} statuses written in ${floodResult.writtenMs} ms; ${floodResult.rssMb.idle} -> ${floodResult.rssMb.held} MB RSS`,
  '',
);
row(
  'bounded',
  `flood: then ${floodResult.pagers} ls at once`,
  `/ping p99 ${floodResult.ping.listing.p99} ms (max ${floodResult.ping.listing.max}); first page of 1000 in ${floodResult.firstPageMs} ms; pages p99 ${floodResult.pages.p99} ms`,
  '',
);
row(
  'bounded',
  `churn: ${churnResult.ids} ids watch->cancel->report, --retention 5s`,
  `${churnResult.idsPerSecond} ids/s; /ping p99 ${churnResult.ping.p99} ms; RSS peak ${churnResult.peakRssMb} MB, end/quarter ${churnResult.rssEndToQuarter}; db end/quarter ${churnResult.dbEndToQuarter} (${churnResult.end.dbMb} MB); ${churnResult.end.tracked} tracked (window bound ${churnResult.trackedWindowBound})`,
  '',
);

log(quick ? 'parents: one cancel of a parent with 20,000 children' : 'parents: one cancel of a parent with 100,000 children');
const parents = quick ? await parentCancel(2, 10_000) : await parentCancel(10, 10_000);
results.parents = parents;
row(
  'parents',
  `cancel of a parent with ${parents.children} children in ${parents.children / 10_000} watches (sqlite)`,
  `every watch answered in ${parents.allAnsweredMs} ms; all ${parents.marked} marked cancel_requested in ${parents.markedMs} ms; /ping p99 ${parents.ping.p99} ms (max ${parents.ping.max})`,
  '',
);

// Per-request cost: wrk against taskctl (default settings) and the bare node:http server, interleaved.
const perRequest: unknown[] = [];
const requestLabel = (path: 'ping' | 'watch-cancelled') => `GET ${path === 'ping' ? '/ping' : '/watch-task/:id (cancelled)'}`;
for (const path of ['ping', 'watch-cancelled'] as const) {
  log(`per-request: ${path} under wrk, against bare node:http`);
  const r = await throughputAgainstBare(path, quick ? 1 : 9, quick ? 2 : 3, join(scratch, `wrk-${path}.db`));
  perRequest.push(r);
  row(
    'per-request',
    `${requestLabel(path)}, wrk -t1 -c64`,
    `${r.taskctlPerSecond}/s; bare node:http ${r.barePerSecond}/s (ratio ${r.ratio}, rounds ${r.ratioRange.join('-')})${r.clientSaturated ? ' [wrk saturated]' : ''}`,
    '',
  );
}
results.perRequest = perRequest;
// The same requests counted in instructions: repeatable where requests per second are not. --quick only
// checks that the count runs (too few requests for V8 to have finished compiling the request path).
const instructions: Array<{ path: string; taskctl: number; bare: number; ratio: number }> = [];
if (callgrindAvailable()) {
  for (const path of ['ping', 'watch-cancelled'] as const) {
    log(`per-request: ${path} in instructions (callgrind), against bare node:http`);
    const r = quick ? await instructionsAgainstBare(path, 3_000, 500, 1) : await instructionsAgainstBare(path);
    instructions.push(r);
    row('per-request', `${requestLabel(path)}, instructions (callgrind)`, `${r.taskctl} per request; bare node:http ${r.bare} (ratio ${r.ratio})`, '');
  }
} else {
  row('per-request', 'instructions per request (callgrind)', 'not measured: valgrind is not installed', '');
}
results.instructions = instructions;
// Durable cancels need a record of what was acknowledged, to check the file: the node load client.
log('throughput: durable cancels on sqlite');
const cancels = await durableCancels();
const throughputs: unknown[] = [cancels];
row(
  'throughput',
  'durable cancels (sqlite), 64 concurrent',
  `${cancels.perSecond}/s (${cancels.requests} ok, ${cancels.failed} failed); ${cancels.acknowledgedOnDisk} of ${cancels.requests} on disk`,
  `client cpu ${cancels.clientCpuPercent}%`,
);
results.throughput = throughputs;

const shared = await postgresFigures(log);
results.postgres = shared.results;
table.push(...shared.rows);

log('fan-out');
const fan = await fanout(1_000);
results.fanout = fan;
row('fan-out', '1 cancel, 1000 watchers', `first ${fan.firstMs} ms, all ${fan.allAnsweredMs} ms`, '');

log('event stream: a change to 100 GET /v1/events clients, and memory per idle stream');
const eventRuns = (await eventFanout()) as Array<{
  burst: number;
  allClientsMs: Record<string, number>;
  perClientMs: Record<string, number>;
  clientCpuPercent: number;
}>;
const eventMemory = await eventStreamMemory();
results.events = { fanout: eventRuns, memory: eventMemory, toBareHeldWatch: ratio(eventMemory.bytesPerStream, bareHeld.bytesPerWatchedId) };
for (const r of eventRuns) {
  row(
    'events',
    `a change -> all of 100 streams, ${r.burst} at a time`,
    `p50 ${r.allClientsMs.p50} p99 ${r.allClientsMs.p99} max ${r.allClientsMs.max} ms; per client p99 ${r.perClientMs.p99} ms`,
    `client cpu ${r.clientCpuPercent}%`,
  );
}
row(
  'memory',
  `${eventMemory.clients} idle event streams`,
  `${eventMemory.bytesPerStream} B each; bare node:http held request ${bareHeld.bytesPerWatchedId} B`,
  '',
);

log('web page: its bytes, and first rows with 10,000 tasks in headless Chromium');
const web = await webPage(10_000, quick ? 2 : 5);
results.web = web;
if ('skipped' in web) row('web page', '10000 tasks', `skipped: ${web.skipped}`, '');
else
  row(
    'web page',
    `${web.tasks} tasks, headless Chromium`,
    `${web.bytes} B; first rows ${web.firstRowsMs.median} ms, all listed ${web.allListedMs.median} ms (medians)`,
    `${web.rowsInDom} rows in the DOM`,
  );

log('event streams: 300 that never read during a flood, and 200 resuming at once');
const nonReading = await nonReadingStreams();
const resuming = await resumingStreams();
results.streams = { nonReading, resuming };
row(
  'events',
  `${nonReading.streams} streams that never read, ${nonReading.events} large events`,
  `server grew ${nonReading.serverGrowthMbWith} MB; ${nonReading.serverGrowthMbWithout} MB without them (${nonReading.extraMb} MB more)`,
  '',
);
row(
  'events',
  `${resuming.streams} streams resuming ${resuming.events} events at once`,
  `/ping p99 ${resuming.pingDuringReplay.p99} ms (max ${resuming.pingDuringReplay.max}; idle p99 ${resuming.pingIdle.p99}); all caught up in ${resuming.replayMs} ms`,
  '',
);

log('webhooks: a flood of events for an endpoint that is down');
const storm = await webhookStorm();
results.webhookStorm = storm;
row(
  'webhooks',
  `${storm.events} events, endpoint down`,
  `${storm.triesWhileFlooding} tries while they came, ${storm.triesAfter} in the ${storm.watchSeconds} s after at ${storm.cpuPercent}% CPU; ${storm.queued} queued; RSS ${storm.idleRssMb} -> ${storm.rssMb} MB`,
  '',
);

log('worker side');
const worker = await workerSide(1_000);
results.worker = worker;
row('worker', 'work on 1000 ids, --no-tui', `${worker.plain.sockets} socket(s), ${worker.plain.cpuPercent}% cpu idle, ${worker.plain.rssMb} MB`, '');
row('worker', 'work on 1000 ids, TUI', `${worker.tui.sockets} socket(s), ${worker.tui.cpuPercent}% cpu idle, ${worker.tui.rssMb} MB`, '');

log('start-up');
const start = await startupAgainstNode(quick ? 7 : 21);
results.startup = { ...start, binaryMb: Math.round(statSync(binary).size / 1024 / 1024) };
row(
  'start-up',
  'taskctl --version',
  `${start.versionMsMedian} ms median; node -e 0 ${start.nodeMsMedian} ms (ratio ${start.versionToNode}); the bundle on node ${start.bundleVersionMsMedian} ms`,
  '',
);
row(
  'start-up',
  'serve to first /ping',
  `${start.serveToFirstPingMsMedian} ms median (min ${start.serveToFirstPingMs.min}, max ${start.serveToFirstPingMs.max})`,
  '',
);
row('binary', 'dist/taskctl', `${Math.round(statSync(binary).size / 1024 / 1024)} MB`, '');

// The targets of the second performance round, each as a ratio or figure measured in this run.
type LatencyRun = { n: number; mode: string; cancelConcurrency: number; latencyMs: Record<string, number> };
const largest = Math.max(...sizes);
const p99Of = (mode: string) => (latency as LatencyRun[]).find((r) => r.n === largest && r.mode === mode && r.cancelConcurrency === 1)!.latencyMs.p99!;
const [pingRun, watchRun] = perRequest as Array<{ ratio: number; clientSaturated: boolean }>;
results.targets = {
  pingToBare: pingRun!.ratio,
  watchCancelledToBare: watchRun!.ratio,
  wrkSaturated: pingRun!.clientSaturated || watchRun!.clientSaturated,
  // Instructions taskctl spends per request over what the bare server spends (target 1 as a cost: ≤ 1/0.9).
  pingInstructionsToBare: instructions[0]?.ratio ?? null,
  watchCancelledInstructionsToBare: instructions[1]?.ratio ?? null,
  heldWatchBytes: held.bytesPerWatchedId,
  heldWatchToBare: (results.memoryHeld as { ratio: number }).ratio,
  versionToNode: start.versionToNode,
  serveToFirstPingMs: start.serveToFirstPingMsMedian,
  batchedToPerIdP99: ratio(p99Of('batched'), p99Of('per-id')),
  // The same from interleaved rounds, per size (target: at most 1 at 1,000 and at 10,000; null where not run).
  batchedToPerIdP99At1000: batchedRounds.bySize[1_000]?.batchedToPerId ?? null,
  batchedToPerIdP99At10000: batchedRounds.bySize[10_000]?.batchedToPerId ?? null,
  // Round three: taskctl against the Go seed server in the same run (null where Go is missing), and streams.
  cancelP99ToGo: tail.toGo?.taskctl?.p99 ?? null,
  watchBytesToGo: tail.toGo?.taskctl?.bytesPerWatch ?? null,
  // Both against-Go targets in the one run (p99 at most 0.8 of Go's, memory per watch at most 0.55); null without Go.
  againstGoTargetsMet: tail.toGo?.taskctl ? tail.toGo.taskctl.p99 <= 0.8 && tail.toGo.taskctl.bytesPerWatch <= 0.55 : null,
  // The same p99 ratio for the two baselines on taskctl's Node: where node:http alone stands, and the floor
  // (node:net with no HTTP stack), under which no server on this Node gets on this machine.
  cancelP99BareNodeToGo: tail.toGo?.['node:http seed server']?.p99 ?? null,
  cancelP99FloorToGo: tail.toGo?.['node:net seed floor']?.p99 ?? null,
  cancelP99ToBareNode: tail.taskctlToBareNode?.p99 ?? null,
  // The load average while the comparison ran: its p99s are only as quiet as the machine was.
  againstGoLoadAverage: tail.loadAverage,
  nonReadingStreamsExtraMb: nonReading.extraMb,
  resumingStreamsPingP99Ms: resuming.pingDuringReplay.p99,
  // Over the 2 ms link, where a re-poll's trip shows: two polls per session against per-id, and one.
  batchedToPerIdP99OverLink: ratio(overLink[2]!.latencyMs.p99!, overLink[0]!.latencyMs.p99!),
  batchedOnePollToPerIdP99OverLink: ratio(overLink[1]!.latencyMs.p99!, overLink[0]!.latencyMs.p99!),
};

results.durationSeconds = Math.round((Date.now() - t0) / 1000);
writeFileSync(join(here, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
rmSync(scratch, { recursive: true, force: true });

const widths = [0, 1, 2, 3].map((i) => Math.max(...table.map((r) => r[i]!.length)));
for (const r of table)
  console.log(
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
console.log(`\nwrote bench/results.json in ${results.durationSeconds}s`);
