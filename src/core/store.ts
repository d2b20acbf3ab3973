/** What the server remembers of one cancel. Times are milliseconds since the epoch. */
export interface CancelRecord {
  readonly id: string;
  readonly reason?: string;
  readonly cancelledAt: number;
  readonly expiresAt: number;
  /** Who asked for it; absent on records written before taskctl kept this. */
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

import type { TaskLifeState, TaskStatus } from './task-status.ts';

/** Which statuses a listing wants: ordered by id, those after `after`, at most `limit`. */
export interface StatusQuery {
  readonly state?: TaskLifeState;
  readonly after?: string;
  readonly limit: number;
}

/** A cancel to be made at a later time. */
export interface ScheduledCancel {
  readonly id: string;
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly reason?: string;
  /** Who scheduled it; the cancel made when it comes due is recorded as theirs. */
  readonly by?: CancelSource;
}

/** A task and the tasks it declared as its parents. */
export interface ParentLink {
  readonly child: string;
  readonly parents: readonly string[];
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
 * records and must never lose one it has acknowledged. No single call may hold the event loop for more
 * than a few milliseconds, however many ids it is given: stores that work synchronously split the work
 * and yield between the pieces.
 */
export interface CancelStore {
  /** A short description for logs and health output, e.g. `sqlite:/var/lib/taskctl/taskctl.db`. */
  readonly description: string;
  /** Stores `record` unless a live record for its id exists; resolves with the live record, durable by then. */
  insert(record: CancelRecord, now: number): Promise<CancelRecord>;
  /** The live (unexpired at `now`) records among `ids`, in no particular order. */
  find(ids: readonly string[], now: number): Promise<CancelRecord[]>;
  /** Deletes the records expired at `now`; resolves with how many went. */
  sweep(now: number): Promise<number>;
  /** Resolves when the store can serve; rejects with the reason when it cannot. */
  check(): Promise<void>;
  /** The stored statuses among `ids`. */
  loadStatuses(ids: readonly string[]): Promise<TaskStatus[]>;
  /** Stores `statuses`, replacing what was there; durable once resolved (as records are). */
  saveStatuses(statuses: readonly TaskStatus[]): Promise<void>;
  /** Statuses in id order, filtered by state, after a cursor. */
  listStatuses(query: StatusQuery): Promise<TaskStatus[]>;
  /** Watched or cancel-requested tasks whose worker was last seen before `seenBefore`. */
  findQuiet(seenBefore: number, limit: number): Promise<TaskStatus[]>;
  /** Up to `limit` ids of statuses whose last activity (see `lastActivity`) was before `before`. */
  findInactive(before: number, limit: number): Promise<string[]>;
  /**
   * Forgets the statuses (with their history) of those of `ids` whose last activity is still before
   * `inactiveBefore` (checked as part of the delete: a status saved meanwhile, by this server or another,
   * is kept). Resolves with how many were forgotten.
   */
  forgetStatuses(ids: readonly string[], inactiveBefore: number): Promise<number>;
  /** How many statuses the store holds, without counting them one by one. */
  countStatuses(): Promise<number>;
  /** Stores (or moves) a scheduled cancel of `schedule.id`; durable once resolved. */
  schedule(schedule: ScheduledCancel): Promise<void>;
  /** The scheduled cancels among `ids`. */
  loadSchedules(ids: readonly string[]): Promise<ScheduledCancel[]>;
  /** Scheduled cancels due at `now`, soonest first. */
  dueSchedules(now: number, limit: number): Promise<ScheduledCancel[]>;
  /** Forgets the scheduled cancel of `id` (it was made). */
  unschedule(id: string): Promise<void>;

  // Parent links: which tasks a task declared as its parents (`work ID --parent P`). A child's links are
  // kept as long as its status is, and forgotten with it (see forgetParents).

  /** Records `parents` as the direct parents of each link's child, replacing any it had; durable as statuses are. */
  saveParents(links: readonly ParentLink[]): Promise<void>;
  /** The direct parents of those of `ids` that have any. */
  loadParents(ids: readonly string[]): Promise<ParentLink[]>;
  /** Up to `limit` children of `parent` in id order, those after `after`. */
  listChildren(parent: string, after: string | undefined, limit: number): Promise<string[]>;
  /** Those of `ids` that are the parent of at least one task. */
  parentsAmong(ids: readonly string[]): Promise<string[]>;
  /** Forgets the links of those of `ids` that have no status (retention forgot it); resolves with how many links (child, parent) went. */
  forgetParents(ids: readonly string[]): Promise<number>;

  // Webhook deliveries (the outbox): queued with the change that causes them, so that a restart loses none,
  // and claimed for a while by the server that sends one, so that servers sharing a store send it once.

  /**
   * Queues `deliveries`; one whose id is queued already (the same event, from another server) is kept
   * once. A store shared by servers also drops an id finished within the last hour.
   */
  enqueueDeliveries(deliveries: readonly Delivery[]): Promise<void>;
  /** Up to `limit` deliveries due at `now`, each out of reach of other claims until `now + leaseMs`. */
  claimDeliveries(now: number, leaseMs: number, limit: number): Promise<Delivery[]>;
  /** Forgets delivery `id`: made, or given up. */
  finishDelivery(id: string): Promise<void>;
  /** Puts delivery `id` back in the queue, due at `nextAt` after `attempts` tries. */
  retryDelivery(id: string, attempts: number, nextAt: number): Promise<void>;
  /** How many deliveries are queued. */
  countDeliveries(): Promise<number>;

  /** For stores shared between servers: tells `listener` of cancels made elsewhere. Returns an unsubscribe. */
  subscribe?(listener: RemoteCancelListener): () => void;
  /** Flushes and releases the store. */
  close(): Promise<void>;
}

/** One webhook event for one endpoint, waiting to be delivered. Times are milliseconds since the epoch. */
export interface Delivery {
  /** Unique per event and endpoint: the same event queued twice is one delivery. */
  readonly id: string;
  /** The event's id, sent with it, so that receivers can drop a repeat. */
  readonly eventId: string;
  readonly endpoint: string;
  /** The JSON sent, exactly (it is what the signature covers). */
  readonly body: string;
  readonly createdAt: number;
  readonly attempts: number;
  readonly nextAt: number;
}

/** Raised by a store that cannot serve right now (e.g. its database is unreachable). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}
