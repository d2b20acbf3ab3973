// The rows of the PostgreSQL store's tables as the client returns them (bigint columns come back as
// strings), and how each becomes what the store contract speaks.
import type { CancelRecord, ScheduledCancel } from '../../core/store.ts';
import { parseSource } from '../rows.ts';
import type { UnreadableRowTally } from '../unreadable-rows.ts';

export interface CancelRow {
  id: string;
  reason: string | null;
  cancelled_at: string;
  expires_at: string;
  cancelled_by: string | null;
}

export interface ScheduleRow {
  id: string;
  at: string;
  reason: string | null;
  scheduled_by: string | null;
}

export interface DeliveryRow {
  id: string;
  event_id: string;
  endpoint: string;
  body: string;
  created_at: string;
  attempts: number;
  next_at: string;
  due_at: string;
}

export interface EventRow {
  seq: string;
  at: string;
  body: string;
}

/** A cancel row as a record, its asker left out (and counted) when it cannot be read. */
export function fromCancelRow(row: CancelRow, tally: UnreadableRowTally): CancelRecord {
  const base = { id: row.id, cancelledAt: Number(row.cancelled_at), expiresAt: Number(row.expires_at) };
  const record: CancelRecord = row.reason === null ? base : { ...base, reason: row.reason };
  const by = row.cancelled_by === null ? undefined : parseSource(row.cancelled_by, tally, 'cancel', row.id);
  return by === undefined ? record : { ...record, by };
}

/** A schedule row as a scheduled cancel, its asker left out (and counted) when it cannot be read. */
export function fromScheduleRow(row: ScheduleRow, tally: UnreadableRowTally): ScheduledCancel {
  const schedule: ScheduledCancel = row.reason === null ? { id: row.id, at: Number(row.at) } : { id: row.id, at: Number(row.at), reason: row.reason };
  const by = row.scheduled_by === null ? undefined : parseSource(row.scheduled_by, tally, 'schedule', row.id);
  return by === undefined ? schedule : { ...schedule, by };
}
