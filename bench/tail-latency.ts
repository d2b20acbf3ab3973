// Cancel-to-watcher p99 and memory per watch at 5,000 open per-id watches, taskctl against a Go server of
// the seed protocol (go-seed-server/, standard library only), in one run: and taskctl again with each of
// its later additions switched off (parking, the young generation's cap), to show each one's share of the
// tail. Two baselines on taskctl's own Node run beside them: a bare node:http server of the seed protocol
// (bare-server.mjs seed), and the floor, the same protocol on bare node:net sockets with no HTTP stack
// (net-seed-server.mjs): what is left of a tail when a server does next to nothing is the machine's and
// the client's. Every server gets the same watches and the same cancels (the seed route, one at a time),
// in interleaved rounds so that the machine's other load falls on all alike. Run alone:
// npx tsx bench/tail-latency.ts [--quick | --rounds N].
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ask, median, quick, ratio, rssKb, scratch, serverFrom, type Server, sleep, sockets, startClient, startServer, track } from './harness.ts';
import { startBare, startNetSeed } from './per-request.ts';

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * Builds the Go baseline with `go build` (Debian's golang-go, which .ci/run installs). Undefined, with a
 * note on stderr, where Go is missing outside CI; in CI its absence fails the bench.
 */
export function buildGoSeedServer(): string | undefined {
  if (spawnSync('go', ['version']).status !== 0) {
    if (process.env.CI) throw new Error('go is not installed (apt-get install golang-go): the bench needs it for the Go baseline');
    process.stderr.write('bench: go is not installed, so the Go baseline is skipped (apt-get install golang-go)\n');
    return undefined;
  }
  const output = join(scratch, 'go-seed-server');
  execFileSync('go', ['build', '-o', output, '.'], {
    cwd: join(here, 'go-seed-server'),
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
  });
  return output;
}

async function startGo(path: string): Promise<Server> {
  return serverFrom(track(spawn(path, ['-watch-timeout', '5m'], { stdio: ['ignore', 'pipe', 'inherit'] })), 'go seed server');
}

export interface TailRun {
  p99: number;
  p50: number;
  max: number;
  bytesPerWatch: number;
}

/**
 * `ids` held by `client` as per-id watches on `server`, then cancelled one at a time by the seed route: the
 * cancel-to-watcher latencies. `onHeld` runs once every watch is open, before the first cancel.
 */
export async function perIdSeedCancels(
  client: ChildProcess,
  server: Server,
  ids: string[],
  onHeld: () => void | Promise<void>,
): Promise<Record<string, number>> {
  const result = await ask<{ latencyMs: Record<string, number> }>(
    client,
    { kind: 'latency', url: server.url, ids, mode: 'per-id', batchWorkers: 1, cancelConcurrency: 1, seedCancel: true },
    async () => {
      // Counted the same way for every server (Go has no /healthz): its open sockets.
      while (sockets(server.pid) < ids.length) await sleep(50);
      await sleep(300);
      await onHeld();
    },
  );
  return result.latencyMs;
}

/** `n` per-id watches on `server`, then one cancel at a time by the seed route: p99 and memory per watch. */
async function tailRun(server: Server, n: number, prefix: string): Promise<TailRun> {
  const client = startClient();
  await sleep(200);
  const idle = rssKb(server.pid);
  let held = 0;
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  const latencyMs = await perIdSeedCancels(client, server, ids, () => {
    held = rssKb(server.pid);
  });
  client.kill();
  await server.stop();
  return { p50: latencyMs.p50!, p99: latencyMs.p99!, max: latencyMs.max!, bytesPerWatch: Math.round(((held - idle) * 1024) / n) };
}

/** The servers compared: taskctl as shipped, with each addition off, the two Node baselines, and Go when it can be built. */
function contenders(goPath: string | undefined): Array<[string, () => Promise<Server>]> {
  const list: Array<[string, () => Promise<Server>]> = [
    ['taskctl', () => startServer('memory')],
    ['taskctl, parking off', () => startServer('memory', {}, { TASKCTL_NO_PARKING: '1' })],
    ['taskctl, young-generation cap off', () => startServer('memory', {}, { TASKCTL_NO_HEAP_TUNING: '1' })],
    // The event log cannot be switched off; a window of one event keeps it from holding thousands.
    ['taskctl, event window 1', () => startServer('memory', { '--event-window': '1' })],
    ['node:http seed server', () => startBare('seed')],
    ['node:net seed floor', () => startNetSeed()],
  ];
  if (goPath) list.unshift(['go', () => startGo(goPath)]);
  return list;
}

/** Each contender `rounds` times, interleaved; the median of each figure per contender, and the ratios to Go. */
export async function tailAgainstGo(n = 5_000, rounds = quick ? 1 : 3, log: (line: string) => void = () => {}) {
  const goPath = buildGoSeedServer();
  const runs = new Map<string, TailRun[]>();
  let serial = 0;
  const only = process.env.TAIL_ONLY?.split('|');
  for (let round = 0; round < rounds; round++) {
    for (const [label, start] of contenders(goPath).filter(([label]) => !only || only.includes(label))) {
      log(`tail: ${n} per-id watches on ${label}, round ${round + 1} of ${rounds}`);
      const run = await tailRun(await start(), n, `tail${serial++}`);
      runs.set(label, [...(runs.get(label) ?? []), run]);
    }
  }
  const medians = Object.fromEntries(
    [...runs].map(([label, list]) => [
      label,
      {
        p50: median(list.map((r) => r.p50)),
        p99: median(list.map((r) => r.p99)),
        max: median(list.map((r) => r.max)),
        bytesPerWatch: median(list.map((r) => r.bytesPerWatch)),
        p99s: list.map((r) => r.p99),
      },
    ]),
  );
  const go = medians.go;
  // Round by round too: a ratio of medians can hide that no single round met the target.
  const roundRatios = go
    ? (runs.get('taskctl') ?? []).map((run, i) => ({
        p99: ratio(run.p99, runs.get('go')![i]!.p99),
        bytesPerWatch: ratio(run.bytesPerWatch, runs.get('go')![i]!.bytesPerWatch),
      }))
    : null;
  // The floor's p99 against Go's, round by round: how far under Go's tail any server on this Node can get here.
  const floorToGoByRound = go ? (runs.get('node:net seed floor') ?? []).map((run, i) => ratio(run.p99, runs.get('go')![i]!.p99)) : null;
  const bare = medians['node:http seed server'];
  // taskctl's tail against node:http's own, the part of it that is taskctl's.
  const taskctlToBareNode =
    bare && medians.taskctl ? { p99: ratio(medians.taskctl.p99, bare.p99), bytesPerWatch: ratio(medians.taskctl.bytesPerWatch, bare.bytesPerWatch) } : null;
  const toGo = go
    ? Object.fromEntries(
        Object.entries(medians)
          .filter(([label]) => label !== 'go')
          .map(([label, m]) => [label, { p99: ratio(m.p99, go.p99), bytesPerWatch: ratio(m.bytesPerWatch, go.bytesPerWatch) }]),
      )
    : null;
  return {
    n,
    rounds,
    goBuilt: goPath !== undefined,
    medians,
    toGo,
    taskctlToGoByRound: roundRatios,
    floorToGoByRound,
    taskctlToBareNode,
    loadAverage: Math.round(loadavg()[1]! * 10) / 10,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || (quick ? 1 : 3);
  console.log(JSON.stringify(await tailAgainstGo(5_000, rounds, (line) => process.stderr.write(`${line}\n`)), null, 2));
  process.exit(0);
}
