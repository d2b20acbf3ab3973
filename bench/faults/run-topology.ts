// Runs one topology's plan against real processes: starts the store, servers, proxies and workers, makes
// the plan's cancels and faults on time, lets the system settle, and hands what it saw to the check.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FaultProxy } from '../../test/helpers/fault-proxy.ts';
import { freePort } from '../../test/helpers/tcp-proxy.ts';
import { type CancelRecord, type FaultWindow, type Hearing, type Verdict, judge } from './check.ts';
import type { Fault, TopologyPlan } from './plan.ts';
import { ServerProcess, WorkerProcess } from './processes.ts';
import { runSeedPollers } from './seed-pollers.ts';
import type { OpenStore, Topology } from './topologies.ts';

/** After the last fault is healed, how long every acknowledged cancel has to be heard. */
export const SETTLE_MS = 30_000;
/** A cancel not answered within this is not acknowledged (it may still have been made: it counts as asked). */
const CANCEL_TIMEOUT_MS = 5_000;
/** The watch timeout of servers and workers: short, so that silent stalls end within the settling time. */
const WATCH_TIMEOUT = '10s';

export interface TopologyResult {
  /** When the fault phase began, on the clock of the verdict's times. */
  readonly startMs: number;
  readonly verdict: Verdict;
  readonly faults: Readonly<Record<string, number>>;
  /** Problems that are not a broken promise but still fail the run (a worker that exited by itself). */
  readonly problems: readonly string[];
  /** Connections parked by the first server while the pollers held their watches. */
  readonly parkedConnections: number;
}

type Log = (line: string) => void;

export interface RunOptions {
  readonly taskctl: readonly string[];
  /** Where the store, the logs and the processes' data go. */
  readonly scratch: string;
  readonly log: Log;
  readonly settleMs?: number;
}

/** Runs `plan` on `topology` with every process under `scratch`; resolves once all of them are ended. */
export async function runTopology(topology: Topology, plan: TopologyPlan, options: RunOptions): Promise<TopologyResult> {
  const { taskctl, scratch, log } = options;
  mkdirSync(scratch, { recursive: true });
  const hearings: Hearing[] = [];
  const owner = new Map(plan.workers.flatMap((worker) => worker.ids.map((id) => [id, worker.name] as const)));
  const onHeard = (worker: string) => (id: string, process: string, atMs: number) => hearings.push({ id, worker, process, atMs });
  const stopPollers = new AbortController();
  const proxies = new Map<string, FaultProxy>();
  const workers = new Map<string, WorkerProcess>();
  const servers: ServerProcess[] = [];
  let store: OpenStore | undefined;
  let pollers: Promise<void> | undefined;
  try {
    store = await topology.open(scratch);
    for (let i = 0; i < topology.servers; i++) {
      const args = ['--store', store.store, '--watch-timeout', WATCH_TIMEOUT];
      servers.push(new ServerProcess(`server-${i}`, await freePort(), args, taskctl, join(scratch, `server-${i}.log`)));
    }
    await Promise.all(servers.map((server) => server.start()));
    for (const worker of plan.workers) {
      const proxy = await FaultProxy.start(worker.servers.map((i) => servers[i]!.port));
      proxies.set(worker.name, proxy);
      if (worker.kind === 'seed-pollers') {
        pollers = runSeedPollers(worker.name, worker.ids, proxy.url, onHeard(worker.name), stopPollers.signal);
      } else
        workers.set(worker.name, new WorkerProcess(worker.name, worker.ids, proxy.url, taskctl, join(scratch, `${worker.name}.log`), onHeard(worker.name)));
    }
    await Promise.all([...workers.values()].map((worker) => worker.start()));
    const parkedConnections = pollers ? await waitForParking(servers[0]!) : 0;
    log(
      `${topology.name}: ${servers.length} server(s), ${workers.size} taskctl work processes and ${plan.workers.length - workers.size} seed-poller pool(s) up, ${parkedConnections} connections parked; ${plan.faults.length} faults and ${plan.cancels.length} cancels over ${plan.phaseMs / 1_000} s`,
    );

    const startMs = performance.now();
    const cancels: CancelRecord[] = [];
    const windows: FaultWindow[] = [];
    const at = (atMs: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, startMs + atMs - performance.now())));
    const cancelling = plan.cancels.map(async (cancel) => {
      await at(cancel.atMs);
      const server = servers[cancel.server]!;
      const sentAtMs = performance.now();
      const acked = await sendCancel(server.url, cancel.id);
      cancels.push({ id: cancel.id, owner: owner.get(cancel.id)!, server: server.name, sentAtMs, ackedAtMs: acked ? performance.now() : undefined });
    });
    // Faults on one target take turns: a heal can outlast its plan (a restarted worker takes a moment to
    // connect), and the next fault on that target waits for it rather than hitting a half-made process.
    const targetFree = new Map<string, Promise<void>>();
    const faulting = plan.faults.map((fault) => {
      const done = (async () => {
        await Promise.all([at(fault.atMs), targetFree.get(fault.target)]);
        const fromMs = performance.now();
        const heal = await inflict(fault, { proxies, workers, servers, store: store! });
        await new Promise((resolve) => setTimeout(resolve, fault.forMs));
        await heal();
        windows.push({ kind: fault.kind, target: fault.target, fromMs, untilMs: performance.now() });
      })();
      targetFree.set(
        fault.target,
        done.catch(() => {}),
      );
      return done;
    });
    await Promise.all([...cancelling, ...faulting]);

    // Settling: every fault is healed; each acknowledged cancel now has SETTLE_MS to be heard.
    const settleUntil = performance.now() + (options.settleMs ?? SETTLE_MS);
    const heard = () => new Set(hearings.map((hearing) => `${hearing.worker} ${hearing.id}`));
    while (performance.now() < settleUntil) {
      const known = heard();
      if (cancels.every((cancel) => cancel.ackedAtMs === undefined || known.has(`${cancel.owner} ${cancel.id}`))) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const serverOf = new Map(plan.workers.map((worker) => [worker.name, worker.servers.map((i) => `server-${i}`)]));
    const verdict = judge(cancels, hearings, windows, (fault, cancel) => {
      if (fault.target === 'store') return true;
      if (fault.target.startsWith('server-')) return cancel.server === fault.target || serverOf.get(cancel.owner)!.includes(fault.target);
      return cancel.owner === fault.target;
    });
    const faults: Record<string, number> = {};
    for (const fault of plan.faults) faults[fault.kind] = (faults[fault.kind] ?? 0) + 1;
    const problems = [...workers.values()].flatMap((worker) => (worker.exitedEarly ? [worker.exitedEarly] : []));
    return { startMs, verdict, faults, problems, parkedConnections };
  } finally {
    stopPollers.abort();
    // Retired, not only killed: when the run broke down, faults may still be healing, and must not start
    // them again behind its back.
    await Promise.all([...workers.values()].map((worker) => worker.retire()));
    await Promise.all(servers.map((server) => server.retire()));
    await Promise.all([...proxies.values()].map((proxy) => proxy.close()));
    await pollers;
    await store?.close();
  }
}

interface Targets {
  readonly proxies: ReadonlyMap<string, FaultProxy>;
  readonly workers: ReadonlyMap<string, WorkerProcess>;
  readonly servers: readonly ServerProcess[];
  readonly store: OpenStore;
}

/** Does `fault` to its target; resolves with what heals it. */
async function inflict(fault: Fault, targets: Targets): Promise<() => Promise<void>> {
  const proxy = targets.proxies.get(fault.target);
  const worker = targets.workers.get(fault.target);
  const server = targets.servers.find((candidate) => candidate.name === fault.target);
  const restore = async () => proxy!.restore();
  switch (fault.kind) {
    case 'link-cut':
      proxy!.cut();
      return restore;
    case 'link-cut-one-way':
      proxy!.hold(fault.direction!);
      return restore;
    case 'link-slow':
      proxy!.slow(fault.delayMs!);
      return restore;
    case 'link-drop':
      proxy!.dropReplies(fault.drops!);
      return restore;
    case 'worker-stop':
      worker!.signal('SIGSTOP');
      return async () => worker!.signal('SIGCONT');
    case 'worker-kill':
      // The new process is given the same ids, and must hear the cancels made while none ran.
      await worker!.kill();
      return () => worker!.start();
    case 'server-stop':
      server!.signal('SIGSTOP');
      return async () => server!.signal('SIGCONT');
    case 'server-kill':
      await server!.kill();
      return () => server!.start();
    case 'redis-restart':
    case 'pubsub-kill':
    case 'pg-kill-connections':
    case 'pg-restart':
      return targets.store.breakWith(fault.kind);
  }
}

/** Cancels `id` on the server at `url`; true when it answered 200 (the cancel is stored). */
async function sendCancel(url: string, id: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/v1/tasks/${encodeURIComponent(id)}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'fault suite' }),
      signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS),
    });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Waits until `server` parks connections (more than 256 watches held), so that parking is under test too. */
async function waitForParking(server: ServerProcess): Promise<number> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const metrics = await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(2_000) })
      .then((response) => response.text())
      .catch(() => '');
    const parked = Number(/^taskctl_parked_connections (\d+)/m.exec(metrics)?.[1] ?? 0);
    if (parked > 0) return parked;
    if (performance.now() > deadline) throw new Error(`${server.name} parked no connection within 30 s: the seed pollers did not get past 256 held watches`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
