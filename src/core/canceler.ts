import { type Clock, type TimerHandle, systemClock } from './clock.ts';
import type { CancelRecord, CancelSource, CancelStore } from './store.ts';
import { checkTaskId } from './task-id.ts';
import { reasonViaParent } from './task-status.ts';

/** How long a cancel is remembered unless configured otherwise. */
export const DEFAULT_TTL_MS = 24 * 3_600_000;
/** How often expired records are swept unless configured otherwise. */
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;
/** After a look-up of waited ids fails, every waited id is looked up again this long after, doubling up to the most. */
export const RELOOK_FIRST_MS = 250;
export const RELOOK_MOST_MS = 5_000;

export interface CancelerOptions {
  readonly store: CancelStore;
  readonly clock?: Clock;
  readonly ttlMs?: number;
  readonly sweepIntervalMs?: number;
  /** Told of failures the canceler survives on its own (a sweep or a store look-up that failed). */
  readonly onError?: (error: unknown) => void;
}

/**
 * The record of a task stopped by an ancestor's cancel, without a cancel of its own: the ancestor's times,
 * the reason "parent P cancelled", and `parent` naming the ancestor.
 */
export interface ParentCancelRecord extends CancelRecord {
  readonly parent: string;
}

/** The record `ancestor`'s cancel gives its descendant `id`, which has no cancel of its own (see reasonViaParent). */
export function recordViaParent(id: string, ancestor: CancelRecord): ParentCancelRecord {
  // Spread, so that whatever else the ancestor's record says (who cancelled it) travels along.
  return { ...ancestor, id, reason: reasonViaParent(ancestor), parent: ancestor.id };
}

/** What a wait ended with. */
export interface WaitResult {
  /** The ids among those waited on that were cancelled themselves, with their records; empty when the wait was aborted. */
  readonly cancelled: readonly CancelRecord[];
  /**
   * When an ancestor's cancel stopped the wait: that ancestor's record. Every id waited on is stopped then,
   * those not in `cancelled` by this cancel (see recordViaParent). Not one record per id: an ancestor's
   * cancel may answer a wait on 10,000 ids, and making them all at once would hold the event loop.
   */
  readonly parent?: CancelRecord;
  /**
   * When the wait was woken by a cancel arriving during it: the clock's monotonic reading at the moment
   * that cancel reached this canceler, so callers can measure cancel-to-answer latency.
   */
  readonly cancelArrivedAt?: number;
}

interface Waiter {
  /** Every id registered: those waited on and, for a wait with ancestors, the ancestors. */
  readonly ids: readonly string[];
  /** Only on waits with ancestors. */
  readonly family?: WaitFamily;
  finish(result: WaitResult): void;
}

/** What a wait on tasks with ancestors needs to tell an ancestor's cancel from its ids' own. */
interface WaitFamily {
  /** Nearest first: the nearest cancelled one is the one answered with. */
  readonly ancestors: readonly string[];
  readonly ancestorSet: ReadonlySet<string>;
}

/** A wait on many ids: not registered per id, but asked on each cancel whether it holds the id. */
interface BigWaiter extends Waiter {
  readonly idSet: ReadonlySet<string>;
}

// A wait on at least this many ids is a big one. Registering and then unregistering each of 10,000 ids
// in a map cost ~15 ms of event loop per watch; asking each big wait "is this id yours?" costs a set
// look-up per big wait per cancel, and the number of big waits is bounded by the server's id cap.
const BIG_WAIT_IDS = 256;

/**
 * A standing interest in a set of ids that outlives any one wait: a worker's watch session, which many
 * polls in a row share. Every cancel of one of its ids (or of an ancestor) reaches `onCancel`, between polls
 * as much as during one, so a re-poll needs neither the ids again nor a store look-up.
 */
export interface WatchSet {
  /** The ids watched now; add() and remove() change them. */
  readonly ids: ReadonlySet<string>;
  /** Watches `ids` too: registered first, then looked up in the store, as a new wait's are. */
  add(ids: readonly string[]): void;
  /** Stops watching `ids` (their tasks ended some other way, or their cancel was delivered). */
  remove(ids: Iterable<string>): void;
  close(): void;
}

interface StandingSet {
  readonly ids: Set<string>;
  readonly family?: WaitFamily;
  readonly onCancel: (result: WaitResult) => void;
}

// Records kept at hand after a cancel or a look-up: a worker that polls an id already cancelled (the seed
// worker does, until it stops its task) is answered without a store look-up. A record never changes
// until it expires, so a kept copy stays right; the oldest are let go past this many.
const RECENT_RECORDS = 10_000;

/** What a wait needs to know of its ids' ancestors, nearest first; undefined without any. */
function familyOf(ancestors: readonly string[]): WaitFamily | undefined {
  return ancestors.length === 0 ? undefined : { ancestors, ancestorSet: new Set(ancestors) };
}

/**
 * Records cancels and wakes whoever waits on them. Any number of waits may watch one id and one wait may
 * watch many ids; a wait that starts after the cancel still sees it, because each wait is registered
 * before the store is consulted. A wait may also name the ids' ancestors: a cancel of any of them stops
 * every id of the wait, and it costs one more registered id per distinct ancestor, however many ids.
 */
export class Canceler {
  readonly #store: CancelStore;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #onError: (error: unknown) => void;
  // One waiter per id is by far the common case; a Set is made only for the second.
  readonly #waitersById = new Map<string, Waiter | Set<Waiter>>();
  readonly #bigWaiters = new Set<BigWaiter>();
  /** Standing sets of BIG_WAIT_IDS ids or more: asked on every cancel, like big waits. */
  readonly #standing = new Set<StandingSet>();
  /**
   * Smaller standing sets, registered per id (and per ancestor) like waits: a cancel finds them by its id,
   * so however many small sessions a server keeps, a cancel asks none that does not hold it.
   */
  readonly #smallStanding = new Set<StandingSet>();
  readonly #smallStandingById = new Map<string, StandingSet | Set<StandingSet>>();
  readonly #recent = new Map<string, CancelRecord>();
  readonly #sweepTimer: TimerHandle;
  readonly #unsubscribe: (() => void) | undefined;
  #openWaits = 0;
  #closed = false;
  /** Set while a look-up of every waited id is due, after one of theirs failed. */
  #relookTimer: TimerHandle | undefined;
  #relookDelayMs = 0;

  constructor(options: CancelerOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
    this.#onError = options.onError ?? (() => {});
    if (!(this.#ttlMs > 0)) throw new RangeError('ttlMs must be positive');
    this.#sweepTimer = this.#clock.setInterval(() => this.sweep(), options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
    this.#unsubscribe = this.#store.subscribe?.({
      cancelled: (id) => this.#lookUpAndWake([id], this.#clock.monotonic()),
      resynced: () => this.#lookUpAndWake(this.#waitedIds(), this.#clock.monotonic()),
    });
  }

  /** The store behind this canceler. */
  get store(): CancelStore {
    return this.#store;
  }

  /** How long records are kept. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /**
   * Records that `id` is cancelled (by `options.by`, when known) and wakes every wait on it. Idempotent: a
   * second cancel of a live record changes nothing and resolves with the first record, whose `by` is kept.
   * Resolves once the store holds the record.
   */
  async cancel(id: string, options: { reason?: string; by?: CancelSource } = {}): Promise<CancelRecord> {
    checkTaskId(id);
    const arrivedAt = this.#clock.monotonic();
    const now = this.#clock.now();
    const draft: CancelRecord = {
      id,
      ...(options.reason === undefined ? {} : { reason: options.reason }),
      cancelledAt: now,
      expiresAt: now + this.#ttlMs,
      ...(options.by === undefined ? {} : { by: options.by }),
    };
    const record = await this.#store.insert(draft, now);
    this.#remember(record);
    this.#wake(record, arrivedAt);
    return record;
  }

  /** The live records among `ids`, without waiting. */
  find(ids: readonly string[]): Promise<CancelRecord[]> {
    ids.forEach(checkTaskId);
    return this.#store.find(ids, this.#clock.now());
  }

  /**
   * Resolves with the cancelled ids among `ids` as soon as any of them is cancelled (at once when one
   * already is), or with none when `signal` aborts or the canceler closes. Everything the wait registered
   * is released when it ends.
   */
  wait(ids: readonly string[], signal: AbortSignal, ancestors: readonly string[] = []): Promise<WaitResult> {
    if (signal.aborted || this.#closed || ids.length === 0) {
      // waitFor validates the ids otherwise; a bad id is refused on this path too.
      ids.forEach(checkTaskId);
      ancestors.forEach(checkTaskId);
      return Promise.resolve({ cancelled: [] });
    }
    let resolve!: (result: WaitResult) => void;
    const waited = new Promise<WaitResult>((r) => (resolve = r));
    // Outside the promise, so that waitFor's check of a bad id throws to the caller.
    const end = this.waitFor(
      ids,
      (result) => {
        signal.removeEventListener('abort', end);
        resolve(result);
      },
      ancestors,
    );
    signal.addEventListener('abort', end, { once: true });
    return waited;
  }

  /**
   * What a wait on `ids` (with `ancestors`) would answer at once, from the cancels kept at hand, or
   * undefined when it would have to wait or look in the store. Lets a caller that would otherwise set up
   * a held wait (timer, listeners, bookkeeping) answer a worker re-polling a cancelled id for the cost of a
   * map look-up: the most common request a busy server gets. Checks the ids.
   */
  known(ids: readonly string[], ancestors: readonly string[] = []): WaitResult | undefined {
    ids.forEach(checkTaskId);
    ancestors.forEach(checkTaskId);
    if (this.#closed) return undefined;
    const records = this.#recentAmong(ancestors.length === 0 ? ids : [...ids, ...ancestors]);
    return records && this.#resultFor(familyOf(ancestors), records, undefined);
  }

  /**
   * What a wait on `ids` (with `ancestors`) would answer at once, looked up in the store when the cancels
   * at hand do not say: never waits for a cancel to come. A worker asks this before it starts any command,
   * so that a task cancelled before its worker came never runs. Checks the ids.
   */
  async lookUp(ids: readonly string[], ancestors: readonly string[] = []): Promise<WaitResult> {
    const known = this.known(ids, ancestors);
    if (known) return known;
    const records = await this.#store.find(ancestors.length === 0 ? ids : [...new Set([...ids, ...ancestors])], this.#clock.now());
    records.forEach((record) => this.#remember(record));
    return this.#resultFor(familyOf(ancestors), records, undefined);
  }

  /**
   * wait() for callers that hold very many waits: calls `onResult` exactly once and never synchronously,
   * when any of `ids` is cancelled or when the returned function is called (then with no cancels). No
   * promise or AbortSignal is made per wait. When any of `ancestors` (the ids' ancestors, nearest first)
   * is cancelled, every id of the wait is stopped: the result names that ancestor's record as `parent`.
   */
  waitFor(ids: readonly string[], onResult: (result: WaitResult) => void, ancestors: readonly string[] = []): () => void {
    // A cancel already at hand, of an id or of an ancestor, answers without a look-up.
    const known = this.known(ids, ancestors);
    if (known) {
      // Never call back before the caller has the returned function in hand.
      queueMicrotask(() => onResult(known));
      return () => {};
    }
    return this.waitAfterKnown(ids, onResult, ancestors);
  }

  /**
   * waitFor() for a caller that has just asked known() about the same ids and got nothing: the ids are not
   * checked nor the cancels at hand looked through again (a 10,000-id watch would pay a millisecond for
   * it). Still correct if a cancel landed since: the wait registers, then consults the store.
   */
  waitAfterKnown(ids: readonly string[], onResult: (result: WaitResult) => void, ancestors: readonly string[] = []): () => void {
    if (this.#closed || ids.length === 0) {
      queueMicrotask(() => onResult({ cancelled: [] }));
      return () => {};
    }
    const watched = ancestors.length === 0 ? ids : [...ids, ...ancestors];
    const family = familyOf(ancestors);
    const idSet = watched.length >= BIG_WAIT_IDS ? new Set(watched) : undefined;
    const unique = watched.length === 1 ? watched : idSet ? (idSet.size === watched.length ? watched : [...idSet]) : [...new Set(watched)];
    let done = false;
    const waiter: Waiter | BigWaiter = {
      ids: unique,
      ...(idSet ? { idSet } : {}),
      ...(family ? { family } : {}),
      finish: (result) => {
        if (done) return;
        done = true;
        this.#openWaits--;
        if (idSet) this.#bigWaiters.delete(waiter as BigWaiter);
        else for (const id of unique) this.#unregister(id, waiter);
        onResult(result);
      },
    };
    // Register first, then consult the store: a cancel landing in between wakes the waiter, and one
    // landed before is found by the look-up. Either way nothing slips through.
    this.#openWaits++;
    if (idSet) this.#bigWaiters.add(waiter as BigWaiter);
    else for (const id of unique) this.#register(id, waiter);
    this.#store.find(unique, this.#clock.now()).then(
      (records) => {
        if (records.length === 0) return;
        records.forEach((record) => this.#remember(record));
        waiter.finish(this.#resultFor(waiter.family, records, undefined));
      },
      // The wait goes on: a cancel arriving later still wakes it, one made before is found by the look-up
      // again, and the caller's timeout ends it.
      (error: unknown) => this.#lookUpFailed(error),
    );
    return () => waiter.finish({ cancelled: [] });
  }

  /**
   * A standing watch on `ids` (see WatchSet): `onCancel` is called, never synchronously, with the records of
   * each cancel among them or their `ancestors` (nearest first), for as long as the set is open. Cancels made
   * before it opened are found by a look-up, as for a wait. Asked on every cancel, like a big wait: meant
   * for sets of hundreds of ids or more.
   */
  watchSet(ids: readonly string[], onCancel: (result: WaitResult) => void, ancestors: readonly string[] = []): WatchSet {
    ids.forEach(checkTaskId);
    ancestors.forEach(checkTaskId);
    const family = familyOf(ancestors);
    const standing: StandingSet = { ids: new Set(ids), ...(family ? { family } : {}), onCancel };
    let open = !this.#closed;
    // Small or big for its whole life: one that grows through add() stays registered per id.
    const small = standing.ids.size + ancestors.length < BIG_WAIT_IDS;
    const index = (id: string) => addEntry(this.#smallStandingById, id, standing);
    const unindex = (id: string) => {
      // An id that is also an ancestor stays registered for the ancestor.
      if (!family?.ancestorSet.has(id)) removeEntry(this.#smallStandingById, id, standing);
    };
    if (open && small) {
      this.#smallStanding.add(standing);
      for (const id of standing.ids) index(id);
      for (const id of ancestors) index(id);
    } else if (open) this.#standing.add(standing);
    const lookUp = (looked: readonly string[]) => {
      if (looked.length === 0) return;
      this.#store.find(looked, this.#clock.now()).then(
        (records) => {
          records.forEach((record) => this.#remember(record));
          // Only what is still watched: a record of an id removed meanwhile is no news.
          const wanted = records.filter((r) => standing.ids.has(r.id) || standing.family?.ancestorSet.has(r.id));
          if (open && wanted.length > 0) onCancel(this.#resultFor(standing.family, wanted, undefined));
        },
        (error: unknown) => this.#lookUpFailed(error),
      );
    };
    lookUp(ancestors.length === 0 ? [...standing.ids] : [...standing.ids, ...ancestors]);
    return {
      ids: standing.ids,
      add: (more) => {
        more.forEach(checkTaskId);
        const fresh = more.filter((id) => !standing.ids.has(id));
        for (const id of fresh) {
          standing.ids.add(id);
          if (open && small) index(id);
        }
        lookUp(fresh);
      },
      remove: (gone) => {
        for (const id of gone) if (standing.ids.delete(id) && open && small) unindex(id);
      },
      close: () => {
        if (open && small) {
          this.#smallStanding.delete(standing);
          for (const id of standing.ids) unindex(id);
          for (const id of ancestors) removeEntry(this.#smallStandingById, id, standing);
        }
        open = false;
        this.#standing.delete(standing);
      },
    };
  }

  /** Deletes expired records now; the canceler also does this on its own timer. */
  async sweep(): Promise<number> {
    try {
      return await this.#store.sweep(this.#clock.now());
    } catch (error) {
      this.#onError(error);
      return 0;
    }
  }

  /** Numbers for health and metrics output: open waits, and ids waited on (an id in two big waits counts twice). */
  stats(): { openWaits: number; watchedIds: number } {
    let watchedIds = this.#waitersById.size;
    for (const waiter of this.#bigWaiters) watchedIds += waiter.idSet.size;
    for (const set of this.#standing) watchedIds += set.ids.size;
    for (const set of this.#smallStanding) watchedIds += set.ids.size;
    return { openWaits: this.#openWaits, watchedIds };
  }

  /** Ends every open wait with no cancels (so workers poll again elsewhere) and stops the timers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimer(this.#sweepTimer);
    if (this.#relookTimer !== undefined) this.#clock.clearTimer(this.#relookTimer);
    this.#unsubscribe?.();
    const waiters = new Set<Waiter>([...this.#waitersById.keys()].flatMap((id) => this.#waitersOf(id)));
    for (const waiter of this.#bigWaiters) waiters.add(waiter);
    for (const waiter of waiters) waiter.finish({ cancelled: [] });
    // Standing sets are closed by their owners (who answer their polls); no cancel reaches them from now on.
    this.#standing.clear();
    this.#smallStanding.clear();
    this.#smallStandingById.clear();
  }

  #remember(record: CancelRecord): void {
    this.#recent.delete(record.id);
    this.#recent.set(record.id, record);
    if (this.#recent.size > RECENT_RECORDS) this.#recent.delete(this.#recent.keys().next().value!);
  }

  /** The live records kept at hand among `ids`, or undefined when there is none. */
  #recentAmong(ids: readonly string[]): CancelRecord[] | undefined {
    if (this.#recent.size === 0) return undefined;
    const now = this.#clock.now();
    // One id, the seed route's every watch: no set of found records to make.
    if (ids.length === 1) {
      const record = this.#recent.get(ids[0]!);
      return record !== undefined && record.expiresAt > now ? [record] : undefined;
    }
    let found: Map<string, CancelRecord> | undefined;
    for (const id of ids) {
      const record = this.#recent.get(id);
      if (record !== undefined && record.expiresAt > now) (found ??= new Map()).set(id, record);
    }
    return found && [...found.values()];
  }

  #wake(record: CancelRecord, cancelArrivedAt: number): void {
    for (const waiter of this.#waitersOf(record.id)) waiter.finish(this.#resultFor(waiter.family, [record], cancelArrivedAt));
    // Finishing removes a waiter from the set being iterated, which a Set allows.
    for (const waiter of this.#bigWaiters) if (waiter.idSet.has(record.id)) waiter.finish(this.#resultFor(waiter.family, [record], cancelArrivedAt));
    for (const set of entriesOf(this.#smallStandingById, record.id)) set.onCancel(this.#resultFor(set.family, [record], cancelArrivedAt));
    for (const set of this.#standing) {
      if (set.ids.has(record.id) || set.family?.ancestorSet.has(record.id)) set.onCancel(this.#resultFor(set.family, [record], cancelArrivedAt));
    }
  }

  /**
   * What a wait answers when `records` (of ids it registered) are found: its ids' own records, and the
   * nearest cancelled ancestor's (of `family`'s), which stops every id of the wait.
   */
  #resultFor(family: WaitFamily | undefined, records: readonly CancelRecord[], cancelArrivedAt: number | undefined): WaitResult {
    if (!family) return cancelArrivedAt === undefined ? { cancelled: records } : { cancelled: records, cancelArrivedAt };
    const own: CancelRecord[] = [];
    let nearest: CancelRecord | undefined;
    for (const record of records) {
      if (!family.ancestorSet.has(record.id)) own.push(record);
      else if (!nearest || family.ancestors.indexOf(record.id) < family.ancestors.indexOf(nearest.id)) nearest = record;
    }
    return { cancelled: own, ...(nearest ? { parent: nearest } : {}), ...(cancelArrivedAt === undefined ? {} : { cancelArrivedAt }) };
  }

  /** Every id some wait is on, for looking them all up again. */
  #waitedIds(): string[] {
    const ids = new Set(this.#waitersById.keys());
    for (const waiter of this.#bigWaiters) for (const id of waiter.idSet) ids.add(id);
    for (const set of this.#standing) {
      for (const id of set.ids) ids.add(id);
      for (const id of set.family?.ancestors ?? []) ids.add(id);
    }
    for (const id of this.#smallStandingById.keys()) ids.add(id);
    return [...ids];
  }

  /** A copy of the waiters on `id`, safe to iterate while they unregister. */
  #waitersOf(id: string): Waiter[] {
    const entry = this.#waitersById.get(id);
    if (entry === undefined) return [];
    return entry instanceof Set ? [...entry] : [entry];
  }

  #register(id: string, waiter: Waiter): void {
    const entry = this.#waitersById.get(id);
    if (entry === undefined) this.#waitersById.set(id, waiter);
    else if (entry instanceof Set) entry.add(waiter);
    else this.#waitersById.set(id, new Set([entry, waiter]));
  }

  #unregister(id: string, waiter: Waiter): void {
    const entry = this.#waitersById.get(id);
    if (entry === waiter) this.#waitersById.delete(id);
    else if (entry instanceof Set) {
      entry.delete(waiter);
      if (entry.size === 0) this.#waitersById.delete(id);
    }
  }

  #lookUpAndWake(ids: string[], arrivedAt: number): void {
    if (ids.length === 0) return;
    this.#store.find(ids, this.#clock.now()).then(
      (records) => {
        this.#relookDelayMs = 0;
        records.forEach((record) => {
          this.#remember(record);
          this.#wake(record, arrivedAt);
        });
      },
      (error: unknown) => this.#lookUpFailed(error),
    );
  }

  /**
   * A look-up of waited ids failed (the store was down), so a cancel made before, or while no notification
   * could arrive, may be among them unseen: every waited id is looked up again, after a pause that doubles
   * while look-ups keep failing. Not left to the store's next resync: a store's subscription can come back
   * before its other connection does (Redis), and the resync it announces then fails as well.
   */
  #lookUpFailed(error: unknown): void {
    this.#onError(error);
    if (this.#closed || this.#relookTimer !== undefined) return;
    this.#relookDelayMs = Math.min(Math.max(2 * this.#relookDelayMs, RELOOK_FIRST_MS), RELOOK_MOST_MS);
    this.#relookTimer = this.#clock.setTimeout(() => {
      this.#relookTimer = undefined;
      this.#lookUpAndWake(this.#waitedIds(), this.#clock.monotonic());
    }, this.#relookDelayMs);
  }
}

/** A copy of what `map` holds for `id` (one entry, or a set of them once there are two), safe to iterate while they leave. */
function entriesOf<T extends object>(map: Map<string, T | Set<T>>, id: string): T[] {
  const entry = map.get(id);
  if (entry === undefined) return [];
  return entry instanceof Set ? [...entry] : [entry];
}

function addEntry<T extends object>(map: Map<string, T | Set<T>>, id: string, item: T): void {
  const entry = map.get(id);
  if (entry === undefined) map.set(id, item);
  else if (entry instanceof Set) entry.add(item);
  else if (entry !== item) map.set(id, new Set([entry, item]));
}

function removeEntry<T extends object>(map: Map<string, T | Set<T>>, id: string, item: T): void {
  const entry = map.get(id);
  if (entry === item) map.delete(id);
  else if (entry instanceof Set) {
    entry.delete(item);
    if (entry.size === 0) map.delete(id);
  }
}
