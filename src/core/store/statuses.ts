// Task statuses: what the server knows of each task's life (see task-status.ts for the rules). Every
// status is stored with a version that each write moves on, and every write is conditional on the version
// it was computed from (compare-and-set): two servers sharing a store never overwrite each other's change.
import { statusToKeep, type TaskLifeState, type TaskStatus } from '../task-status.ts';

/** Which statuses a listing wants: ordered by id, those after `after`, at most `limit`. */
export interface StatusQuery {
  readonly state?: TaskLifeState;
  readonly after?: string;
  readonly limit: number;
}

/**
 * A task's next status, made from the one stored now (undefined: none); undefined, or `current` itself,
 * leaves it as it is. A store may call it more than once for one id (each time another writer came first),
 * so it must be a pure function of its arguments, side effects left until the change is written.
 */
export type StatusUpdate = (current: TaskStatus | undefined, id: string) => TaskStatus | undefined;

/** A status a store wrote: what it replaced (undefined: none) and what it holds now. */
export interface StatusChange {
  readonly before: TaskStatus | undefined;
  readonly after: TaskStatus;
}

/** Where task statuses live. */
export interface StatusStore {
  /** The stored statuses among `ids` (those that can be read: see UnreadableRows). */
  loadStatuses(ids: readonly string[]): Promise<TaskStatus[]>;
  /**
   * For each of `ids` (each once): reads its status, applies `update`, and writes the result if the status
   * is still the version read; when another writer came first, reads and applies again. Many ids share
   * one read and one write per round; durable once resolved (as records are). Resolves with the changes
   * written, in no particular order.
   */
  updateStatuses(ids: readonly string[], update: StatusUpdate): Promise<StatusChange[]>;
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
}

/**
 * Writes `statuses` made elsewhere (not from what is stored now) under the ordering rule of statusToKeep:
 * each replaces the stored one only if it was made from it or is further along.
 */
export function saveStatuses(store: StatusStore, statuses: readonly TaskStatus[]): Promise<StatusChange[]> {
  const incoming = new Map(statuses.map((status) => [status.id, status]));
  return store.updateStatuses([...incoming.keys()], (current, id) => statusToKeep(current, incoming.get(id)!));
}
