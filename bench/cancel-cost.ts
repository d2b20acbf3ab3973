// What one cancel costs the server at 5,000 held per-id watches: the scenario of the tail comparison
// (tail-latency.ts: per-id watches, one seed cancel at a time), after a warm-up round of cancels on the same
// server so that V8 has compiled the path, measured in what a busy machine moves less than a p99:
// - bytes allocated per cancel on V8's heap (cancel-probe.mjs, preloaded): the same to 0.1 KB run after run;
// - CPU time per cancel, of every thread (/proc/PID/task/T/schedstat), for Go too (--go). On this shared
//   2-core VM it still moves by 10-15% between runs of one build: compare builds in interleaved rounds;
// - with CANCEL_COST_CALLGRIND=1, instructions per cancel under valgrind's callgrind (2,000 watches). Fix
//   the young generation for it (CANCEL_COST_NODE_FLAGS='--min-semi-space-size=16 --max-semi-space-size=16'),
//   or how far it grew decides the count; even so V8's tiering moved it by up to 10% between runs here.
// taskctl runs from the bundle (dist/taskctl.mjs, or CANCEL_COST_BUNDLE) on the pinned Node. Diagnostics:
// CANCEL_COST_NODE_FLAGS (e.g. --perf-basic-prof), CANCEL_PROBE_PROFILE=file (an inspector CPU profile of
// the counted cancels), CANCEL_COST_PERF=file (perf record, on-CPU samples), CANCEL_COST_STRACE=file
// (strace -c), CANCEL_COST_LOG_TO_FILE=1 (the server's log to a file, not a pipe), CANCEL_COST_OTHER=x.mjs
// (with --go: that Node seed-protocol server in Go's place), CANCEL_COST_STORE=redis://… (Redis, not memory).
// With --memory: what a held watch costs instead (heldMemory). With CANCEL_COST_BUNDLES='name=path,…',
// each of those bundles in turn in every round instead of the one bundle (builds compared in one run).
// Run alone: npx tsx bench/cancel-cost.ts [--go] [--rounds N] [--memory]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { fileURLToPath } from 'node:url';
import { ask, maxConnections, median, pinnedNode, scratch, type Server, serverFrom, sleep, sockets, startClient, track } from './harness.ts';
import { buildGoSeedServer, perIdSeedCancels } from './tail-latency.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const bundle = process.env.CANCEL_COST_BUNDLE ?? join(here, '..', 'dist', 'taskctl.mjs');
// With $CANCEL_COST_CALLGRIND, taskctl runs under valgrind's callgrind and the instructions of the counted
// cancels are counted too: the one figure here that the machine's load cannot move.
const callgrindOut = process.env.CANCEL_COST_CALLGRIND ? join(scratch, 'cancel-cost.callgrind') : undefined;

/** CPU time of every thread of `pid` so far, in microseconds (from /proc, for a server of any language). */
function threadCpuUs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // A thread that ended meanwhile.
    }
  }
  return ns / 1_000;
}

async function startTaskctl(out: string, from = bundle): Promise<Server> {
  // With $CANCEL_COST_STORE (a redis:// URL), that store, under a key prefix of this server's own that its
  // stop clears.
  const redis = process.env.CANCEL_COST_STORE;
  const prefix = `cancel-cost-${process.pid}-${serial}-${Date.now()}:`;
  const store = redis ? ['--store', redis, '--redis-prefix', prefix] : ['--store', 'memory'];
  const flags = [...store, '--port', '0', '--watch-timeout', '5m', '--max-watches', '1000000', '--max-connections', String(maxConnections())];
  // With $CANCEL_COST_LOG_TO_FILE, the server's log lines go to a file rather than a pipe this process reads.
  const logFile = process.env.CANCEL_COST_LOG_TO_FILE ? join(scratch, `log-${serial}.txt`) : undefined;
  const node = [pinnedNode, ...(process.env.CANCEL_COST_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])];
  const command = callgrindOut ? ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${callgrindOut}`, ...node] : node;
  const child = spawn(command[0]!, [...command.slice(1), '--import', join(here, 'cancel-probe.mjs'), from, 'serve', ...flags, '--json', '--no-tui'], {
    stdio: ['ignore', logFile ? openSync(logFile, 'w') : 'pipe', 'inherit'],
    env: { ...process.env, CANCEL_PROBE_OUT: out },
  });
  track(child);
  let server: Server;
  if (!logFile) server = await serverFrom(child, 'taskctl (bundle)', callgrindOut ? 120_000 : 10_000);
  else {
    let url: string | undefined;
    while (!(url = /"url":"([^"]+)"/.exec(existsSync(logFile) ? readFileSync(logFile, 'utf8') : '')?.[1])) await sleep(20);
    server = {
      url,
      pid: child.pid!,
      process: child,
      stop: async () => {
        child.kill('SIGTERM');
        if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
      },
    };
  }
  if (!redis) return server;
  return {
    ...server,
    stop: async () => {
      await server.stop();
      const client = new Redis(redis);
      try {
        let cursor = '0';
        do {
          const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
          if (keys.length > 0) await client.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        client.disconnect();
      }
    },
  };
}

async function probe(pid: number, out: string): Promise<{ cpuUs: number; allocatedBytes: number; collections: Record<string, number> }> {
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 10_000;
  while (!existsSync(out)) {
    if (Date.now() > deadline) throw new Error('the probe wrote nothing');
    await sleep(20);
  }
  await sleep(50);
  const result = JSON.parse(readFileSync(out, 'utf8'));
  rmSync(out);
  return result;
}

let serial = 0;
async function cancels(server: Server, n: number, onOpened: () => Promise<void>): Promise<Record<string, number>> {
  const client = startClient();
  const ids = Array.from({ length: n }, (_, i) => `cost${serial}-${i}`);
  serial++;
  try {
    return await perIdSeedCancels(client, server, ids, onOpened);
  } finally {
    client.kill();
  }
}

/** One server (taskctl from `from`, or Go): `warm` cancels, then `n` counted. */
export async function cancelCost(which: 'taskctl' | 'go', n = callgrindOut ? 2_000 : 5_000, warm = callgrindOut ? 1_000 : 2_000, from = bundle) {
  const out = join(scratch, `probe-${process.pid}-${serial}.json`);
  const goPath = which === 'go' ? buildGoSeedServer() : undefined;
  const server =
    which === 'taskctl'
      ? await startTaskctl(out, from)
      : process.env.CANCEL_COST_OTHER
        ? await serverFrom(
            track(
              callgrindOut
                ? spawn(
                    'valgrind',
                    ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${callgrindOut}`, pinnedNode, process.env.CANCEL_COST_OTHER],
                    {
                      stdio: ['ignore', 'pipe', 'ignore'],
                    },
                  )
                : spawn(pinnedNode, [process.env.CANCEL_COST_OTHER], { stdio: ['ignore', 'pipe', 'inherit'] }),
            ),
            'other',
            120_000,
          )
        : await serverFrom(track(spawn(goPath!, ['-watch-timeout', '5m'], { stdio: ['ignore', 'pipe', 'inherit'] })), 'go');
  try {
    await cancels(server, warm, async () => {});
    await sleep(500);
    let cpuBefore = 0;
    let perf: ReturnType<typeof spawn> | undefined;
    const latency = await cancels(server, n, async () => {
      cpuBefore = threadCpuUs(server.pid);
      if (which === 'taskctl') process.kill(server.pid, 'SIGUSR2');
      if (callgrindOut && (which === 'taskctl' || process.env.CANCEL_COST_OTHER)) {
        execFileSync('callgrind_control', ['--zero', String(server.pid)], { stdio: 'ignore' });
        execFileSync('callgrind_control', ['--instr=on', String(server.pid)], { stdio: 'ignore' });
      }
      // With $CANCEL_COST_PERF, perf samples the server's CPU (on-CPU only, unlike the inspector's profile) meanwhile.
      if (process.env.CANCEL_COST_PERF) {
        perf = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '2999', '-g', '-o', process.env.CANCEL_COST_PERF, '-p', String(server.pid)], {
          stdio: 'ignore',
        });
        await sleep(500);
      }
      // With $CANCEL_COST_STRACE, strace counts the server's system calls meanwhile.
      if (process.env.CANCEL_COST_STRACE) {
        perf = spawn('strace', ['-f', '-c', '-o', process.env.CANCEL_COST_STRACE, '-p', String(server.pid)], { stdio: 'ignore' });
        await sleep(500);
      }
    });
    if (perf) {
      perf.kill('SIGINT');
      await new Promise((resolve) => perf!.once('exit', resolve));
    }
    const cpuUs = threadCpuUs(server.pid) - cpuBefore;
    let instructions: number | undefined;
    if (callgrindOut && (which === 'taskctl' || process.env.CANCEL_COST_OTHER)) {
      execFileSync('callgrind_control', ['--instr=off', String(server.pid)], { stdio: 'ignore' });
      execFileSync('callgrind_control', ['--dump', String(server.pid)], { stdio: 'ignore' });
      const dumped = readdirSync(scratch)
        .filter((f) => f.startsWith('cancel-cost.callgrind.'))
        .sort()
        .at(-1)!;
      instructions = Number(/^totals: (\d+)/m.exec(readFileSync(join(scratch, dumped), 'utf8'))?.[1]);
    }
    const probed = which === 'taskctl' ? await probe(server.pid, out) : undefined;
    return {
      which,
      n,
      cpuUsPerCancel: Math.round((cpuUs / n) * 10) / 10,
      ...(instructions ? { kInstructionsPerCancel: Math.round(instructions / n / 1_000) } : {}),
      ...(probed
        ? {
            mainThreadCpuUsPerCancel: Math.round((probed.cpuUs / n) * 10) / 10,
            kbAllocatedPerCancel: Math.round(probed.allocatedBytes / n / 102.4) / 10,
            collections: probed.collections,
          }
        : {}),
      p50: latency.p50,
      p99: latency.p99,
    };
  } finally {
    await server.stop();
  }
}

/**
 * What `n` held per-id watches cost taskctl (no cancel), per watch: RSS as the tail comparison reads it,
 * and the V8 heap in use after a full collection, the rest being native (sockets, libuv, malloc).
 */
export async function heldMemory(n = 5_000, from = bundle) {
  const out = join(scratch, `memory-${process.pid}-${serial++}.json`);
  process.env.CANCEL_COST_NODE_FLAGS = `${process.env.CANCEL_COST_NODE_FLAGS ?? ''} --expose-gc`;
  const server = await startTaskctl(out, from);
  const client = startClient();
  const read = async (): Promise<{ rss: number; heapUsed: number }> => {
    const lines = () => (existsSync(`${out}.mem`) ? readFileSync(`${out}.mem`, 'utf8').trim().split('\n') : []);
    const before = lines().length;
    process.kill(server.pid, 'SIGWINCH');
    while (lines().length === before) await sleep(20);
    return JSON.parse(lines().at(-1)!);
  };
  try {
    await sleep(200);
    const idle = await read();
    let held = idle;
    const ids = Array.from({ length: n }, (_, i) => `mem${serial}-${i}`);
    await ask(
      client,
      { kind: 'latency', url: server.url, ids, mode: 'per-id', batchWorkers: 1, cancelConcurrency: 1, seedCancel: true, memoryOnly: true },
      async () => {
        while (sockets(server.pid) < n) await sleep(50);
        await sleep(300);
        held = await read();
      },
    );
    const per = (key: 'rss' | 'heapUsed') => Math.round((held[key] - idle[key]) / n);
    return { n, bytesPerWatch: per('rss'), heapBytesPerWatch: per('heapUsed'), otherBytesPerWatch: per('rss') - per('heapUsed') };
  } finally {
    client.kill();
    await server.stop();
  }
}

// The bundles compared: $CANCEL_COST_BUNDLES (name=path,…), or the one bundle, named taskctl.
const bundles: Array<[string, string]> = process.env.CANCEL_COST_BUNDLES
  ? process.env.CANCEL_COST_BUNDLES.split(',').map((entry) => entry.split('=') as [string, string])
  : [['taskctl', bundle]];
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 3;

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--memory')) {
  const runs: Array<{ which: string } & Awaited<ReturnType<typeof heldMemory>>> = [];
  for (let round = 0; round < rounds; round++) {
    for (const [which, from] of bundles) runs.push({ which, ...(await heldMemory(5_000, from)) });
    process.stderr.write(`${JSON.stringify(runs.slice(-bundles.length))}\n`);
  }
  const of = (which: string, key: 'bytesPerWatch' | 'heapBytesPerWatch') => median(runs.filter((r) => r.which === which).map((r) => r[key]));
  console.log(
    JSON.stringify({
      ...Object.fromEntries(
        bundles.map(([which]) => [which, { bytesPerWatch: of(which, 'bytesPerWatch'), heapBytesPerWatch: of(which, 'heapBytesPerWatch') }]),
      ),
      runs,
    }),
  );
  process.exit(0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs: Array<Omit<Awaited<ReturnType<typeof cancelCost>>, 'which'> & { which: string }> = [];
  for (let round = 0; round < rounds; round++) {
    if (process.argv.includes('--go')) runs.push(await cancelCost('go'));
    for (const [which, from] of bundles) runs.push({ ...(await cancelCost('taskctl', undefined, undefined, from)), which });
    process.stderr.write(`${JSON.stringify(runs.slice(-bundles.length - (process.argv.includes('--go') ? 1 : 0)))}\n`);
  }
  const of = (which: string, key: 'cpuUsPerCancel' | 'kbAllocatedPerCancel' | 'mainThreadCpuUsPerCancel') =>
    median(runs.filter((r) => r.which === which).map((r) => (r as unknown as Record<string, number | undefined>)[key] ?? Number.NaN));
  console.log(
    JSON.stringify({
      ...Object.fromEntries(
        bundles.map(([which]) => [
          which,
          {
            cpuUsPerCancel: of(which, 'cpuUsPerCancel'),
            mainThreadCpuUsPerCancel: of(which, 'mainThreadCpuUsPerCancel'),
            kbAllocatedPerCancel: of(which, 'kbAllocatedPerCancel'),
          },
        ]),
      ),
      ...(process.argv.includes('--go') ? { go: { cpuUsPerCancel: of('go', 'cpuUsPerCancel') } } : {}),
      runs,
    }),
  );
  process.exit(0);
}
