import type { CancelRecord } from '../core/store.ts';
import type { CancelRecordReply } from './schemas.ts';

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
