import type { CancelRecord } from '../core/store.ts';
import type { TaskStatus } from '../core/task-status.ts';
import type { CancelRecordReply, TaskStatusReply } from './schemas.ts';

/** A stored record as it travels: times as ISO strings, no reason key when there is none. */
export function recordToWire(record: CancelRecord): CancelRecordReply {
  const reply: CancelRecordReply = {
    id: record.id,
    cancelledAt: new Date(record.cancelledAt).toISOString(),
    expiresAt: new Date(record.expiresAt).toISOString(),
  };
  if (record.reason !== undefined) reply.reason = record.reason;
  return reply;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A task's status as it travels: times as ISO strings. */
export function statusToWire(status: TaskStatus): TaskStatusReply {
  const reply: TaskStatusReply = {
    state: status.state,
    since: iso(status.since),
    history: status.history.map((h) => ({ state: h.state, at: iso(h.at) })),
  };
  if (status.lastSeenAt !== undefined) reply.lastSeenAt = iso(status.lastSeenAt);
  if (status.worker) reply.worker = { ...status.worker };
  if (status.exitCode !== undefined) reply.exitCode = status.exitCode;
  if (status.signal !== undefined) reply.signal = status.signal;
  return reply;
}
