// The rows of the PostgreSQL store's tables as the client returns them (bigint columns come back as
// strings), and how each becomes what the store contract speaks.
import type { CancelRecord, CancelSource, ScheduledCancel } from '../../core/store.ts';
import type { TaskEvent } from '../../core/task-events.ts';
import type { TaskStatus } from '../../core/task-status.ts';

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

export function fromCancelRow(row: CancelRow): CancelRecord {
  const base = { id: row.id, cancelledAt: Number(row.cancelled_at), expiresAt: Number(row.expires_at) };
  const record: CancelRecord = row.reason === null ? base : { ...base, reason: row.reason };
  return row.cancelled_by === null ? record : { ...record, by: parseSource(row.cancelled_by) };
}

export function fromScheduleRow(row: ScheduleRow): ScheduledCancel {
  const schedule: ScheduledCancel = row.reason === null ? { id: row.id, at: Number(row.at) } : { id: row.id, at: Number(row.at), reason: row.reason };
  return row.scheduled_by === null ? schedule : { ...schedule, by: parseSource(row.scheduled_by) };
}

/** A stored CancelSource; a value that does not parse (a hand-edited row) reads as unknown rather than failing every look-up. */
export function parseSource(text: string): CancelSource {
  try {
    return JSON.parse(text) as CancelSource;
  } catch {
    return { name: 'unknown', address: 'unknown', route: 'v1' };
  }
}

/** Rows whose body cannot be read (a hand-edited row) are left out rather than failing the whole answer. */
export function parseBodies(rows: ReadonlyArray<{ body: string }>): TaskStatus[] {
  return rows.flatMap((row) => {
    try {
      return [JSON.parse(row.body) as TaskStatus];
    } catch {
      return [];
    }
  });
}

/** The row form of an event: the seq and time in columns of their own, the rest as JSON. */
export function eventBody({ seq: _seq, at: _at, ...rest }: TaskEvent): string {
  return JSON.stringify(rest);
}

/** Rows whose body cannot be read become events that say only what changed, rather than a hole in the sequence. */
export function parseEvent(row: EventRow): TaskEvent {
  try {
    return { ...(JSON.parse(row.body) as Omit<TaskEvent, 'seq' | 'at'>), seq: Number(row.seq), at: Number(row.at) };
  } catch {
    return { seq: Number(row.seq), at: Number(row.at), change: 'progress', id: 'unknown', origin: 'unknown' };
  }
}

