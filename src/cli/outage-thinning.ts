/** While the same failure repeats, a line for it this often (besides its first, and any other failure's). */
export const OUTAGE_LINE_EVERY_MS = 60_000;

// Kinds of failure remembered at once in an outage: a connection's few ways of failing. Past this many the
// oldest is forgotten, so an error text with a changing part cannot grow it.
const OUTAGE_KINDS = 8;

/**
 * Thins a long outage's retries for a log: a line per retry is a line every few seconds for as long as the
 * server is away. Each kind of failure is told the first time, then once a minute ("still"), however they
 * alternate; the end of the outage tells how many were not.
 */
export class OutageThinning {
  /** Each failure told in this outage, and when. */
  readonly #told = new Map<string, number>();
  #untold = 0;

  /** Whether a failure with `error` at `now` is worth a line: 'first', 'still' (told a minute ago or more), or undefined. */
  failed(error: string, now: number): 'first' | 'still' | undefined {
    const last = this.#told.get(error);
    if (last !== undefined && now - last < OUTAGE_LINE_EVERY_MS) {
      this.#untold++;
      return undefined;
    }
    if (last === undefined && this.#told.size >= OUTAGE_KINDS) this.#told.delete(this.#told.keys().next().value!);
    this.#told.set(error, now);
    return last === undefined ? 'first' : 'still';
  }

  /** The outage is over (or the program is): how many failures went untold, and the count starts again. */
  ended(): number {
    const untold = this.#untold;
    this.#told.clear();
    this.#untold = 0;
    return untold;
  }
}

/** " (N more failed attempts to reach the server not shown)", or nothing for none. */
export function untoldSuffix(untold: number): string {
  return untold > 0 ? ` (${untold} more failed ${untold === 1 ? 'attempt' : 'attempts'} to reach the server not shown)` : '';
}
