// The check, Jepsen-style: every cancel answered 200 is a set element that must be read back (heard by
// the worker that owns its id). Pure: it judges what the run recorded, with times on the suite's clock.

/** A cancel the suite asked for: `ackedAtMs` when a server answered 200, undefined when none did. */
export interface CancelRecord {
  readonly id: string;
  readonly owner: string;
  /** The server asked, as `server-N`. */
  readonly server: string;
  readonly sentAtMs: number;
  readonly ackedAtMs: number | undefined;
}

/** A worker process saying that it heard `id` cancelled. */
export interface Hearing {
  readonly id: string;
  /** The worker unit (its ids never change across restarts). */
  readonly worker: string;
  /** The process: the unit and its generation, so that a restarted worker is another process. */
  readonly process: string;
  readonly atMs: number;
}

/** When a fault was in force, and what it hit. */
export interface FaultWindow {
  readonly kind: string;
  readonly target: string;
  readonly fromMs: number;
  readonly untilMs: number;
}

/**
 * How long after a fault is healed it still counts as touching a cancel: the worker's reconnect backoff
 * caps at 5 s, and a link that came back is used only once the wait in progress ends, plus a second for a
 * ping, a new connection and a watch.
 */
export const FAULT_AFTERMATH_MS = 6_000;

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface Verdict {
  readonly acknowledged: number;
  /** Acknowledged, never heard by the owner. */
  readonly lost: readonly string[];
  /** Heard, never asked for. */
  readonly false: readonly string[];
  /** Heard twice by one process, as `process id`. */
  readonly duplicates: readonly string[];
  /** Milliseconds from acknowledgement to hearing, of cancels no fault touched and of those one did. */
  readonly latencyMs: { readonly untouched: readonly number[]; readonly touched: readonly number[] };
  /** The slowest cancels heard, slowest first (at most 5), with the faults that touched them, to explain the tail. */
  readonly slowest: readonly SlowCancel[];
}

export interface SlowCancel {
  readonly cancel: CancelRecord;
  readonly latencyMs: number;
  readonly faults: readonly FaultWindow[];
}

/** What a fault on `target` reaches: its own worker, or (a server, the store) every cancel through it. */
export type Reach = (fault: FaultWindow, cancel: CancelRecord) => boolean;

/**
 * Judges a run. Latency runs from the acknowledgement to the owner's first hearing (0 when the worker
 * heard it before the answer reached the suite), split by whether a fault that `reaches` the cancel was
 * in force, or in its aftermath, at some moment between the two.
 */
export function judge(cancels: readonly CancelRecord[], hearings: readonly Hearing[], faults: readonly FaultWindow[], reaches: Reach): Verdict {
  const asked = new Set(cancels.map((cancel) => cancel.id));
  const firstHeard = new Map<string, number>();
  const seen = new Set<string>();
  const duplicates: string[] = [];
  const falseIds = new Set<string>();
  for (const hearing of hearings) {
    const key = `${hearing.process} ${hearing.id}`;
    if (seen.has(key)) duplicates.push(key);
    seen.add(key);
    if (!asked.has(hearing.id)) falseIds.add(hearing.id);
    const owned = `${hearing.worker} ${hearing.id}`;
    firstHeard.set(owned, Math.min(firstHeard.get(owned) ?? Infinity, hearing.atMs));
  }
  const lost: string[] = [];
  const untouched: number[] = [];
  const touched: number[] = [];
  const acknowledged = new Set<string>();
  const slowest: SlowCancel[] = [];
  for (const cancel of cancels) {
    if (cancel.ackedAtMs === undefined || acknowledged.has(cancel.id)) continue;
    acknowledged.add(cancel.id);
    const heardAtMs = firstHeard.get(`${cancel.owner} ${cancel.id}`);
    if (heardAtMs === undefined) {
      lost.push(cancel.id);
      continue;
    }
    const fromMs = Math.min(cancel.sentAtMs, heardAtMs);
    const hits = faults.filter((fault) => fault.fromMs <= heardAtMs && fault.untilMs + FAULT_AFTERMATH_MS >= fromMs && reaches(fault, cancel));
    const latencyMs = Math.max(0, heardAtMs - cancel.ackedAtMs);
    (hits.length > 0 ? touched : untouched).push(latencyMs);
    slowest.push({ cancel, latencyMs, faults: hits });
    slowest.sort((a, b) => b.latencyMs - a.latencyMs).splice(5);
  }
  return { acknowledged: acknowledged.size, lost, false: [...falseIds], duplicates, latencyMs: { untouched, touched }, slowest };
}

/** p50, p99 and max of `values`, in whole milliseconds (all 0 for none). */
export function summarize(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (share: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)] ?? 0);
  return { count: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: Math.round(sorted.at(-1) ?? 0) };
}
