import type { RowKind, UnreadableRow, UnreadableRows } from '../core/store/unreadable.ts';

/** The tally each store keeps of rows it could not read (see core/store/unreadable.ts for the policy). */
export class UnreadableRowTally implements UnreadableRows {
  readonly #counts = new Map<RowKind, number>();
  readonly #told = new Set<RowKind>();
  readonly #listeners = new Set<(row: UnreadableRow) => void>();

  /** Counts one row that could not be read; the first of its kind is told to the listeners. */
  note(row: UnreadableRow): void {
    this.#counts.set(row.kind, (this.#counts.get(row.kind) ?? 0) + 1);
    if (this.#told.has(row.kind)) return;
    this.#told.add(row.kind);
    for (const listener of this.#listeners) {
      try {
        listener(row);
      } catch {
        // A logger that fails must not fail the read that met the row.
      }
    }
  }

  counts(): ReadonlyMap<RowKind, number> {
    return this.#counts;
  }

  onFirst(listener: (row: UnreadableRow) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
