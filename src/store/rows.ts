// Reading rows back the same way in every SQL store (sqlite and PostgreSQL): what a row of the outbox or of
// the parent links becomes in the store contract. PostgreSQL hands back its bigints as strings.
import type { Delivery, ParentLink } from '../core/store.ts';

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
export function linksOfRows(rows: Iterable<{ child: string; parent: string }>): ParentLink[] {
  const byChild = new Map<string, string[]>();
  for (const { child, parent } of rows) {
    const parents = byChild.get(child);
    if (parents) parents.push(parent);
    else byChild.set(child, [parent]);
  }
  return [...byChild].map(([child, parents]) => ({ child, parents }));
}
