/**
 * A set of ids kept in code-unit order (the order SQLite and Redis list them in), so a page of a listing
 * costs a binary search and a slice, not a sort of everything.
 */
export class SortedIds {
  readonly #ids: string[] = [];

  get size(): number {
    return this.#ids.length;
  }

  add(id: string): void {
    const at = this.#indexOf(id);
    if (this.#ids[at] !== id) this.#ids.splice(at, 0, id);
  }

  delete(id: string): void {
    const at = this.#indexOf(id);
    if (this.#ids[at] === id) this.#ids.splice(at, 1);
  }

  /** Up to `limit` ids after `after` (from the start when undefined), in order. */
  page(after: string | undefined, limit: number): string[] {
    let from = after === undefined ? 0 : this.#indexOf(after);
    if (after !== undefined && this.#ids[from] === after) from++;
    return this.#ids.slice(from, from + limit);
  }

  /** Where `id` is, or would be inserted. */
  #indexOf(id: string): number {
    let low = 0;
    let high = this.#ids.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#ids[mid]! < id) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
