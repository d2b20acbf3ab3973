import type { Clock, TimerHandle } from '../../src/core/clock.ts';

interface Timer {
  id: number;
  at: number;
  everyMs?: number;
  fn: () => void;
}

/** A clock that moves only when a test says so; timers fire in order inside advance(). */
export class FakeClock implements Clock {
  #now: number;
  #monotonic = 0;
  #nextId = 1;
  readonly #timers = new Map<number, Timer>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  monotonic(): number {
    return this.#monotonic;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.#add({ id: this.#nextId++, at: this.#now + ms, fn });
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.#add({ id: this.#nextId++, at: this.#now + ms, everyMs: ms, fn });
  }

  clearTimer(handle: TimerHandle): void {
    this.#timers.delete((handle as { id: number }).id);
  }

  /** Timers not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const due = [...this.#timers.values()].filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#monotonic += due.at - this.#now;
      this.#now = due.at;
      if (due.everyMs === undefined) this.#timers.delete(due.id);
      else due.at += due.everyMs;
      due.fn();
    }
    this.#monotonic += target - this.#now;
    this.#now = target;
  }

  #add(timer: Timer): TimerHandle {
    this.#timers.set(timer.id, timer);
    return { id: timer.id };
  }
}
