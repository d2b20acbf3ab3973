// The fault plan: which faults hit what and when, and which ids are cancelled when, all drawn from one
// seed. Pure: no processes, no clock, so the same seed always prints (and runs) the same plan.

/** A small seeded PRNG (mulberry32): 32 bits of state, good enough to spread faults, and reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A seed for one part of a run (a topology), so that adding a topology leaves the others' plans as they were. */
export function derivedSeed(seed: number, part: string): number {
  let hash = seed >>> 0;
  for (const char of part) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return hash;
}

/** What a unit of workers is: a `taskctl work` process, or a pool of per-id seed-route pollers in the suite. */
export type WorkerKind = 'work' | 'seed-pollers';

export interface WorkerPlan {
  readonly name: string;
  readonly kind: WorkerKind;
  readonly ids: readonly string[];
  /** The servers (by index) its proxy sends connections to, in turn. */
  readonly servers: readonly number[];
}

/** Faults on one worker's link (its own proxy). */
export type LinkFaultKind = 'link-cut' | 'link-cut-one-way' | 'link-slow' | 'link-drop';
/** Faults on a `taskctl work` process. */
export type WorkerFaultKind = 'worker-stop' | 'worker-kill';
/** Faults on a `taskctl serve` process. */
export type ServerFaultKind = 'server-stop' | 'server-kill';
/** Faults on the store the servers share; each topology says which it supports. */
export type StoreFaultKind = 'redis-restart' | 'pubsub-kill' | 'pg-kill-connections' | 'pg-restart';
export type FaultKind = LinkFaultKind | WorkerFaultKind | ServerFaultKind | StoreFaultKind;

export interface Fault {
  readonly kind: FaultKind;
  /** Milliseconds after the fault phase began. */
  readonly atMs: number;
  /** How long it lasts before it is healed (0: instantaneous, such as a killed connection). */
  readonly forMs: number;
  /** A worker's name, `server-N`, or `store`. */
  readonly target: string;
  /** link-cut-one-way: the way bytes are held. */
  readonly direction?: 'up' | 'down';
  /** link-slow: the delay added to every chunk. */
  readonly delayMs?: number;
  /** link-drop: how many of the server's chunks are lost. */
  readonly drops?: number;
}

export interface Cancel {
  readonly atMs: number;
  readonly id: string;
  /** The server (by index) asked. */
  readonly server: number;
}

export interface TopologyPlan {
  readonly topology: string;
  readonly workers: readonly WorkerPlan[];
  readonly faults: readonly Fault[];
  readonly cancels: readonly Cancel[];
  /** How long faults and cancels go on; settling comes after. */
  readonly phaseMs: number;
}

/** What a topology tells the planner about itself. */
export interface TopologyShape {
  readonly name: string;
  readonly servers: number;
  readonly storeFaults: readonly StoreFaultKind[];
  /**
   * Store faults added to the topology later, each drawn from a random stream of its own and put where the
   * store is free: a seed keeps every fault it drew before (a seed on CI's list still replays what it found).
   */
  readonly addedStoreFaults?: readonly StoreFaultKind[];
}

export interface PlanOptions {
  readonly seed: number;
  readonly quick: boolean;
}

/** Seed-route pollers: past the 256 held watches after which a server parks connections. */
const SEED_POLLERS = 300;
/** The share of all ids that the plan cancels; the rest must never be reported cancelled. */
const CANCELLED_SHARE = 0.6;

/**
 * Draws the plan for one topology: three `taskctl work` processes (two with watch sessions, one without)
 * and a pool of seed-route pollers, each behind its own proxy; faults one after another with overlaps,
 * never two at once on the same target; cancels spread over the phase in a shuffled order.
 */
export function planTopology(shape: TopologyShape, options: PlanOptions): TopologyPlan {
  const random = seededRandom(derivedSeed(options.seed, shape.name));
  const between = (low: number, high: number) => Math.round(low + random() * (high - low));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const phaseMs = options.quick ? 40_000 : 150_000;

  const lastServer = shape.servers - 1;
  const ids = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${shape.name}.${prefix}.${i}`);
  const workers: WorkerPlan[] = [
    { name: 'work-a', kind: 'work', ids: ids('a', 400), servers: [0] },
    { name: 'work-b', kind: 'work', ids: ids('b', 300), servers: [lastServer] },
    // A few ids, behind a balancer that spreads connections over every server.
    { name: 'work-c', kind: 'work', ids: ids('c', 40), servers: Array.from({ length: shape.servers }, (_, i) => i) },
    { name: 'pollers', kind: 'seed-pollers', ids: ids('p', SEED_POLLERS), servers: [0] },
  ];

  const processes = workers.filter((worker) => worker.kind === 'work').map((worker) => worker.name);
  const servers = Array.from({ length: shape.servers }, (_, i) => `server-${i}`);
  const kinds: FaultKind[] = [
    'link-cut',
    'link-cut-one-way',
    'link-slow',
    'link-drop',
    'worker-stop',
    'worker-kill',
    'server-stop',
    'server-kill',
    ...shape.storeFaults,
  ];
  const busyUntil = new Map<string, number>();
  const faults: Fault[] = [];
  // The last faults end well before the phase does, so every fault is healed when settling starts.
  for (let atMs = between(1_000, 3_000); atMs < phaseMs - 8_000; atMs += between(1_000, 3_500)) {
    const kind = pick(kinds);
    const fault = drawFault(kind, atMs, { between, pick, workers: workers.map((worker) => worker.name), processes, servers });
    if ((busyUntil.get(fault.target) ?? -1) >= atMs) continue;
    busyUntil.set(fault.target, atMs + fault.forMs);
    faults.push(fault);
  }

  for (const kind of shape.addedStoreFaults ?? []) faults.push(...drawAdded(kind, faults, derivedSeed(options.seed, `${shape.name}/${kind}`), phaseMs));
  // In time order: faults on one target take turns in this order when run.
  faults.sort((a, b) => a.atMs - b.atMs);

  const all = workers.flatMap((worker) => worker.ids);
  const chosen = shuffle(all, random).slice(0, Math.round(all.length * CANCELLED_SHARE));
  const cancels = chosen.map((id, i) => ({
    atMs: Math.round(((i + random()) / chosen.length) * (phaseMs - 2_000)),
    id,
    server: Math.floor(random() * shape.servers),
  }));
  return { topology: shape.name, workers, faults, cancels, phaseMs };
}

/** Faults of an added store kind, one every 6 to 16 s, each where no other store fault is in force. */
function drawAdded(kind: StoreFaultKind, faults: readonly Fault[], seed: number, phaseMs: number): Fault[] {
  const random = seededRandom(seed);
  const between = (low: number, high: number) => Math.round(low + random() * (high - low));
  const drawn: Fault[] = [];
  const clear = (fault: Fault) =>
    [...faults, ...drawn].every((other) => other.target !== 'store' || other.atMs + other.forMs < fault.atMs || fault.atMs + fault.forMs < other.atMs);
  for (let atMs = between(3_000, 8_000); atMs < phaseMs - 8_000; atMs += between(6_000, 16_000)) {
    const fault = drawFault(kind, atMs, { between, pick: (items) => items[0]!, workers: [], processes: [], servers: [] });
    if (clear(fault)) drawn.push(fault);
  }
  return drawn;
}

interface Draw {
  between(low: number, high: number): number;
  pick<T>(items: readonly T[]): T;
  readonly workers: readonly string[];
  readonly processes: readonly string[];
  readonly servers: readonly string[];
}

function drawFault(kind: FaultKind, atMs: number, draw: Draw): Fault {
  const { between, pick } = draw;
  switch (kind) {
    case 'link-cut':
      return { kind, atMs, forMs: between(500, 6_000), target: pick(draw.workers) };
    case 'link-cut-one-way':
      return { kind, atMs, forMs: between(500, 6_000), target: pick(draw.workers), direction: pick(['up', 'down'] as const) };
    case 'link-slow':
      return { kind, atMs, forMs: between(2_000, 8_000), target: pick(draw.workers), delayMs: between(50, 400) };
    case 'link-drop':
      return { kind, atMs, forMs: 3_000, target: pick(draw.workers), drops: between(1, 3) };
    case 'worker-stop':
      return { kind, atMs, forMs: between(500, 5_000), target: pick(draw.processes) };
    case 'worker-kill':
      return { kind, atMs, forMs: between(200, 3_000), target: pick(draw.processes) };
    case 'server-stop':
      return { kind, atMs, forMs: between(500, 4_000), target: pick(draw.servers) };
    case 'server-kill':
      return { kind, atMs, forMs: between(200, 3_000), target: pick(draw.servers) };
    case 'redis-restart':
    case 'pg-restart':
      return { kind, atMs, forMs: between(200, 2_000), target: 'store' };
    case 'pubsub-kill':
    case 'pg-kill-connections':
      return { kind, atMs, forMs: 0, target: 'store' };
  }
}

/** Fisher-Yates with the plan's random numbers. */
function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
