// Reading rows back the same way in every store: what a row of the outbox or of the parent links becomes in
// the store contract (PostgreSQL hands back its bigints as strings), and the one policy for a row that cannot
// be read (core/store/unreadable.ts): left out, or the part that cannot be read left out, and counted.
import type { CancelSource, Delivery, ParentLink } from '../core/store.ts';
import { TASK_CHANGES, type TaskEvent } from '../core/task-events.ts';
import { TASK_LIFE_STATES, type TaskStatus } from '../core/task-status.ts';
import type { UnreadableRowTally } from './unreadable-rows.ts';

/** The columns of a delivery row that both SQL stores read. */
export interface DeliveryColumns {
  id: string;
  event_id: string;
  endpoint: string;
  body: string;
  created_at: number | string;
  attempts: number | string;
}

/** A claimed delivery, due again at `nextAt` (the end of its lease). */
export function fromDeliveryRow(row: DeliveryColumns, nextAt: number): Delivery {
  return {
    id: row.id,
    eventId: row.event_id,
    endpoint: row.endpoint,
    body: row.body,
    createdAt: Number(row.created_at),
    attempts: Number(row.attempts),
    nextAt,
  };
}

/** (child, parent) rows as links: each child once, with its parents in the order the rows gave them. */
export function linksOfRows(rows: Iterable<{ child: string; parent: string; linked_by?: string | null }>): ParentLink[] {
  const byChild = new Map<string, { parents: string[]; linkedBy: string | undefined }>();
  for (const { child, parent, linked_by } of rows) {
    const link = byChild.get(child);
    if (link) link.parents.push(parent);
    else byChild.set(child, { parents: [parent], linkedBy: linked_by ?? undefined });
  }
  return [...byChild].map(([child, { parents, linkedBy }]) => (linkedBy === undefined ? { child, parents } : { child, parents, linkedBy }));
}

/** A stored status as JSON; undefined (and counted) when it is not one this taskctl can read. */
export function parseStatus(text: string, tally: UnreadableRowTally, key?: string): TaskStatus | undefined {
  const value = parseJson(text);
  if (!isObject(value) || typeof value.id !== 'string' || typeof value.since !== 'number' || !Array.isArray(value.history)) {
    tally.note({ kind: 'status', ...(key === undefined ? {} : { key }), why: value === undefined ? 'not JSON' : 'not a task status' });
    return undefined;
  }
  if (!(TASK_LIFE_STATES as readonly unknown[]).includes(value.state)) {
    tally.note({ kind: 'status', key: value.id, why: `unknown state ${JSON.stringify(value.state)}` });
    return undefined;
  }
  return value as unknown as TaskStatus;
}

/** Rows of status JSON as statuses, those that cannot be read left out (and counted). */
export function parseStatuses(rows: ReadonlyArray<{ body: string }>, tally: UnreadableRowTally): TaskStatus[] {
  return rows.flatMap((row) => parseStatus(row.body, tally) ?? []);
}

/**
 * A stored CancelSource (who asked for a cancel or schedule); undefined (and counted under `kind`) when it
 * cannot be read: the record or schedule is kept, by nobody known, rather than lost or made up.
 */
export function parseSource(text: string, tally: UnreadableRowTally, kind: 'cancel' | 'schedule', key: string): CancelSource | undefined {
  const value = parseJson(text);
  if (isObject(value) && typeof value.name === 'string' && typeof value.address === 'string' && typeof value.route === 'string')
    return value as unknown as CancelSource;
  tally.note({ kind, key, why: 'who asked cannot be read' });
  return undefined;
}

/** An event stored as its seq, time and the JSON of the rest; undefined (and counted) when the JSON cannot be read. */
export function parseEvent(seq: number, at: number, text: string, tally: UnreadableRowTally): TaskEvent | undefined {
  const value = parseJson(text);
  if (!isObject(value) || typeof value.id !== 'string' || !(TASK_CHANGES as readonly unknown[]).includes(value.change)) {
    tally.note({ kind: 'event', key: String(seq), why: value === undefined ? 'not JSON' : 'not a task event' });
    return undefined;
  }
  return { ...(value as unknown as Omit<TaskEvent, 'seq' | 'at'>), seq, at };
}

/** The row form of an event: the seq and time in columns of their own, the rest as JSON. */
export function eventBody({ seq: _seq, at: _at, ...rest }: TaskEvent): string {
  return JSON.stringify(rest);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
