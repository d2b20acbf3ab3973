// The store contract, by concern: each file under core/store/ is one small interface with its types, and
// a store is all of them (CancelStore). Every store passes the one contract suite in test/store/.
import type { TaskEventLog } from './event-log.ts';
import type { OutboxStore } from './outbox.ts';
import type { ParentLinkStore } from './parents.ts';
import type { CancelRecordStore } from './records.ts';
import type { ScheduleStore } from './schedules.ts';
import type { StatusStore } from './statuses.ts';
import type { UnreadableRows } from './unreadable.ts';

export type { CancelRecord, CancelRecordStore, CancelRoute, CancelSource, RemoteCancelListener } from './records.ts';
export type { StatusChange, StatusQuery, StatusStore, StatusUpdate } from './statuses.ts';
export { saveStatuses } from './statuses.ts';
export type { ScheduledCancel, ScheduleStore } from './schedules.ts';
export type { LinkCheck, LinkReader, ParentLink, ParentLinkStore } from './parents.ts';
export { type Delivery, type OutboxStore, SENT_MARKER_MS } from './outbox.ts';
export type { EventLogListener, EventWindowBounds, TaskEventLog } from './event-log.ts';
export { sequenceStart } from './event-log.ts';
export type { RowKind, UnreadableRow, UnreadableRows } from './unreadable.ts';
export { ROW_KINDS } from './unreadable.ts';

/** What every store has besides its data: a name, a health check, a tally of rows it could not read, and a close. */
export interface StoreLifecycle {
  /** A short description for logs and health output, e.g. `sqlite:/var/lib/taskctl/taskctl.db`. */
  readonly description: string;
  /** Rows met that could not be read, for /metrics and the log. */
  readonly unreadable: UnreadableRows;
  /** Resolves when the store can serve; rejects with the reason when it cannot. */
  check(): Promise<void>;
  /** Flushes and releases the store. */
  close(): Promise<void>;
}

/**
 * Everything the server keeps, one concern per interface. No single call may hold the event loop for more
 * than a few milliseconds, however many ids it is given: stores that work synchronously split the work and
 * yield between the pieces.
 */
export interface CancelStore extends StoreLifecycle, CancelRecordStore, StatusStore, ScheduleStore, ParentLinkStore, OutboxStore, TaskEventLog {}

/** Raised by a store that cannot serve right now (e.g. its database is unreachable). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}
