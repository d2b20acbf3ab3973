import type { ParentCancelRecord } from '../core/canceler.ts';
import type { CancelRecord } from '../core/store.ts';
import type { TaskStatus } from '../core/task-status.ts';
import type { CancelRecordReply, TaskStatusReply } from './schemas.ts';

// The times an ISO string with a four-digit year can hold.
const LAST_ISO_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Milliseconds since the epoch as an ISO string. A time out of range (a stored value from an older
 * version, a corrupted row) is clamped to 1970 or the year 9999 rather than failing the whole answer.
 */
export function isoTime(ms: number): string {
  return new Date(ms >= 0 ? Math.min(ms, LAST_ISO_MS) : 0).toISOString();
}

/** A stored record as it travels: times as ISO strings, no reason key when there is none. */
export function recordToWire(record: CancelRecord): CancelRecordReply {
  const reply: CancelRecordReply = {
    id: record.id,
    cancelledAt: isoTime(record.cancelledAt),
    expiresAt: isoTime(record.expiresAt),
  };
  if (record.reason !== undefined) reply.reason = record.reason;
  if (record.by !== undefined) reply.by = { ...record.by };
  return reply;
}

/** A record, as it travels; one made from an ancestor's cancel names that ancestor as `parent`. */
export function anyRecordToWire(record: CancelRecord | ParentCancelRecord): CancelRecordReply {
  const reply = recordToWire(record);
  if ('parent' in record) reply.parent = record.parent;
  return reply;
}

/** A task's status as it travels: times as ISO strings. */
export function statusToWire(status: TaskStatus): TaskStatusReply {
  const reply: TaskStatusReply = {
    state: status.state,
    since: isoTime(status.since),
    history: status.history.map((h) => ({ state: h.state, at: isoTime(h.at) })),
  };
  if (status.lastSeenAt !== undefined) reply.lastSeenAt = isoTime(status.lastSeenAt);
  if (status.worker) reply.worker = { ...status.worker };
  if (status.runBy !== undefined) reply.runBy = status.runBy;
  if (status.reportedBy !== undefined) reply.reportedBy = status.reportedBy;
  if (status.exitCode !== undefined) reply.exitCode = status.exitCode;
  if (status.signal !== undefined) reply.signal = status.signal;
  if (status.stoppedBy !== undefined) reply.stoppedBy = status.stoppedBy;
  if (status.cancelledBy !== undefined) reply.cancelledBy = { ...status.cancelledBy };
  if (status.cancelReason !== undefined) reply.cancelReason = status.cancelReason;
  if (status.progress !== undefined) reply.progress = { text: status.progress.text, at: isoTime(status.progress.at) };
  return reply;
}
