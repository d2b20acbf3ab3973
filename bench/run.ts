// npm run bench [-- --quick]: measures the built binary on loopback and writes bench/results.json.
// Servers are the real dist/taskctl; load comes from load-client.ts in a process of its own.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { ask, binary, cpuTicks, quick, rssKb, scratch, sleep, sockets, startClient, startServer, track } from './harness.ts';
import { churn, flood } from './bounded-state.ts';
import { parentCancel } from './parent-cancel.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const results: Record<string, unknown> = { quick, machine: { cpus: (await import('node:os')).cpus().length, node: process.version }, startedAt: new Date().toISOString() };
const table: string[][] = [];
const row = (...cells: (string | number)[]) => table.push(cells.map(String));
let serial = 0;

async function openWatches(url: string): Promise<number> {
  return (await (await fetch(`${url}/healthz`)).json() as { openWatches: number }).openWatches;
}
async function waitForOpenWatches(url: string, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await openWatches(url)) < n) {
    if (Date.now() > deadline) throw new Error(`only ${await openWatches(url)} of ${n} watches opened`);
    await sleep(20);
  }
}

// 1 and 2: cancel -> watcher latency, and memory per open watch.
async function latencyAndMemory(n: number, mode: 'per-id' | 'batched', cancelConcurrency: number, memoryOnly = false, batchWorkers = 4, store = 'memory') {
  const server = await startServer(store === 'sqlite' ? `sqlite:${join(scratch, `mem-${serial}.db`)}` : store);
  const client = startClient();
  await sleep(200);
  const idle = rssKb(server.pid);
  let held = 0;
  const ids = Array.from({ length: n }, (_, i) => `lat${serial}-${i}`);
  serial++;
  const result = await ask<{ latencyMs: Record<string, number>; totalMs: number; clientCpuPercent: number }>(
    client,
    { kind: 'latency', url: server.url, ids, mode, batchWorkers, cancelConcurrency, memoryOnly },
    async () => {
      await waitForOpenWatches(server.url, mode === 'per-id' ? n : batchWorkers);
      await sleep(300);
      held = rssKb(server.pid);
    },
  );
  client.kill();
  await server.stop();
  const bytesPerWatch = Math.round(((held - idle) * 1024) / n);
  return { n, mode, store, cancelConcurrency, ...result, serverRssIdleMb: Math.round(idle / 1024), serverRssHeldMb: Math.round(held / 1024), bytesPerWatchedId: bytesPerWatch };
}

async function throughput(store: 'memory' | 'sqlite', what: 'watch-cancelled' | 'cancel') {
  const dbPath = join(scratch, `tp-${serial++}.db`);
  const server = await startServer(store === 'memory' ? 'memory' : `sqlite:${dbPath}`);
  const client = startClient();
  const result = await ask<{ perSecond: number; requests: number; failed: number; acknowledged?: string[]; clientCpuPercent: number }>(client, {
    kind: 'throughput',
    url: server.url,
    what,
    concurrency: 64,
    durationMs: quick ? 2_000 : 5_000,
    idPrefix: `tp${serial}`,
  });
  client.kill();
  await server.stop();
  let onDisk: number | undefined;
  if (store === 'sqlite' && what === 'cancel') {
    // Every acknowledged cancel must be in the file the server wrote.
    const db = new DatabaseSync(dbPath, { readOnly: true });
    const stored = new Set((db.prepare('SELECT id FROM cancels').all() as Array<{ id: string }>).map((r) => r.id));
    db.close();
    onDisk = result.acknowledged!.filter((id) => stored.has(id)).length;
  }
  return { store, what, perSecond: result.perSecond, requests: result.requests, failed: result.failed, acknowledgedOnDisk: onDisk, clientCpuPercent: result.clientCpuPercent };
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
    const pid = label === 'tui' ? Number(execFileSync('tmux', ['-L', 'taskctl-bench', 'display-message', '-p', '-t', 'bench', '#{pane_pid}']).toString()) : child.pid!;
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
    ['tmux', '-L', 'taskctl-bench', 'new-session', '-d', '-s', 'bench', '-x', '120', '-y', '30', `exec ${binary} work ${idList.join(' ')} --server ${server.url}`],
    'tui',
  );
  spawnSync('tmux', ['-L', 'taskctl-bench', 'kill-server'], { stdio: 'ignore' });
  await server.stop();
  return { ids, plain, tui };
}

async function startup() {
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    execFileSync(binary, ['--version']);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const pingTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const server = await startServer('memory');
    while (!(await fetch(`${server.url}/ping`).then((r) => r.ok, () => false))) await sleep(1);
    pingTimes.push(performance.now() - t);
    await server.stop();
  }
  pingTimes.sort((a, b) => a - b);
  return { versionMsMedian: Math.round(times[10]!), serveToFirstPingMsMedian: Math.round(pingTimes[2]!), binaryMb: Math.round(statSync(binary).size / 1024 / 1024) };
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
      row('cancel->watcher', `${n} ${mode}, ${cancelConcurrency} at a time`, `p50 ${r.latencyMs.p50} p90 ${r.latencyMs.p90} p99 ${r.latencyMs.p99} max ${r.latencyMs.max} ms; all in ${r.totalMs} ms`, `client cpu ${r.clientCpuPercent}%`);
      if (cancelConcurrency === 1) row('memory', `${n} ${mode} watches`, `${r.serverRssIdleMb} -> ${r.serverRssHeldMb} MB RSS; ${r.bytesPerWatchedId} B per watched id`, '');
    }
  }
}
results.latency = latency;

if (!quick) {
  // The fd limit here (ulimit -n) caps one process near 20,000 sockets, so the largest per-id run holds
  // what fits and the 50,000 figure is extrapolated from its bytes per watch. These runs use the default
  // store (sqlite), where task statuses live on disk, as a real server's would.
  log('memory: 18,000 per-id watches (sqlite)');
  const big = await latencyAndMemory(18_000, 'per-id', 16, false, 4, 'sqlite');
  results.memoryLarge = { ...big, extrapolated50kMb: Math.round((big.serverRssIdleMb * 1024 * 1024 + big.bytesPerWatchedId * 50_000) / 1024 / 1024) };
  row('memory', '18000 per-id watches (sqlite)', `${big.serverRssHeldMb} MB RSS; ${big.bytesPerWatchedId} B each; 50,000 -> ~${(results.memoryLarge as { extrapolated50kMb: number }).extrapolated50kMb} MB`, '');
  // Batched watching at scale: 100,000 ids held by 10 workers (10,000 ids each).
  log('memory: 100,000 ids in 10 batched watches (sqlite)');
  const batched = await latencyAndMemory(100_000, 'batched', 1, true, 10, 'sqlite');
  results.memoryBatchedLarge = batched;
  row('memory', '100000 ids, 10 batched watches (sqlite)', `${batched.serverRssIdleMb} -> ${batched.serverRssHeldMb} MB RSS; ${batched.bytesPerWatchedId} B per watched id`, '');
}

log(quick ? 'bounded state: flood, 10 watches x 10,000 fresh ids + 30 ls' : 'bounded state: flood, 50 watches x 10,000 fresh ids + 150 ls');
const floodResult = quick ? await flood(10, 10_000, 30) : await flood(50, 10_000, 150);
log(`bounded state: churn of ${quick ? '50,000' : '1,000,000'} ids`);
const churnResult = await churn(quick ? 50_000 : 1_000_000);
results.boundedState = { flood: floodResult, churn: churnResult };
row('bounded', `flood: ${floodResult.watches} x ${floodResult.idsPerWatch} fresh ids (sqlite)`, `/ping p99 ${floodResult.ping.flood.p99} ms (max ${floodResult.ping.flood.max}); all ${floodResult.tracked} statuses written in ${floodResult.writtenMs} ms; ${floodResult.rssMb.idle} -> ${floodResult.rssMb.held} MB RSS`, '');
row('bounded', `flood: then ${floodResult.pagers} ls at once`, `/ping p99 ${floodResult.ping.listing.p99} ms (max ${floodResult.ping.listing.max}); first page of 1000 in ${floodResult.firstPageMs} ms; pages p99 ${floodResult.pages.p99} ms`, '');
row('bounded', `churn: ${churnResult.ids} ids watch->cancel->report, --retention 5s`, `${churnResult.idsPerSecond} ids/s; /ping p99 ${churnResult.ping.p99} ms; RSS peak ${churnResult.peakRssMb} MB, end/quarter ${churnResult.rssEndToQuarter}; db end/quarter ${churnResult.dbEndToQuarter} (${churnResult.end.dbMb} MB); ${churnResult.end.tracked} tracked (window bound ${churnResult.trackedWindowBound})`, '');

log(quick ? 'parents: one cancel of a parent with 20,000 children' : 'parents: one cancel of a parent with 100,000 children');
const parents = quick ? await parentCancel(2, 10_000) : await parentCancel(10, 10_000);
results.parents = parents;
row('parents', `cancel of a parent with ${parents.children} children in ${parents.children / 10_000} watches (sqlite)`, `every watch answered in ${parents.allAnsweredMs} ms; all ${parents.marked} marked cancel_requested in ${parents.markedMs} ms; /ping p99 ${parents.ping.p99} ms (max ${parents.ping.max})`, '');

const throughputs: unknown[] = [];
for (const store of ['memory', 'sqlite'] as const) {
  for (const what of ['watch-cancelled', 'cancel'] as const) {
    log(`throughput: ${what} on ${store}`);
    const r = await throughput(store, what);
    throughputs.push(r);
    row('throughput', `${what} (${store}), 64 concurrent`, `${r.perSecond}/s (${r.requests} ok, ${r.failed} failed)${r.acknowledgedOnDisk === undefined ? '' : `; ${r.acknowledgedOnDisk} of ${r.requests} on disk`}`, `client cpu ${r.clientCpuPercent}%`);
  }
}
results.throughput = throughputs;

log('fan-out');
const fan = await fanout(1_000);
results.fanout = fan;
row('fan-out', '1 cancel, 1000 watchers', `first ${fan.firstMs} ms, all ${fan.allAnsweredMs} ms`, '');

log('worker side');
const worker = await workerSide(1_000);
results.worker = worker;
row('worker', 'work on 1000 ids, --no-tui', `${worker.plain.sockets} socket(s), ${worker.plain.cpuPercent}% cpu idle, ${worker.plain.rssMb} MB`, '');
row('worker', 'work on 1000 ids, TUI', `${worker.tui.sockets} socket(s), ${worker.tui.cpuPercent}% cpu idle, ${worker.tui.rssMb} MB`, '');

log('start-up');
const start = await startup();
results.startup = start;
row('start-up', 'taskctl --version', `${start.versionMsMedian} ms median`, '');
row('start-up', 'serve to first /ping', `${start.serveToFirstPingMsMedian} ms median`, '');
row('binary', 'dist/taskctl', `${start.binaryMb} MB`, '');

results.durationSeconds = Math.round((Date.now() - t0) / 1000);
writeFileSync(join(here, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
rmSync(scratch, { recursive: true, force: true });

const widths = [0, 1, 2, 3].map((i) => Math.max(...table.map((r) => r[i]!.length)));
for (const r of table) console.log(r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
console.log(`\nwrote bench/results.json in ${results.durationSeconds}s`);
