// Parent tasks: a task may name parents (`work step-1 --parent job-42`), and is stopped when any of its
// ancestors is cancelled. The rules live here: how far ancestors reach, what is a cycle, how a cancel
// reaches the descendants the store knows of. The canceler does the waking; the tracker the statuses.
import type { Canceler } from './canceler.ts';
import { type Clock, systemClock } from './clock.ts';
import type { CancelRecord, CancelSource, CancelStore, LinkCheck, LinkReader, ParentLink } from './store.ts';
import { InvalidInputError, preview } from './task-id.ts';
import { isRunning, parentCancelledReason } from './task-status.ts';
import type { TaskTracker } from './task-tracker.ts';
import { nextTurn } from './turns.ts';

/** Levels of ancestors a task may have: its parents are the first, their parents the second. */
export const MAX_PARENT_DEPTH = 8;
/** Ancestors one task may have over all levels, so that what a watch waits on stays small. */
export const MAX_ANCESTORS = 64;

// How long a task's parents, once looked up, are taken as known. Links change rarely (a task declares its
// parents when it starts), and a link another server recorded meanwhile is covered by the cancel records
// a parent's cancel writes for the descendants that are parents themselves (see #cascade).
const CACHE_MS = 5_000;
const CACHE_ENTRIES = 10_000;
// Children marked per step of a cascade, other work running between the steps: loading, updating and saving
// this many statuses takes a few milliseconds, and is one transaction of the sqlite store.
const CHILDREN_PER_STEP = 250;

/**
 * Parents that cannot be: a task its own ancestor, or ancestors nesting too deep. `scopedMessage` says the
 * same to a token scoped to some tasks without naming (or confirming) any task but those it sent.
 */
export class InvalidParentsError extends InvalidInputError {
  override name = 'InvalidParentsError';
  readonly scopedMessage: string;
  constructor(message: string, scopedMessage: string = message) {
    super(message);
    this.scopedMessage = scopedMessage;
  }
}

/**
 * A link refused because its child is already running (only the run that starts a task names its
 * parents), or has a run below it that another token started and may still be going. `scopedMessage` as
 * above.
 */
export class LinkRefusedError extends Error {
  override name = 'LinkRefusedError';
  readonly scopedMessage: string;
  constructor(message: string, scopedMessage: string = message) {
    super(message);
    this.scopedMessage = scopedMessage;
  }
}

// Descendants looked at when checking how deep a new link nests, at most: past this the link is refused
// rather than the server walking a tree without end.
const MAX_DESCENDANTS_CHECKED = 100_000;

export interface TaskFamilyOptions {
  readonly store: CancelStore;
  readonly canceler: Canceler;
  readonly tracker: TaskTracker;
  readonly clock?: Clock;
  readonly onError?: (error: unknown) => void;
  /** Told when a cancel has reached every descendant the store knows of: how many were marked, in how long. */
  readonly onCascaded?: (record: CancelRecord, marked: number, ms: number) => void;
}

/** `record` as a cancel that reached a task through a link `linkedBy` made: its asker, with `by.linkedBy` when known. */
function throughLink(record: CancelRecord, linkedBy: string | undefined): CancelRecord {
  if (linkedBy === undefined || record.by === undefined) return record;
  return { ...record, by: { ...record.by, linkedBy } };
}

/** Parent links between tasks: resolving ancestors (cached, bounded), checking them, and cancelling down the tree. */
export class TaskFamily {
  readonly #store: CancelStore;
  readonly #canceler: Canceler;
  readonly #tracker: TaskTracker;
  readonly #clock: Clock;
  readonly #onError: (error: unknown) => void;
  readonly #onCascaded: (record: CancelRecord, marked: number, ms: number) => void;
  /** Direct parents of ids looked up lately (none is an answer too), oldest first. */
  readonly #cache = new Map<string, { readonly parents: readonly string[]; readonly at: number }>();
  /** Cancels whose descendants are being marked now: a second cancel of the same id adds no second walk. */
  readonly #cascading = new Set<string>();
  /** Cancels asked for in this turn, looked at together (see cancelled). */
  readonly #toCascade = new Map<string, CancelRecord>();
  /** The link check in progress on this server: checks run one at a time, so two cannot pass together. */
  #linking: Promise<unknown> = Promise.resolve();

  constructor(options: TaskFamilyOptions) {
    this.#store = options.store;
    this.#canceler = options.canceler;
    this.#tracker = options.tracker;
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ?? (() => {});
    this.#onCascaded = options.onCascaded ?? (() => {});
  }

  /**
   * The ancestors of tasks whose direct parents are `parents`: those parents, then theirs, nearest first,
   * each once. Throws InvalidParentsError when one of `ids` would be its own ancestor (a cycle), or when the
   * ancestors nest deeper than `maxDepth` levels (MAX_PARENT_DEPTH unless told) or number more than
   * MAX_ANCESTORS.
   */
  async ancestorsFor(ids: readonly string[], parents: readonly string[], maxDepth = MAX_PARENT_DEPTH): Promise<string[]> {
    return this.#walkUp(ids, parents, maxDepth, true);
  }

  /**
   * The links a watch (or report) of `ids` naming `parents` declares, made by `linkedBy`, checked, and the
   * ancestors it waits on. Links the store already holds are never refused (so no one can fail another
   * task's watch by building above it): their ancestors are followed as far as the limits allow. A new link
   * is refused when one of `ids` is running (watched) with other parents (LinkRefusedError: only the run
   * that starts a task names its parents), and otherwise as #checkNewLinks says. Checks run one at a time
   * on this server, and a link that passed is known at once to the next check, so two links made together
   * cannot form a cycle between them; the store checks again as it writes (see link). Returns the ids whose
   * links change, for `link` to record.
   */
  async declare(
    ids: readonly string[],
    parents: readonly string[],
    linkedBy?: string,
    covers?: (id: string) => boolean,
  ): Promise<{ ancestors: string[]; changed: string[] }> {
    for (const parent of parents) if (ids.includes(parent)) throw new InvalidParentsError(`${preview(parent)} cannot be its own parent`);
    // Most watches re-declare what is known (every poll of a worker does): they need not wait their turn.
    if (parents.length === 0 || (await this.#changedLinks(ids, parents)).length === 0) {
      return { ancestors: await this.#walkUp(ids, parents, MAX_PARENT_DEPTH, false), changed: [] };
    }
    const checked = this.#linking.then(() => this.#declare(ids, parents, linkedBy, covers));
    this.#linking = checked.catch(() => {});
    return checked;
  }

  /** Which of `ids` would get other direct parents than those known (from the cache when fresh, `fresh` from the store). */
  async #changedLinks(ids: readonly string[], parents: readonly string[], fresh = false): Promise<string[]> {
    const wanted = [...new Set(parents)].sort().join('\n');
    const known = fresh ? new Map((await this.#store.loadParents(ids)).map((link) => [link.child, link.parents])) : await this.#parentsOf(ids);
    return ids.filter((id) => [...new Set(known.get(id) ?? [])].sort().join('\n') !== wanted);
  }

  async #declare(
    ids: readonly string[],
    parents: readonly string[],
    linkedBy: string | undefined,
    covers: ((id: string) => boolean) | undefined,
  ): Promise<{ ancestors: string[]; changed: string[] }> {
    // Looked at again in turn: a check that ran meanwhile may have made these very links.
    let changed = await this.#changedLinks(ids, parents);
    if (changed.length === 0) return { ancestors: await this.#walkUp(ids, parents, MAX_PARENT_DEPTH, false), changed };
    // What the cache says may be up to CACHE_MS old (another server's link): the store decides.
    changed = await this.#changedLinks(changed, parents, true);
    if (changed.length === 0) return { ancestors: await this.#walkUp(ids, parents, MAX_PARENT_DEPTH, false), changed };
    const rule = 'only the run that starts a task names its parents (a task stops being running when it ends or is lost)';
    for (const run of await this.#tracker.goingRuns(changed)) {
      if (isRunning(run.state)) {
        // A scoped token is not told its task has other parents: they may be ones it cannot see.
        throw new LinkRefusedError(`${preview(run.id)} is already running with other parents; ${rule}`, `${preview(run.id)} is already running; ${rule}`);
      }
      // Said to have ended, but by a report that need not be its worker's: that worker was seen within the
      // lease, and may be running it still.
      if (run.runBy !== undefined && run.runBy !== linkedBy) {
        const why = `${preview(run.id)} was run by another token, whose worker was seen within the lease (it may be running it still); ${rule}`;
        throw new LinkRefusedError(why);
      }
    }
    let ancestors = await this.#checkNewLinks(changed, parents, linkedBy, covers);
    // Known to the next check at once, before the store has it.
    const at = this.#clock.monotonic();
    for (const id of changed) this.#remember(id, parents, at);
    if (changed.length < ids.length) ancestors = await this.#walkUp(ids, parents, MAX_PARENT_DEPTH, false);
    return { ancestors, changed };
  }

  /**
   * The rules every new link meets, checked when it is declared and again by the store in one step with its
   * write (links read through `links` there; the cache above and the store below otherwise). Resolves with
   * the ancestors above `parents`; throws InvalidParentsError for a cycle, or for the ancestors above and the
   * descendants below nesting more than MAX_PARENT_DEPTH levels, and LinkRefusedError when a run below one of
   * `ids` that another token started may still be going and `covers` (the linking token's scope) does not
   * cover it: new parents are new ways to stop it.
   */
  async #checkNewLinks(
    ids: readonly string[],
    parents: readonly string[],
    linkedBy: string | undefined,
    covers: ((id: string) => boolean) | undefined,
    links?: LinkReader,
  ): Promise<string[]> {
    const below = await this.#below(ids, links);
    if (below.levels >= MAX_PARENT_DEPTH)
      throw new InvalidParentsError(
        `${preview(below.root!)} has descendants ${below.levels} levels deep already; a parent would nest them more than ${MAX_PARENT_DEPTH} levels`,
      );
    const parentsOf = links && (async (level: readonly string[]) => new Map((await links.loadParents(level)).map((link) => [link.child, link.parents])));
    let ancestors: string[];
    try {
      ancestors = await this.#walkUp(ids, parents, MAX_PARENT_DEPTH - below.levels, true, parentsOf);
    } catch (error) {
      if (error instanceof InvalidParentsError && below.levels > 0 && /levels deep/.test(error.message)) {
        const counting = ` counting the ${below.levels} level${below.levels === 1 ? '' : 's'} of descendants below`;
        throw new InvalidParentsError(`${error.message.replace(/ \(.*\)$/, '')}${counting}`, `${error.scopedMessage}${counting}`);
      }
      throw error;
    }
    // A new parent is a new way to stop every task below. Runs of this token are its own to risk, and a
    // scoped token's scope is its team's; another token's run that may still be going is not, whatever the
    // new parent is (cancelled, with a cancel scheduled, or one that comes later).
    // Whose run it is says its status (runBy), not who made its link: a link made ahead of the run (a look
    // with the same parents) must not make another token's run this one's.
    const uncovered = covers === undefined ? [...below.descendants.keys()] : [...below.descendants.keys()].filter((id) => !covers(id));
    for (let i = 0; i < uncovered.length; i += CHILDREN_PER_STEP) {
      const going = (await this.#tracker.goingRuns(uncovered.slice(i, i + CHILDREN_PER_STEP))).find(
        (run) => (run.runBy ?? below.descendants.get(run.id)) !== linkedBy,
      );
      if (going) {
        const rule = 'it cannot be given new parents while that run may be going (its worker was seen within the lease)';
        throw new LinkRefusedError(
          `${preview(below.rootOf.get(going.id)!)} has a task below it that another token runs (${preview(going.id)}); ${rule}`,
          `${preview(below.rootOf.get(going.id)!)} has a task below it that another token runs; ${rule}`,
        );
      }
    }
    return ancestors;
  }

  /**
   * What the store knows below `ids`: how many levels of descendants (0: none of them is a parent), the
   * first of `ids` that has any (`root`), every descendant with the token that made its link, and the one of
   * `ids` each is below. Read through `links`.
   */
  async #below(
    ids: readonly string[],
    links: LinkReader = this.#store,
  ): Promise<{ levels: number; root?: string; descendants: Map<string, string | undefined>; rootOf: Map<string, string> }> {
    const roots = await links.parentsAmong(ids);
    const seen = new Set(ids);
    const descendants = new Map<string, string | undefined>();
    const rootOf = new Map<string, string>();
    let levels = 0;
    // Root by root, so a refusal names the task whose descendants are the reason.
    for (const root of roots) {
      let level = [root];
      let depth = 0;
      while (level.length > 0 && depth < MAX_PARENT_DEPTH) {
        depth++;
        const children: string[] = [];
        for (const parent of level) {
          for (let after: string | undefined; ; ) {
            const page = await links.listChildren(parent, after, CHILDREN_PER_STEP);
            const fresh = page.filter((id) => !seen.has(id));
            for (const id of fresh) seen.add(id), children.push(id), rootOf.set(id, root);
            for (const link of fresh.length === 0 ? [] : await links.loadParents(fresh)) descendants.set(link.child, link.linkedBy);
            if (descendants.size > MAX_DESCENDANTS_CHECKED) throw new InvalidParentsError(`more than ${MAX_DESCENDANTS_CHECKED} descendants to check`);
            if (page.length < CHILDREN_PER_STEP) break;
            after = page.at(-1);
            await nextTurn();
          }
        }
        level = children.length === 0 ? [] : await links.parentsAmong(children);
      }
      levels = Math.max(levels, depth);
    }
    return { levels, descendants, rootOf, ...(roots.length === 0 ? {} : { root: roots[0]! }) };
  }

  /**
   * The ancestors above `parents`; `strict` throws for a cycle or a depth past `maxDepth`, otherwise they are
   * left out. Links are read through `parentsOf`: the cache unless told.
   */
  async #walkUp(
    ids: readonly string[],
    parents: readonly string[],
    maxDepth: number,
    strict: boolean,
    parentsOf: (ids: readonly string[]) => Promise<Map<string, readonly string[]>> = (level) => this.#parentsOf(level),
  ): Promise<string[]> {
    const own = ids.length > 16 ? new Set(ids) : undefined;
    const isOwn = (id: string) => (own ? own.has(id) : ids.includes(id));
    for (const parent of parents) if (isOwn(parent)) throw new InvalidParentsError(`${preview(parent)} cannot be its own parent`);
    const ancestors = [...new Set(parents)];
    const seen = new Set(ancestors);
    let level = ancestors;
    for (let depth = 1; level.length > 0; depth++) {
      const links = await parentsOf(level);
      const next: string[] = [];
      for (const id of level) {
        for (const parent of links.get(id) ?? []) {
          if (isOwn(parent)) {
            if (strict) {
              const cycle = `a cycle: ${preview(parent)} would be its own ancestor`;
              throw new InvalidParentsError(`${cycle} (it is a parent of ${preview(id)})`, cycle);
            }
            continue;
          }
          if (seen.has(parent)) continue;
          seen.add(parent);
          next.push(parent);
        }
      }
      if (next.length > 0 && depth >= maxDepth) {
        if (!strict) break;
        const deep = `parents nest more than ${MAX_PARENT_DEPTH} levels deep`;
        throw new InvalidParentsError(`${deep} (${preview(next[0]!)} is an ancestor ${depth + 1} levels up)`, deep);
      }
      if (ancestors.length + next.length > MAX_ANCESTORS) {
        if (!strict) break;
        throw new InvalidParentsError(`more than ${MAX_ANCESTORS} ancestors in all`);
      }
      ancestors.push(...next);
      level = next;
    }
    return ancestors;
  }

  /**
   * Records `parents` as the direct parents of each of `ids` (after their statuses); re-declaring costs
   * nothing. Checked again as the store writes them, against the links it holds then, in one step with the
   * write (see saveParents): what declare checked may be out of date, when another server linked meanwhile.
   * Throws as #checkNewLinks does (nothing written) when they now break a rule.
   */
  async link(ids: readonly string[], parents: readonly string[], linkedBy?: string, covers?: (id: string) => boolean): Promise<void> {
    const check: LinkCheck = async (links, reader) =>
      void (await this.#checkNewLinks(
        links.map((link) => link.child),
        parents,
        linkedBy,
        covers,
        reader,
      ));
    try {
      await this.#tracker.linkParents(ids, parents, check, linkedBy);
    } catch (error) {
      // Declare told the next checks of this server these links were coming: they are not.
      for (const id of ids) this.#cache.delete(id);
      throw error;
    }
    // Looked-up parents this server just changed are known at once; others' changes within CACHE_MS.
    const at = this.#clock.monotonic();
    for (const id of ids) if (this.#cache.has(id)) this.#remember(id, parents, at);
  }

  #remember(id: string, parents: readonly string[], at: number): void {
    // Re-inserted, so the map stays oldest first and the oldest go when it is full.
    this.#cache.delete(id);
    this.#cache.set(id, { parents, at });
  }

  /** The direct parents of `id`, as stored. */
  async parentsOf(id: string): Promise<readonly string[]> {
    return (await this.#store.loadParents([id]))[0]?.parents ?? [];
  }

  /**
   * The live record of the nearest cancelled ancestor of a task whose direct parents are `parents`, if
   * any: what stops the task even though it has no cancel of its own. Never throws for bad links.
   */
  async cancelledAncestor(id: string, parents: readonly string[]): Promise<CancelRecord | undefined> {
    if (parents.length === 0) return undefined;
    let ancestors: string[];
    try {
      ancestors = await this.ancestorsFor([id], parents);
    } catch (error) {
      if (!(error instanceof InvalidParentsError)) throw error;
      // Links another server stored in a race may form a cycle; the parents themselves still count.
      ancestors = [...parents];
    }
    const records = new Map((await this.#canceler.find(ancestors)).map((record) => [record.id, record]));
    return ancestors.map((ancestor) => records.get(ancestor)).find((record) => record !== undefined);
  }

  /**
   * `record`'s task was just cancelled: every descendant the store knows of is marked cancel_requested
   * ("parent P cancelled"), CHILDREN_PER_STEP at a time with other work in between, down to
   * MAX_PARENT_DEPTH levels. Runs in the background; failures go to onError.
   */
  cancelled(record: CancelRecord): void {
    if (this.#cascading.has(record.id)) return;
    this.#cascading.add(record.id);
    // Every cancel of one group commit is answered in the same turn: one look-up tells which of them
    // have children at all (most have none), instead of one per cancel.
    if (this.#toCascade.size === 0) queueMicrotask(() => void this.#cascadeAsked().catch(this.#onError));
    this.#toCascade.set(record.id, record);
  }

  /** Walks down from each cancel asked for in this turn that has children; the others are done. */
  async #cascadeAsked(): Promise<void> {
    const records = [...this.#toCascade.values()];
    this.#toCascade.clear();
    const started = this.#clock.monotonic();
    let parents: Set<string>;
    try {
      parents = new Set(await this.#store.parentsAmong(records.map((record) => record.id)));
    } catch (error) {
      for (const record of records) this.#cascading.delete(record.id);
      this.#onError(error);
      return;
    }
    for (const record of records) {
      if (parents.has(record.id)) {
        this.#cascade(record)
          .catch(this.#onError)
          .finally(() => this.#cascading.delete(record.id));
        continue;
      }
      this.#cascading.delete(record.id);
      try {
        this.#onCascaded(record, 0, this.#clock.monotonic() - started);
      } catch (error) {
        this.#onError(error);
      }
    }
  }

  /**
   * A watch on `ids` was answered at once because their ancestor `parent` was already cancelled (they
   * started after it): they are marked as the cancel's walk would have, and those that are parents
   * themselves are cancelled in turn, so that their own descendants stop too.
   */
  stoppedByParent(ids: readonly string[], parent: CancelRecord): void {
    (async () => {
      await this.#tracker.parentCancelled(ids, parent);
      for (const id of await this.#store.parentsAmong(ids)) this.cancelled(await this.#canceler.cancel(id, this.#cancelOf(parent)));
    })().catch(this.#onError);
  }

  async #cascade(root: CancelRecord): Promise<void> {
    const started = this.#clock.monotonic();
    const seen = new Set([root.id]);
    let marked = 0;
    let level = [root.id];
    // The first look is not worth a turn of its own: it is one indexed look-up.
    let first = true;
    for (let depth = 1; depth <= MAX_PARENT_DEPTH && level.length > 0; depth++) {
      const next: string[] = [];
      for (const parent of level) {
        for (let after: string | undefined; ; ) {
          if (!first) await nextTurn();
          first = false;
          const page = await this.#store.listChildren(parent, after, CHILDREN_PER_STEP);
          const fresh = page.filter((id) => !seen.has(id));
          for (const id of fresh) seen.add(id);
          if (fresh.length > 0) {
            // Each is stopped through its own link, and named with whoever made it.
            const linkers = new Map((await this.#store.loadParents(fresh)).map((link) => [link.child, link.linkedBy]));
            for (const [linkedBy, ids] of Map.groupBy(fresh, (id) => linkers.get(id))) await this.#tracker.parentCancelled(ids, throughLink(root, linkedBy));
            marked += fresh.length;
            // A descendant that is a parent itself gets a cancel record of its own: it wakes every wait
            // that names it as an ancestor, on every server, including waits that did not know `root` as
            // one of theirs (resolved before a link above them was recorded).
            for (const id of await this.#store.parentsAmong(fresh)) {
              await this.#canceler.cancel(id, this.#cancelOf(throughLink(root, linkers.get(id))));
              next.push(id);
            }
          }
          if (page.length < CHILDREN_PER_STEP) break;
          after = page.at(-1);
        }
      }
      level = next;
    }
    this.#onCascaded(root, marked, this.#clock.monotonic() - started);
  }

  /** How a descendant that is itself a parent is cancelled when `root` was: by the same asker. */
  #cancelOf(root: CancelRecord): { reason: string; by?: CancelSource } {
    return { reason: parentCancelledReason(root.id), ...(root.by === undefined ? {} : { by: root.by }) };
  }

  /** The direct parents of `ids`, from the cache where fresh, from the store (in one call) otherwise. */
  async #parentsOf(ids: readonly string[]): Promise<Map<string, readonly string[]>> {
    const now = this.#clock.monotonic();
    const found = new Map<string, readonly string[]>();
    const missing: string[] = [];
    for (const id of ids) {
      const cached = this.#cache.get(id);
      if (cached && now - cached.at < CACHE_MS) found.set(id, cached.parents);
      else missing.push(id);
    }
    if (missing.length === 0) return found;
    const loaded = new Map((await this.#store.loadParents(missing)).map((link: ParentLink) => [link.child, link.parents]));
    for (const id of missing) {
      const parents = loaded.get(id) ?? [];
      found.set(id, parents);
      // Re-inserted, so the map stays oldest first and the oldest go when it is full.
      this.#cache.delete(id);
      this.#cache.set(id, { parents, at: now });
    }
    for (const id of this.#cache.keys()) {
      if (this.#cache.size <= CACHE_ENTRIES) break;
      this.#cache.delete(id);
    }
    return found;
  }
}
