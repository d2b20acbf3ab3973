/** A timer handle as the clock hands it out; only its clock knows what is inside. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

/** Where the core gets time from, so tests can move time by hand instead of sleeping. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** A monotonic reading in fractional milliseconds, for measuring how long something took. */
  monotonic(): number;
  /** Runs `fn` once after `ms`; the timer never keeps the process alive on its own. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Runs `fn` every `ms`; the timer never keeps the process alive on its own. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** The real clock: Date.now and unref'd Node timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(fn, ms) {
    return setTimeout(fn, ms).unref();
  },
  setInterval(fn, ms) {
    return setInterval(fn, ms).unref();
  },
  clearTimer(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
