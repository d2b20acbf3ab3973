import type { Canceler } from './canceler.ts';
import { coalesced } from './coalesce.ts';
import { type Clock, type TimerHandle, systemClock } from './clock.ts';
import type { CancelRecord, CancelSource, CancelStore, ScheduledCancel } from './store.ts';
import { checkTaskId } from './task-id.ts';
import type { TaskUpdate } from './task-updates.ts';

/** The updates the scheduler makes: a cancel scheduled, or dropped before it fell due. */
export type SchedulerUpdate = Extract<TaskUpdate, { kind: 'scheduled' | 'unscheduled' }>;

export interface CancelSchedulerOptions {
  readonly store: CancelStore;
  readonly canceler: Canceler;
  readonly clock?: Clock;
  /** How often due cancels are looked for: the most a scheduled cancel can be late. */
  readonly intervalMs?: number;
  readonly onError?: (error: unknown) => void;
  /** Told of each scheduled cancel once made. */
  readonly onFired?: (record: CancelRecord, schedule: ScheduledCancel) => void;
  /** Told of each cancel scheduled (or moved), and of each dropped before it was made, once stored. */
  readonly onUpdate?: (update: SchedulerUpdate) => void;
}

/**
 * Cancels made at a given time (`cancel --after 2h`, a worker's deadline). Schedules live in the store,
 * so they survive a restart; one that fell due while the server was down is made at start.
 */
export class CancelScheduler {
  readonly #store: CancelStore;
  readonly #canceler: Canceler;
  readonly #clock: Clock;
  readonly #onError: (error: unknown) => void;
  readonly #onFired: (record: CancelRecord, schedule: ScheduledCancel) => void;
  readonly #onUpdate: (update: SchedulerUpdate) => void;
  readonly #timer: TimerHandle;
  /** Makes every cancel that is due. Never runs twice at once. */
  readonly fireDue: () => Promise<void> = coalesced(() => this.#fire());

  constructor(options: CancelSchedulerOptions) {
    this.#store = options.store;
    this.#canceler = options.canceler;
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ?? (() => {});
    this.#onFired = options.onFired ?? (() => {});
    this.#onUpdate = options.onUpdate ?? (() => {});
    this.#timer = this.#clock.setInterval(() => void this.fireDue(), options.intervalMs ?? 250);
    void this.fireDue();
  }

  /** Schedules (or moves) the cancel of `id` to `at`; the cancel is recorded as made `by` whoever scheduled it. */
  async schedule(id: string, at: number, reason?: string, by?: CancelSource): Promise<ScheduledCancel> {
    checkTaskId(id);
    const schedule: ScheduledCancel = { id, at, ...(reason === undefined ? {} : { reason }), ...(by === undefined ? {} : { by }) };
    await this.#store.schedule(schedule);
    this.#onUpdate({ kind: 'scheduled', schedule });
    return schedule;
  }

  /** Up to `limit` scheduled cancels in id order, those after `after`. */
  list(after: string | undefined, limit: number): Promise<ScheduledCancel[]> {
    return this.#store.listSchedules(after, limit);
  }

  /** Drops the cancel scheduled for `id` (its task ended first, or an operator said so); resolves with it, if there was one. */
  async drop(id: string): Promise<ScheduledCancel | undefined> {
    const [schedule] = await this.#store.loadSchedules([id]);
    if (schedule === undefined) return undefined;
    await this.#store.unschedule(id);
    this.#onUpdate({ kind: 'unscheduled', schedule });
    return schedule;
  }

  /** The cancels scheduled for `ids` (those that have one). */
  find(ids: readonly string[]): Promise<ScheduledCancel[]> {
    return this.#store.loadSchedules(ids);
  }

  close(): void {
    this.#clock.clearTimer(this.#timer);
  }

  async #fire(): Promise<void> {
    try {
      for (;;) {
        const due = await this.#store.dueSchedules(this.#clock.now(), 100);
        for (const schedule of due) {
          // Cancel first, then forget the schedule: a crash in between repeats an idempotent cancel.
          const record = await this.#canceler.cancel(schedule.id, {
            ...(schedule.reason === undefined ? {} : { reason: schedule.reason }),
            ...(schedule.by === undefined ? {} : { by: schedule.by }),
          });
          await this.#store.unschedule(schedule.id);
          this.#onFired(record, schedule);
        }
        if (due.length < 100) return;
      }
    } catch (error) {
      this.#onError(error);
    }
  }
}
