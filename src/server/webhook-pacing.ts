import { type BackoffPolicy, backoffDelay } from '../core/backoff.ts';

/** How hard one endpoint may be pushed. */
export interface PacingPolicy {
  /** Tries in flight at once while the endpoint is healthy (one at a time while it is failing). */
  readonly concurrency: number;
  /** Tries started per second, at most; bursts of up to `concurrency`. */
  readonly triesPerSecond: number;
  /** How long the endpoint rests after failing, by failures in a row. */
  readonly backoff: BackoffPolicy;
}

/**
 * The pace of one endpoint, pure (time is passed in): how many tries run, when the next may start, and
 * when work it cannot take now should come back. Each endpoint has its own, so one that is slow or down
 * never holds back another's deliveries.
 *
 * A failure makes the whole endpoint rest (with the policy's jittered, growing backoff) and then probe
 * with one try at a time until one succeeds: with an endpoint down, a flood of events costs one try per
 * rest, not one per event.
 */
export class EndpointPacing {
  readonly #policy: PacingPolicy;
  readonly #random: () => number;
  #inFlight = 0;
  #tokens: number;
  #refilledAt: number;
  #failuresInARow = 0;
  #restingUntil = 0;
  // The next free slot for deferred work: slots are spaced at the tries-per-second rate, so a backlog
  // comes back no faster than it can be sent.
  #nextSlotAt = 0;

  constructor(policy: PacingPolicy, now: number, random: () => number = Math.random) {
    this.#policy = policy;
    this.#random = random;
    this.#tokens = policy.concurrency;
    this.#refilledAt = now;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Whether the endpoint is resting or probing after a failure. */
  get failing(): boolean {
    return this.#failuresInARow > 0;
  }

  /** How long the endpoint still rests after a failure (0: not resting). */
  restingFor(now: number): number {
    return Math.max(0, this.#restingUntil - now);
  }

  /** Tries that may run at once now: all of them while healthy, one while probing. */
  get limit(): number {
    return this.failing ? 1 : this.#policy.concurrency;
  }

  /** Nothing in flight, nothing failing and no deferred slot ahead: the endpoint's state can be dropped. */
  idle(now: number): boolean {
    return this.#inFlight === 0 && !this.failing && this.#nextSlotAt <= now;
  }

  /**
   * 0 when a try may start now (and then it counts as started), otherwise how many ms until one might:
   * the rest's end or the next token. Infinity while the tries in flight fill the limit (a finish says
   * when).
   */
  start(now: number): number {
    if (now < this.#restingUntil) return this.#restingUntil - now;
    if (this.#inFlight >= this.limit) return Number.POSITIVE_INFINITY;
    this.#refill(now);
    if (this.#tokens < 1) return Math.ceil(((1 - this.#tokens) * 1_000) / this.#policy.triesPerSecond);
    this.#tokens -= 1;
    this.#inFlight++;
    return 0;
  }

  /** A try ended. A failure starts (or, from a probe, lengthens) the endpoint's rest; a success ends it. */
  finished(now: number, succeeded: boolean): void {
    this.#inFlight--;
    if (succeeded) {
      this.#failuresInARow = 0;
      this.#restingUntil = 0;
      return;
    }
    // Tries that were already in flight when the rest began do not lengthen it again.
    if (now < this.#restingUntil) return;
    this.#failuresInARow++;
    this.#restingUntil = now + backoffDelay(this.#failuresInARow, this.#policy.backoff, this.#random);
  }

  /**
   * When a delivery this endpoint cannot take now should come due again: the next slot once it has
   * rested, at least `notBefore`. Each call books a slot.
   */
  deferredUntil(now: number, notBefore = now): number {
    const slot = Math.max(now, notBefore, this.#restingUntil, this.#nextSlotAt);
    this.#nextSlotAt = slot + 1_000 / this.#policy.triesPerSecond;
    return Math.ceil(slot);
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#refilledAt);
    this.#tokens = Math.min(this.#policy.concurrency, this.#tokens + (elapsed * this.#policy.triesPerSecond) / 1_000);
    this.#refilledAt = now;
  }
}
