// Cancel records: what the server remembers of each cancel until its TTL runs out.

/** What the server remembers of one cancel. Times are milliseconds since the epoch. */
export interface CancelRecord {
  readonly id: string;
  readonly reason?: string;
  readonly cancelledAt: number;
  readonly expiresAt: number;
  /** Who asked for it; absent on records written before taskctl kept this (or whose asker could not be read). */
  readonly by?: CancelSource;
}

/** How a cancel came: a seed route, the v1 API, a schedule coming due, or a worker's deadline coming due. */
export type CancelRoute = 'seed' | 'v1' | 'scheduled' | 'deadline';

/** Who asked for a cancel: the token's name (`admin`, `anonymous`), the client's address, and the route. */
export interface CancelSource {
  readonly name: string;
  readonly address: string;
  readonly route: CancelRoute;
  /**
   * For a task stopped because it was linked to a parent already cancelled: the name of the token that made
   * the link (the cancel itself stays the parent's asker's). Absent otherwise, and on older records.
   */
  readonly linkedBy?: string;
}

/** Hears cancels that other servers recorded in a store they share with this one. */
export interface RemoteCancelListener {
  /** Another server recorded a cancel of `id`. */
  cancelled(id: string): void;
  /** Notices may have been missed (a dropped subscription came back): look again at everything waited on. */
  resynced(): void;
}

/**
 * Where cancel records live. The canceler owns the rules (TTL, idempotence, waking); a store only keeps
 * records and must never lose one it has acknowledged.
 */
export interface CancelRecordStore {
  /** Stores `record` unless a live record for its id exists; resolves with the live record, durable by then. */
  insert(record: CancelRecord, now: number): Promise<CancelRecord>;
  /** The live (unexpired at `now`) records among `ids`, in no particular order. */
  find(ids: readonly string[], now: number): Promise<CancelRecord[]>;
  /** Deletes the records expired at `now`; resolves with how many went. */
  sweep(now: number): Promise<number>;
  /** For stores shared between servers: tells `listener` of cancels made elsewhere. Returns an unsubscribe. */
  subscribe?(listener: RemoteCancelListener): () => void;
}
