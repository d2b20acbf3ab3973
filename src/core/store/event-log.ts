// The event log: a bounded window of the most recent task events, so a subscriber that was away can resume.
// The event hub (task-events.ts) writes and reads it; every store keeps one.
import type { TaskEvent, TaskEventDraft } from '../task-events.ts';

/** Where the kept window of events stands. */
export interface EventWindowBounds {
  /** The seq of the oldest event kept; `last + 1` when none is kept. */
  readonly oldest: number;
  /** The seq of the newest event ever appended (or where the sequence starts, before the first). */
  readonly last: number;
}

/** Hears of events appended by any server sharing the store. */
export interface EventLogListener {
  /** Some server appended events. */
  appended(): void;
  /** Notices may have been missed (a dropped subscription came back): look again. */
  resynced(): void;
}

/**
 * Where events are kept: a bounded window of the most recent ones, so a subscriber that was away can
 * resume. Like every store call, none holds the event loop for more than a few milliseconds.
 */
export interface TaskEventLog {
  /**
   * Appends `events` in order, giving each the next seq, and drops the oldest events beyond the `keep`
   * most recent. Resolves with the events as stored.
   */
  appendEvents(events: readonly TaskEventDraft[], keep: number): Promise<TaskEvent[]>;
  /**
   * Up to `limit` events after seq `after`, oldest first, with where the window stands. An event that
   * cannot be read is left out (see UnreadableRows): a reader sees a gap in the seqs there.
   */
  readEvents(after: number, limit: number): Promise<{ readonly events: TaskEvent[] } & EventWindowBounds>;
  /** Drops up to `limit` of the oldest events that happened before `before`; resolves with how many went. */
  trimEvents(before: number, limit: number): Promise<number>;
  /** For logs shared between servers: tells `listener` when any of them appended. Returns an unsubscribe. */
  subscribeEvents?(listener: EventLogListener): () => void;
}

/**
 * Where a sequence starts in a log created now: at the time in microseconds. A log made afresh (a memory
 * store restarted, a Redis that lost its data) so starts above any seq a client could still hold from an
 * earlier one, and that client is told to re-list rather than handed unrelated events.
 */
export function sequenceStart(nowMs: number): number {
  return Math.floor(nowMs) * 1_000;
}
