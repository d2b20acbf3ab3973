// Per-request cost and start-up, each measured against a baseline in the same run: a bare node:http server
// on the same Node answering the same bytes, and `node -e 0`. Load comes from wrk (a C load generator, so
// the client is not what limits the figure); a run where wrk itself was saturated is flagged.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binary, cpuTicks, maxConnections, median, pinnedNode, ratio, type Server, serverFrom, sleep, startServer, track, version } from './harness.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..');

/**
 * The bare node:http baseline, on the pinned Node: it answers a watch as cancelled at once ("answer"),
 * never ("hold"), or when its id is cancelled, as the seed protocol does ("seed").
 */
export async function startBare(mode: 'answer' | 'hold' | 'seed' = 'answer'): Promise<Server> {
  return serverFrom(
    track(spawn(pinnedNode, [join(here, 'bare-server.mjs'), version, mode, String(maxConnections())], { stdio: ['ignore', 'pipe', 'inherit'] })),
    'the bare server',
  );
}

/** The floor of the tail on this Node: the seed protocol on bare node:net sockets (net-seed-server.mjs). */
export async function startNetSeed(): Promise<Server> {
  return serverFrom(
    track(spawn(pinnedNode, [join(here, 'net-seed-server.mjs'), String(maxConnections())], { stdio: ['ignore', 'pipe', 'inherit'] })),
    'the node:net seed server',
  );
}

interface WrkRun {
  perSecond: number;
  serverCpuPercent: number;
  wrkCpuPercent: number;
  errors: number;
}

/** One wrk run: 1 thread, 64 connections. The CPU of wrk and of the server over the run are read from /proc. */
function wrk(url: string, serverPid: number, seconds: number): WrkRun {
  const serverBefore = cpuTicks(serverPid);
  const started = performance.now();
  const run = spawnSync('/usr/bin/time', ['-f', 'cpu %U %S', 'wrk', '-t1', '-c64', `-d${seconds}s`, url], { encoding: 'utf8' });
  const elapsed = (performance.now() - started) / 1_000;
  const out = run.stdout + run.stderr;
  const perSecond = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const [user, system] = (/cpu ([\d.]+) ([\d.]+)/.exec(out)?.slice(1) ?? ['0', '0']).map(Number);
  const errors =
    Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) +
    Number(
      /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
        .exec(out)
        ?.slice(1)
        .reduce((a, b) => a + Number(b), 0) ?? 0,
    );
  return {
    perSecond: Math.round(perSecond),
    serverCpuPercent: Math.round(((cpuTicks(serverPid) - serverBefore) / 100 / elapsed) * 100),
    wrkCpuPercent: Math.round(((user! + system!) / elapsed) * 100),
    errors,
  };
}

/**
 * Throughput of `path` on taskctl (default settings: sqlite store, default heap) and on the bare server,
 * interleaved `rounds` times so that drift in the machine hits both alike; the medians of each, and the
 * ratio as the median of each round's taskctl/bare (a pair run seconds apart shares the machine's state,
 * which on a shared host moves by a third between runs), with the lowest and highest round.
 */
export async function throughputAgainstBare(path: 'ping' | 'watch-cancelled', rounds: number, seconds: number, dbPath: string) {
  const taskctl = await startServer(`sqlite:${dbPath}`, { '--watch-timeout': '30s' });
  const bare = await startBare();
  const target = path === 'ping' ? '/ping' : '/watch-task/already-cancelled';
  if (path === 'watch-cancelled') await fetch(`${taskctl.url}/cancel-task/already-cancelled`);
  // Warm both (JIT, connection set-up) before anything is counted: V8 is still compiling the request path
  // through the first tens of thousands of requests.
  wrk(taskctl.url + target, taskctl.pid, 3);
  wrk(bare.url + target, bare.pid, 3);
  const runs: { taskctl: WrkRun[]; bare: WrkRun[] } = { taskctl: [], bare: [] };
  for (let i = 0; i < rounds; i++) {
    runs.taskctl.push(wrk(taskctl.url + target, taskctl.pid, seconds));
    runs.bare.push(wrk(bare.url + target, bare.pid, seconds));
  }
  await Promise.all([taskctl.stop(), bare.stop()]);
  const taskctlPerSecond = median(runs.taskctl.map((r) => r.perSecond));
  const barePerSecond = median(runs.bare.map((r) => r.perSecond));
  const roundRatios = runs.taskctl.map((r, i) => ratio(r.perSecond, runs.bare[i]!.perSecond));
  // wrk on one thread near a full core means the client, not the server, set the pace.
  const clientSaturated = [...runs.taskctl, ...runs.bare].some((r) => r.wrkCpuPercent >= 90);
  return {
    path,
    taskctlPerSecond,
    barePerSecond,
    ratio: median(roundRatios),
    ratioRange: [Math.min(...roundRatios), Math.max(...roundRatios)],
    clientSaturated,
    runs,
  };
}

/** Start-up: `taskctl --version` against `node -e 0` (same Node), and `serve` until /ping answers. */
export async function startupAgainstNode(runs: number) {
  const time = (command: string, args: string[]) => {
    const started = performance.now();
    execFileSync(command, args, { stdio: 'ignore' });
    return performance.now() - started;
  };
  const version: number[] = [];
  const node: number[] = [];
  // The same bundle on the same Node without the single-executable wrapper: what the wrapper costs.
  const bundle: number[] = [];
  // Interleaved, so a slow moment of the machine costs all alike.
  for (let i = 0; i < runs; i++) {
    node.push(time(pinnedNode, ['-e', '0']));
    version.push(time(binary, ['--version']));
    bundle.push(time(pinnedNode, [join(root, 'dist', 'taskctl.mjs'), '--version']));
  }
  const serve: number[] = [];
  for (let i = 0; i < Math.max(5, Math.floor(runs / 2)); i++) {
    const started = performance.now();
    const child = track(spawn(binary, ['serve', '--port', '0', '--store', 'memory', '--json', '--no-tui'], { stdio: ['ignore', 'pipe', 'ignore'] }));
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk) => (output += chunk));
    while (!/"url":"([^"]+)"/.test(output)) await sleep(1);
    const url = /"url":"([^"]+)"/.exec(output)![1]!;
    while (
      !(await fetch(`${url}/ping`).then(
        (r) => r.ok,
        () => false,
      ))
    )
      await sleep(1);
    serve.push(performance.now() - started);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  const versionMs = Math.round(median(version));
  const nodeMs = Math.round(median(node));
  return {
    versionMsMedian: versionMs,
    nodeMsMedian: nodeMs,
    versionToNode: ratio(versionMs, nodeMs),
    bundleVersionMsMedian: Math.round(median(bundle)),
    serveToFirstPingMsMedian: Math.round(median(serve)),
    serveToFirstPingMs: { min: Math.round(Math.min(...serve)), max: Math.round(Math.max(...serve)) },
  };
}
