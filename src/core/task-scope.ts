// Which tasks a token may touch: a scoped token (`ids=team-a-*` on its line of the tokens file) reaches only
// the ids its patterns match. A pure rule, asked by every route in one way (covers), so that no route
// compares ids with strings of its own.

import type { CancelRecord } from './store.ts';
import { taskIdProblem } from './task-id.ts';
import type { TaskStatus } from './task-status.ts';
import { nextTurn } from './turns.ts';

/** Why `pattern` cannot be a scope pattern (an exact id, or a prefix ending in `*`), or undefined when it can. */
export function scopePatternProblem(pattern: string): string | undefined {
  if (pattern === '') return 'a pattern is empty (patterns are separated by single commas)';
  if (pattern === '*') return 'the pattern "*" covers every task: leave the scope out instead (no ids= in the tokens file, no --scope)';
  const prefix = pattern.endsWith('*') ? pattern.slice(0, -1) : pattern;
  // A star inside would read as a glob; ids holding one are rare enough to be named by a prefix.
  if (prefix.includes('*')) return `"*" may only end a pattern (a prefix), not stand inside it: ${JSON.stringify(pattern.slice(0, 60))}`;
  // Checked as an id would be, with one more character for a prefix: "." is a fine prefix but no id.
  const problem = taskIdProblem(prefix === pattern ? prefix : `${prefix}x`);
  return problem === undefined ? undefined : `${problem.replace(/^task id/, 'the pattern')}: ${JSON.stringify(pattern.slice(0, 60))}`;
}

/**
 * The ids a scoped token covers: those equal to one of its exact patterns, or starting with one of its
 * prefixes. Built only from patterns that passed scopePatternProblem.
 */
export class TaskScope {
  /** As written on the token's line, in order. */
  readonly patterns: readonly string[];
  readonly #exact: ReadonlySet<string>;
  readonly #prefixes: readonly string[];

  constructor(patterns: readonly string[]) {
    for (const pattern of patterns) {
      const problem = scopePatternProblem(pattern);
      if (problem !== undefined) throw new RangeError(problem);
    }
    if (patterns.length === 0) throw new RangeError('a scope needs at least one pattern');
    this.patterns = [...patterns];
    this.#exact = new Set(patterns.filter((p) => !p.endsWith('*')));
    this.#prefixes = patterns.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  }

  /** Whether `id` is one of the tasks this scope reaches. */
  covers(id: string): boolean {
    if (this.#exact.has(id)) return true;
    for (const prefix of this.#prefixes) if (id.startsWith(prefix)) return true;
    return false;
  }

  /** The first of `ids` this scope does not reach, or undefined when it reaches them all. */
  firstOutside(ids: Iterable<string>): string | undefined {
    for (const id of ids) if (!this.covers(id)) return id;
    return undefined;
  }

  /** Whether `other` covers exactly the same ids by the same patterns. */
  equals(other: TaskScope | undefined): boolean {
    return other !== undefined && other.patterns.length === this.patterns.length && other.patterns.every((p, i) => p === this.patterns[i]);
  }

  /**
   * For a walk through ids in code-unit order that has passed `after` (from the start when undefined): a
   * cursor from which the walk still meets every covered id after `after`, skipping the stretch before the
   * first of them that no pattern can match; `null` when no covered id can follow `after`. So a listing by a
   * token scoped to `team-b-*` does not read every `team-a-` task first. The cursor is exclusive, as `after`
   * is: a proper prefix of a pattern sorts before every id the pattern matches.
   */
  resumeAfter(after: string | undefined): string | undefined | null {
    let best: string | undefined | null = null;
    const consider = (cursor: string | undefined) => {
      if (best === null || cursor === undefined || (best !== undefined && cursor < best)) best = cursor;
    };
    for (const exact of this.#exact) {
      if (after === undefined || exact > after) consider(atLeast(after, beforeAll(exact)));
    }
    for (const prefix of this.#prefixes) {
      if (after === undefined || after < prefix) consider(atLeast(after, beforeAll(prefix)));
      // Inside the prefix's stretch: every id after `after` may still match.
      else if (after.startsWith(prefix)) consider(after);
      // Past it: every id with this prefix sorts before `after`.
    }
    return best;
  }

  toString(): string {
    return this.patterns.join(',');
  }
}

/** A cursor before every id starting with `text`: `text` less its last character (undefined: the start). */
function beforeAll(text: string): string | undefined {
  // By code point, so a character outside the BMP is not split into half a surrogate pair.
  const chars = [...text];
  return chars.length <= 1 ? undefined : chars.slice(0, -1).join('');
}

function atLeast(after: string | undefined, cursor: string | undefined): string | undefined {
  if (after === undefined) return cursor;
  if (cursor === undefined) return after;
  return cursor > after ? cursor : after;
}

/**
 * Up to `want` of what `read` lists in id order after `after`, leaving out those `scope` does not cover:
 * as many store pages as it takes, skipping the stretches no pattern matches (TaskScope.resumeAfter). A
 * page ends on an id the scope covers, so a listing's `next` never names another team's task.
 */
export async function pageCovered<T>(
  scope: TaskScope | undefined,
  after: string | undefined,
  want: number,
  read: (after: string | undefined, limit: number) => Promise<T[]>,
  idOf: (item: T) => string,
): Promise<T[]> {
  if (scope === undefined) return read(after, want);
  const covered: T[] = [];
  for (let cursor = scope.resumeAfter(after), first = true; cursor !== null && covered.length < want; first = false) {
    // Each further store page takes its turn, like any page of a listing.
    if (!first) await nextTurn();
    const page = await read(cursor, want);
    for (const item of page) if (covered.length < want && scope.covers(idOf(item))) covered.push(item);
    if (page.length < want) break;
    cursor = scope.resumeAfter(idOf(page.at(-1)!));
  }
  return covered;
}

// ---- What a scoped token reads of a stop that came through links ----
//
// A covered task may be stopped through an ancestor the token does not cover (a link an unscoped token
// made). The stop is real and shown (the task reads cancelled, its worker stops its command), but nothing
// of that ancestor is: its id, its canceller's reason and who asked (`by`, `linkedBy`) are replaced by
// one neutral statement. Pure rules, applied by TaskService to every reading a scoped token gets.

/** The reason a scoped token reads for a stop through an ancestor it does not cover. */
export const OUTSIDE_ANCESTOR_REASON = "an ancestor outside this token's scope was cancelled";

/**
 * Whether a stop told with `reason` (and, for a record made from an ancestor's, that ancestor's id as
 * `parent`) names a task `scope` does not cover: the ancestor itself, or the one cancelled at the top of the
 * chain that the reason "parent P cancelled" passes down.
 */
export function stopNamesOutside(scope: TaskScope, reason: string | undefined, parent?: string): boolean {
  if (parent !== undefined && !scope.covers(parent)) return true;
  const named = reason === undefined ? undefined : ancestorInReason(reason);
  return named !== undefined && !scope.covers(named);
}

/** The ancestor a reason "parent P cancelled" names (see reasonViaParent), or undefined for any other reason. */
export function ancestorInReason(reason: string): string | undefined {
  return /^parent (\S+) cancelled$/.exec(reason)?.[1];
}

/**
 * A cancel record as `scope` may read it: itself (the same object) when it names nothing outside the scope,
 * otherwise the task's id and times with the neutral reason, and no asker and no ancestor. `through`: for a
 * record made from an ancestor's (its `parent`), that ancestor's own record, which must name nothing outside
 * either: a stop that came down a chain from outside is hidden at every covered task below.
 */
export function recordInScope<R extends CancelRecord>(scope: TaskScope | undefined, record: R, through?: CancelRecord): R | CancelRecord {
  if (scope === undefined) return record;
  const parent = 'parent' in record ? (record.parent as string) : undefined;
  if (!stopNamesOutside(scope, record.reason, parent) && (through === undefined || !stopNamesOutside(scope, through.reason, through.id))) return record;
  return { id: record.id, reason: OUTSIDE_ANCESTOR_REASON, cancelledAt: record.cancelledAt, expiresAt: record.expiresAt };
}

/**
 * A status as `scope` may read it: itself when its cancel (if any) names nothing outside the scope; else,
 * or when `hidden` (the task's record, read in scope, was made neutral), its cancel with the neutral reason
 * and without its asker. `verified` false: no record read in scope backs a stop through an ancestor the
 * status tells of (`cancelReason` is only ever written for one), so which ancestor it came through is not
 * known, and nothing of it is told.
 */
export function statusInScope(scope: TaskScope | undefined, status: TaskStatus, hidden = false, verified = true): TaskStatus {
  if (scope === undefined || (status.cancelReason === undefined && status.cancelledBy === undefined)) return status;
  const unbacked = !verified && status.cancelReason !== undefined;
  if (!hidden && !unbacked && !stopNamesOutside(scope, status.cancelReason)) return status;
  const { cancelledBy: _asker, ...rest } = status;
  return { ...rest, cancelReason: OUTSIDE_ANCESTOR_REASON };
}

/** A task as an event shows it, as `scope` may read it: the same object when nothing in it needs hiding. */
export function snapshotInScope<S extends { readonly record?: CancelRecord | undefined; readonly status?: TaskStatus | undefined }>(
  scope: TaskScope | undefined,
  snapshot: S,
): S {
  if (scope === undefined) return snapshot;
  const record = snapshot.record && recordInScope(scope, snapshot.record);
  const status = snapshot.status && statusInScope(scope, snapshot.status, record !== snapshot.record);
  if (record === snapshot.record && status === snapshot.status) return snapshot;
  return { ...snapshot, record, status };
}

/** What a watch answers, in core terms: the ids stopped, the records of those stopped by their own cancel, and the ancestor's record that stopped the rest. */
export interface StopAnswer {
  readonly cancelled: readonly string[];
  readonly records: readonly CancelRecord[];
  readonly parent?: CancelRecord | undefined;
}

/**
 * A watch's answer as `scope` may read it. An ancestor's record that names a task outside the scope is not
 * sent: every id it stopped gets a neutral record of its own instead (same times), so a worker still stops
 * each one, old workers included. Own records are read in scope one by one.
 */
export function answerInScope(scope: TaskScope | undefined, answer: StopAnswer): StopAnswer {
  if (scope === undefined) return answer;
  let records = answer.records.map((record) => recordInScope(scope, record));
  const parent = answer.parent;
  if (parent === undefined || !stopNamesOutside(scope, parent.reason, parent.id)) {
    return records.every((record, i) => record === answer.records[i]) ? answer : { ...answer, records };
  }
  const own = new Set(records.map((record) => record.id));
  const neutral = (id: string): CancelRecord => ({ id, reason: OUTSIDE_ANCESTOR_REASON, cancelledAt: parent.cancelledAt, expiresAt: parent.expiresAt });
  records = [...records, ...answer.cancelled.filter((id) => !own.has(id)).map(neutral)];
  return { cancelled: answer.cancelled, records };
}
