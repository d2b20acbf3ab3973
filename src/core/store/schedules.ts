// Scheduled cancels: a cancel to be made later (`cancel ID --after 2h`), kept until it is made or dropped.
import type { CancelSource } from './records.ts';

/** A cancel to be made at a later time. */
export interface ScheduledCancel {
  readonly id: string;
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly reason?: string;
  /** Who scheduled it; the cancel made when it comes due is recorded as theirs. */
  readonly by?: CancelSource;
}

/** Where scheduled cancels live. */
export interface ScheduleStore {
  /** Stores (or moves) a scheduled cancel of `schedule.id`; durable once resolved. */
  schedule(schedule: ScheduledCancel): Promise<void>;
  /** The scheduled cancels among `ids`. */
  loadSchedules(ids: readonly string[]): Promise<ScheduledCancel[]>;
  /** Up to `limit` scheduled cancels in id order, those after `after`: work in proportion to the page. */
  listSchedules(after: string | undefined, limit: number): Promise<ScheduledCancel[]>;
  /** Scheduled cancels due at `now`, soonest first. */
  dueSchedules(now: number, limit: number): Promise<ScheduledCancel[]>;
  /** Forgets the scheduled cancel of `id` (it was made, or dropped). */
  unschedule(id: string): Promise<void>;
}
