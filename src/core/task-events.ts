// Task changes as one ordered sequence of events. Every change the server makes to a task (a state it
// enters, a cancel scheduled or dropped, a progress line) becomes one event with a place in a sequence the
// store keeps; the serve screen, the log, the event stream and (later) webhook senders subscribe to that
// sequence through one interface, TaskEventObserver, and a subscriber that was away resumes from its
// place in it (a webhook sender keeps its cursor, as an SSE client does).

import { type Clock, type TimerHandle, systemClock } from './clock.ts';
import { coalesced } from './coalesce.ts';
import type { CancelRecord, ScheduledCancel } from './store.ts';
import type { EventWindowBounds, TaskEventLog } from './store/event-log.ts';
import type { TaskLifeState, TaskStatus } from './task-status.ts';
import { nextTurn } from './turns.ts';

// The log's contract is part of the store's (core/store/event-log.ts); re-exported for the hub's users.
export { type EventLogListener, type EventWindowBounds, sequenceStart, type TaskEventLog } from './store/event-log.ts';

/** What changed: the task entered a state, a cancel was scheduled for it or its schedule dropped, or it reported progress. */
export type TaskChange = TaskLifeState | 'scheduled' | 'unscheduled' | 'progress';

export const TASK_CHANGES: readonly TaskChange[] = [
  'watching',
  'cancel_requested',
  'cancelled',
  'succeeded',
  'failed',
  'timed_out',
  'stopped',
  'lost',
  'scheduled',
  'unscheduled',
  'progress',
];

/** What the server knew of a task at one moment: the parts GET /v1/tasks/:id is made of. */
export interface TaskSnapshot {
  readonly id: string;
  readonly record?: CancelRecord | undefined;
  readonly schedule?: ScheduledCancel | undefined;
  readonly status?: TaskStatus | undefined;
}

/** A change before the store has given it its place in the sequence. */
export interface TaskEventDraft extends TaskSnapshot {
  readonly change: TaskChange;
  /** When it happened, milliseconds since the epoch. */
  readonly at: number;
  /** Which server recorded it (a random name per server process), so a subscriber can tell its own from others'. */
  readonly origin: string;
}

/** One change of one task, in its place in the store's event sequence. */
export interface TaskEvent extends TaskEventDraft {
  /**
   * Strictly increasing and contiguous (each event is the one before plus 1), shared by every server on
   * one store: the cursor a subscriber resumes from.
   */
  readonly seq: number;
}

/** A subscriber to task events: the serve screen, the log, each event stream, a webhook sender. */
export interface TaskEventObserver {
  /** One event; each arrives once, in seq order. */
  taskEvent(event: TaskEvent): void;
  /**
   * Events were lost to this subscriber (the window moved past them before they were read): what it
   * holds may be stale, and it should look again (list the tasks). The next event follows seq `after`.
   */
  reset?(after: number, why: ResetReason): void;
  /** No more events will come (the server stops). */
  closed?(): void;
}

/** Why a subscriber was reset, and where the window stood. */
export interface ResetReason {
  readonly reason: string;
  readonly oldest?: number;
  readonly last?: number;
}

/** A subscriber that follows from a cursor (see TaskEventHub.follow). */
export interface CursorObserver extends TaskEventObserver {
  /** Following begins after seq `after` (before any event or reset comes). */
  started?(after: number): void;
}

/** How many events the window keeps, and for how long. */
export interface EventWindow {
  readonly maxEvents: number;
  readonly maxAgeMs: number;
}

/** The window's defaults: the last 10,000 events, none older than an hour. */
export const DEFAULT_EVENT_WINDOW: EventWindow = { maxEvents: 10_000, maxAgeMs: 3_600_000 };

/** The parts of a snapshot to look up: those some change of the batch did not bring. */
export interface SnapshotParts {
  readonly record: boolean;
  readonly status: boolean;
  readonly schedule: boolean;
}

export interface TaskEventHubOptions {
  readonly log: TaskEventLog;
  /**
   * What the server knows now of `ids`: records, schedules and statuses, for the parts a change did not
   * bring; only the `wanted` parts are used (a state change brings its status: no need to read it back).
   */
  readonly snapshot: (ids: readonly string[], wanted: SnapshotParts) => Promise<TaskSnapshot[]>;
  readonly clock?: Clock;
  readonly window?: EventWindow;
  /** This server's name in `origin`; random when not given. */
  readonly origin?: string;
  readonly onError?: (error: unknown) => void;
  /** How often events older than the window's age are dropped. */
  readonly trimIntervalMs?: number;
  /** For shared logs: how often to look for events whose notice was lost, besides each notice. */
  readonly pollIntervalMs?: number;
}

// Changes turned into events per store round: a watch on 10,000 fresh ids arrives 500 at a time.
const BATCH = 500;
// Events read per page when catching up.
const PAGE = 500;
const TRIM_STEP = 500;
const MAX_TRIM_STEPS = 20;

interface Pending {
  readonly change: TaskChange;
  readonly id: string;
  readonly at: number;
  readonly known: Partial<TaskSnapshot>;
}

/**
 * Turns task changes into events: completes each with what the server knows of the task, appends it to
 * the store's log, and hands the log's events, in order, to every subscriber. On a store shared by
 * several servers, each server's hub reads the one log, so every subscriber sees every server's events.
 */
export class TaskEventHub {
  readonly origin: string;
  readonly #log: TaskEventLog;
  readonly #snapshot: TaskEventHubOptions['snapshot'];
  readonly #clock: Clock;
  readonly #window: EventWindow;
  readonly #onError: (error: unknown) => void;
  readonly #observers = new Set<TaskEventObserver>();
  readonly #shared: boolean;
  readonly #timers: TimerHandle[] = [];
  #unsubscribe: (() => void) | undefined;
  #pending: Pending[] = [];
  #appending: Promise<void> = Promise.resolve();
  #delivered = 0;
  #started = false;
  #closed = false;

  constructor(options: TaskEventHubOptions) {
    this.#log = options.log;
    this.#snapshot = options.snapshot;
    this.#clock = options.clock ?? systemClock;
    this.#window = options.window ?? DEFAULT_EVENT_WINDOW;
    this.#onError = options.onError ?? (() => {});
    this.origin = options.origin ?? Math.random().toString(36).slice(2, 10);
    this.#shared = this.#log.subscribeEvents !== undefined;
    if (!(this.#window.maxEvents >= 1)) throw new RangeError('the event window must keep at least one event');
    this.#trimIntervalMs = options.trimIntervalMs ?? Math.max(1_000, Math.min(60_000, this.#window.maxAgeMs / 10));
    this.#pollIntervalMs = options.pollIntervalMs ?? 5_000;
  }

  readonly #trimIntervalMs: number;
  readonly #pollIntervalMs: number;

  /** Finds where the log stands and starts following it; events recorded before this wait for it. */
  async start(): Promise<void> {
    if (this.#started) return;
    const { last } = await this.#log.readEvents(Number.MAX_SAFE_INTEGER, 0);
    this.#delivered = last;
    this.#started = true;
    this.#unsubscribe = this.#log.subscribeEvents?.({ appended: () => void this.#pump(), resynced: () => void this.#pump() });
    this.#timers.push(this.#clock.setInterval(() => void this.trim(), this.#trimIntervalMs));
    if (this.#shared) this.#timers.push(this.#clock.setInterval(() => void this.#pump(), this.#pollIntervalMs));
    if (this.#pending.length > 0) this.#flushSoon();
  }

  /** The seq of the last event handed to subscribers: everything up to it is in the log. */
  get delivered(): number {
    return this.#delivered;
  }

  /** The window this hub keeps. */
  get window(): EventWindow {
    return this.#window;
  }

  /**
   * Records that `change` happened to `id`; `known` holds what the change brought (a new status, a
   * schedule), the rest is looked up. Never fails: an event the store cannot take is reported to onError.
   */
  record(change: TaskChange, id: string, known: Partial<TaskSnapshot> = {}): void {
    if (this.#closed) return;
    this.#pending.push({ change, id, at: this.#clock.now(), known });
    if (this.#started && this.#pending.length === 1) this.#flushSoon();
  }

  /** From now on `observer` hears every event delivered; returns the unsubscribe. */
  subscribe(observer: TaskEventObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /**
   * Follows the events after seq `after` (from now when undefined), for a subscriber that keeps a cursor
   * (an event stream client, a webhook sender): first those the log still holds, a page (of `pageEvents`)
   * at a time with `pace()` awaited between pages (default: the next turn), then the live ones, each once and in order.
   * When the log no longer holds what follows `after` (or `after` is from another sequence) the observer
   * is reset instead, and follows from now. Stop it with the returned `stop`; `done` resolves once it is
   * live, and rejects when the log cannot be read while catching up (before `started`, if at the start).
   */
  follow(
    after: number | undefined,
    observer: CursorObserver,
    pace: () => Promise<void> = nextTurn,
    pageEvents: number = PAGE,
  ): { stop: () => void; done: Promise<void> } {
    let cursor = 0;
    let live = false;
    let stopped = false;
    const unsubscribe = this.subscribe({
      taskEvent: (event) => {
        if (!live || event.seq <= cursor) return;
        cursor = event.seq;
        observer.taskEvent(event);
      },
      reset: (at, why) => {
        if (!live) return;
        cursor = at;
        observer.reset?.(at, why);
      },
      closed: () => observer.closed?.(),
    });
    const stop = () => {
      stopped = true;
      unsubscribe();
    };
    const goLive = (why?: ResetReason) => {
      cursor = this.#delivered;
      if (why) observer.reset?.(cursor, why);
      live = true;
    };
    const done = (async () => {
      if (after === undefined) {
        observer.started?.(this.#delivered);
        return goLive();
      }
      const bounds = await this.#log.readEvents(Number.MAX_SAFE_INTEGER, 0);
      if (stopped) return;
      if (after > bounds.last) return goLive({ reason: `event ${after} is not from this server's sequence (it starts over at ${bounds.oldest})`, ...bounds });
      if (after < bounds.oldest - 1) return goLive({ reason: `the events after ${after} are no longer kept (the oldest kept is ${bounds.oldest})`, ...bounds });
      cursor = after;
      observer.started?.(after);
      for (;;) {
        // Caught up with what was delivered live: from here the live events follow on, none missed.
        if (cursor >= this.#delivered) return void (live = true);
        const page = await this.#log.readEvents(cursor, pageEvents);
        if (stopped) return;
        const first = page.events[0];
        if (first === undefined ? page.last > cursor : first.seq !== cursor + 1) {
          return goLive({ reason: `the events after ${cursor} were dropped from the window while catching up`, oldest: page.oldest, last: page.last });
        }
        for (const event of page.events) {
          if (stopped) return;
          cursor = event.seq;
          observer.taskEvent(event);
        }
        // Checked before pausing as well: with changes flowing, every pause lets more be delivered, and a
        // reader that only checked after one might never catch up.
        if (cursor >= this.#delivered) return void (live = true);
        await pace();
        if (stopped) return;
      }
    })();
    return { stop, done };
  }

  /** Events after `after` straight from the log, with where the window stands (for catching up). */
  read(after: number, limit: number = PAGE): Promise<{ readonly events: TaskEvent[] } & EventWindowBounds> {
    return this.#log.readEvents(after, limit);
  }

  /** Resolves once every change recorded so far has reached the log and its subscribers. */
  async settled(): Promise<void> {
    while (this.#pending.length > 0 || this.#inFlight) {
      await this.#appending;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await this.#pump();
  }

  /** Drops events older than the window's age, a step at a time. */
  readonly trim: () => Promise<void> = coalesced(async () => {
    try {
      for (let step = 0; step < MAX_TRIM_STEPS; step++) {
        if (step > 0) await nextTurn();
        const dropped = await this.#log.trimEvents(this.#clock.now() - this.#window.maxAgeMs, TRIM_STEP);
        if (dropped < TRIM_STEP) break;
      }
    } catch (error) {
      this.#onError(error);
    }
  });

  /** Stops following the log and tells every subscriber no more events will come. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe?.();
    for (const timer of this.#timers) this.#clock.clearTimer(timer);
    for (const observer of [...this.#observers]) this.#tell(() => observer.closed?.());
    this.#observers.clear();
  }

  #inFlight = false;

  #flushSoon(): void {
    // Changes made in the same turn (a step of 500 statuses) become one batch.
    queueMicrotask(() => {
      this.#appending = this.#appending.then(() => this.#flush());
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0 && !this.#closed) {
      const batch = this.#pending.splice(0, BATCH);
      this.#inFlight = true;
      try {
        const drafts = await this.#drafts(batch);
        const appended = await this.#log.appendEvents(drafts, this.#window.maxEvents);
        // This server alone writes an unshared log, in order: what it appended is what follows.
        if (!this.#shared && appended[0]?.seq === this.#delivered + 1) this.#deliver(appended);
        else await this.#pump();
      } catch (error) {
        this.#onError(error);
      } finally {
        this.#inFlight = false;
      }
    }
  }

  /**
   * The events `batch` makes, each completed with what the server knows now of its task. Built field by
   * field (the same keys in the same order as a literal with the parts present), without a closure or a
   * spread per event: one runs for every cancel.
   */
  async #drafts(batch: readonly Pending[]): Promise<TaskEventDraft[]> {
    const single = batch.length === 1 ? batch[0]!.id : undefined;
    const ids = single !== undefined ? [single] : [...new Set(batch.map((p) => p.id))];
    const snapshots = await this.#snapshot(ids, {
      record: batch.some((p) => !('record' in p.known)),
      status: batch.some((p) => !('status' in p.known)),
      schedule: batch.some((p) => !('schedule' in p.known)),
    });
    const looked = single !== undefined ? undefined : new Map(snapshots.map((s) => [s.id, s]));
    const drafts: TaskEventDraft[] = [];
    for (const { change, id, at, known } of batch) {
      const current = looked === undefined ? (snapshots[0]?.id === id ? snapshots[0] : undefined) : looked.get(id);
      const draft: { -readonly [K in keyof TaskEventDraft]: TaskEventDraft[K] } = { change, at, origin: this.origin, id };
      const record = 'record' in known ? known.record : current?.record;
      if (record) draft.record = record;
      const schedule = 'schedule' in known ? known.schedule : current?.schedule;
      if (schedule) draft.schedule = schedule;
      const status = 'status' in known ? known.status : current?.status;
      if (status) draft.status = status;
      drafts.push(draft);
    }
    return drafts;
  }

  /** Reads what the log holds beyond what was delivered, and delivers it; one pump at a time. */
  readonly #pump: () => Promise<void> = coalesced(async () => {
    if (!this.#started || this.#closed) return;
    try {
      for (let page = 0; ; page++) {
        if (page > 0) await nextTurn();
        const { events, oldest, last } = await this.#log.readEvents(this.#delivered, PAGE);
        if (this.#closed) return;
        const first = events[0];
        // The window moved past events this server never read, or the log started over: say so.
        if (first !== undefined ? first.seq !== this.#delivered + 1 : last !== this.#delivered && (oldest > this.#delivered + 1 || last < this.#delivered)) {
          const after = first !== undefined ? first.seq - 1 : last;
          this.#delivered = after;
          const why: ResetReason = { reason: 'this server fell behind the event window', oldest, last };
          for (const observer of [...this.#observers]) this.#tell(() => observer.reset?.(after, why));
        }
        this.#deliver(events);
        if (events.length < PAGE) return;
      }
    } catch (error) {
      this.#onError(error);
    }
  });

  #deliver(events: readonly TaskEvent[]): void {
    for (const event of events) {
      if (event.seq <= this.#delivered) continue;
      this.#delivered = event.seq;
      for (const observer of this.#observers) this.#tell(() => observer.taskEvent(event));
    }
  }

  #tell(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.#onError(error);
    }
  }
}
