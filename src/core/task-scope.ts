import { nextTurn } from './turns.ts';
// Which tasks a token may touch: a scoped token (`ids=team-a-*` on its line of the tokens file) reaches only
// the ids its patterns match. A pure rule, asked by every route in one way (covers), so that no route
// compares ids with strings of its own.

import { taskIdProblem } from './task-id.ts';

/** Why `pattern` cannot be a scope pattern (an exact id, or a prefix ending in `*`), or undefined when it can. */
export function scopePatternProblem(pattern: string): string | undefined {
  if (pattern === '') return 'a pattern is empty (patterns are separated by single commas)';
  if (pattern === '*') return 'the pattern "*" covers every task: leave ids= out instead';
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
