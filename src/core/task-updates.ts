// Every change the server makes to a task, as one typed stream: the task service publishes it, and the
// event log, the metrics and the operator's log subscribe to it. One kind per change; the parts that make a
// change (tracker, family, scheduler) never call subscribers themselves.

import type { CancelRecord, CancelSource, ScheduledCancel } from './store.ts';
import type { TaskStatus } from './task-status.ts';

/** Who made a link, as a cancel through it is logged: the caller's name and address. */
export interface Linker {
  readonly name: string;
  readonly address: string;
}

/** One change to one task (or, for `forgotten`, to many). */
export type TaskUpdate =
  /**
   * A cancel was recorded (asked for now, or a scheduled one fell due); `by` asked, `reason` is theirs. With
   * `repeat`, the task was cancelled already: `record` is that earlier cancel, which stands.
   */
  | { readonly kind: 'cancelled'; readonly record: CancelRecord; readonly by: CancelSource; readonly reason?: string | undefined; readonly repeat?: boolean }
  /** A task entered a new state, once stored (bare last-seen updates are not news). */
  | { readonly kind: 'state'; readonly status: TaskStatus }
  /** A task's progress changed, once stored. */
  | { readonly kind: 'progress'; readonly status: TaskStatus }
  /** A cancel was scheduled (or moved). */
  | { readonly kind: 'scheduled'; readonly schedule: ScheduledCancel }
  /** A scheduled cancel was dropped before it fell due. */
  | { readonly kind: 'unscheduled'; readonly schedule: ScheduledCancel }
  /** A watch of `ids` met an ancestor cancelled before it: they were stopped through the links `linkedBy` made. */
  | { readonly kind: 'stopped_through_parent'; readonly ids: readonly string[]; readonly parent: CancelRecord; readonly linkedBy: Linker }
  /** A cancel reached every descendant the store knows of: `marked` of them, in `ms`. */
  | { readonly kind: 'children_cancelled'; readonly record: CancelRecord; readonly marked: number; readonly ms: number }
  /** A retention pass forgot `count` tasks nobody watched. */
  | { readonly kind: 'forgotten'; readonly count: number };

export type TaskUpdateKind = TaskUpdate['kind'];

/** Hears every task update, in the order they happen, synchronously: it must not block. */
export type TaskUpdateListener = (update: TaskUpdate) => void;

/** The listeners of one stream of updates; a listener that throws is reported and does not stop the others. */
export class TaskUpdates {
  readonly #listeners = new Set<TaskUpdateListener>();
  readonly #onError: (error: unknown) => void;

  constructor(onError: (error: unknown) => void = () => {}) {
    this.#onError = onError;
  }

  /** From now on `listener` hears every update; returns the unsubscribe. */
  subscribe(listener: TaskUpdateListener): () => void {
    // Wrapped, so that subscribing the same function twice gives two independent subscriptions.
    const entry: TaskUpdateListener = (update) => listener(update);
    this.#listeners.add(entry);
    return () => void this.#listeners.delete(entry);
  }

  /** Tells every listener of `update`. */
  publish(update: TaskUpdate): void {
    for (const listener of this.#listeners) {
      try {
        listener(update);
      } catch (error) {
        this.#onError(error);
      }
    }
  }
}
