/**
 * A set of ids kept in code-unit order (the order SQLite and Redis list them in), so a page of a listing
 * costs a binary search and a slice, not a sort of everything.
 *
 * Kept as a run of sorted chunks of at most CHUNK ids, not one array: adding or deleting an id moves the
 * ids after it within its chunk only. In one array every status change of a task (watching, then
 * cancel_requested) moved half of all the ids in that state, so a cancel cost more the more tasks were
 * watched: at 5,000 held watches, two moves of thousands of ids per cancel.
 */
export class SortedIds {
  /** Each sorted and non-empty; every id of a chunk sorts before every id of the next. */
  readonly #chunks: string[][] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(id: string): void {
    if (this.#chunks.length === 0) {
      this.#chunks.push([id]);
      this.#size++;
      return;
    }
    // The chunk it belongs in: the first whose last id is not before it, or the last chunk.
    const c = Math.min(this.#chunkOf(id), this.#chunks.length - 1);
    const chunk = this.#chunks[c]!;
    const at = indexIn(chunk, id);
    if (chunk[at] === id) return;
    chunk.splice(at, 0, id);
    this.#size++;
    if (chunk.length > CHUNK) this.#chunks.splice(c + 1, 0, chunk.splice(CHUNK / 2));
  }

  delete(id: string): void {
    const c = this.#chunkOf(id);
    const chunk = this.#chunks[c];
    if (chunk === undefined) return;
    const at = indexIn(chunk, id);
    if (chunk[at] !== id) return;
    chunk.splice(at, 1);
    this.#size--;
    if (chunk.length === 0) this.#chunks.splice(c, 1);
  }

  /** Up to `limit` ids after `after` (from the start when undefined), in order. */
  page(after: string | undefined, limit: number): string[] {
    const page: string[] = [];
    let c = after === undefined ? 0 : this.#chunkOf(after);
    let from = 0;
    if (after !== undefined && c < this.#chunks.length) {
      const chunk = this.#chunks[c]!;
      from = indexIn(chunk, after);
      if (chunk[from] === after) from++;
    }
    for (; c < this.#chunks.length && page.length < limit; c++, from = 0) {
      const chunk = this.#chunks[c]!;
      const take = Math.min(chunk.length - from, limit - page.length);
      for (let i = 0; i < take; i++) page.push(chunk[from + i]!);
    }
    return page;
  }

  /** The first chunk whose last id is not before `id`; the number of chunks when there is none. */
  #chunkOf(id: string): number {
    let low = 0;
    let high = this.#chunks.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#chunks[mid]!.at(-1)! < id) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

// Ids per chunk at most (a full chunk splits in two): a move within one costs about what the binary
// searches do, and 100,000 ids make a few hundred chunks.
const CHUNK = 512;

/** Where `id` is in the sorted `ids`, or would be inserted. */
function indexIn(ids: readonly string[], id: string): number {
  let low = 0;
  let high = ids.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (ids[mid]! < id) low = mid + 1;
    else high = mid;
  }
  return low;
}
