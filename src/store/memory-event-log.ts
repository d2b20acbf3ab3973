import { type EventWindowBounds, sequenceStart, type TaskEvent, type TaskEventDraft, type TaskEventLog } from '../core/task-events.ts';

/**
 * The event window in this process only: an array of the most recent events, oldest first. Seqs are
 * contiguous, so finding where a reader resumes is arithmetic, not a search.
 */
export class MemoryEventLog implements TaskEventLog {
  #events: TaskEvent[] = [];
  /** Index of the oldest kept event: dropping from the front only moves it, and the array is compacted now and then. */
  #head = 0;
  #last: number;

  constructor(now: number = Date.now()) {
    this.#last = sequenceStart(now);
  }

  async appendEvents(drafts: readonly TaskEventDraft[], keep: number): Promise<TaskEvent[]> {
    const appended = drafts.map((draft) => ({ ...draft, seq: ++this.#last }));
    this.#events.push(...appended);
    this.#drop(Math.max(0, this.#events.length - this.#head - keep));
    return appended;
  }

  async readEvents(after: number, limit: number): Promise<{ events: TaskEvent[] } & EventWindowBounds> {
    const oldest = this.#events[this.#head]?.seq ?? this.#last + 1;
    const from = this.#head + Math.max(0, after + 1 - oldest);
    const events = limit > 0 && from < this.#events.length ? this.#events.slice(from, from + limit) : [];
    return { events, oldest, last: this.#last };
  }

  async trimEvents(before: number, limit: number): Promise<number> {
    let old = 0;
    while (old < limit && this.#head + old < this.#events.length && this.#events[this.#head + old]!.at < before) old++;
    this.#drop(old);
    return old;
  }

  #drop(count: number): void {
    this.#head += count;
    // Compacted once the dropped part is the larger: each event is copied a bounded number of times.
    if (this.#head > 1_024 && this.#head * 2 > this.#events.length) {
      this.#events = this.#events.slice(this.#head);
      this.#head = 0;
    }
  }
}
