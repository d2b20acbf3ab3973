// Rows a store cannot read (corrupt JSON, a state this taskctl does not know): one policy in every store.
// Such a row is left out of what it answers (never invented as something else, never failing a listing),
// counted by kind for /metrics, and logged once per kind.

/** The kinds of rows a store keeps. */
export type RowKind = 'cancel' | 'status' | 'schedule' | 'parent-link' | 'delivery' | 'event';

export const ROW_KINDS: readonly RowKind[] = ['cancel', 'status', 'schedule', 'parent-link', 'delivery', 'event'];

/** One row a store could not read. */
export interface UnreadableRow {
  readonly kind: RowKind;
  /** The task id or key, when known. */
  readonly key?: string;
  /** What was wrong with it, in a few words. */
  readonly why: string;
}

/** What a store saw of rows it could not read since it opened. */
export interface UnreadableRows {
  /** How many rows of each kind could not be read (each time one was met). */
  counts(): ReadonlyMap<RowKind, number>;
  /** `listener` hears of the first unreadable row of each kind met from now on, to log it once. Returns an unsubscribe. */
  onFirst(listener: (row: UnreadableRow) => void): () => void;
}
