export interface BackoffPolicy {
  readonly baseMs: number;
  readonly capMs: number;
}

/** Retry delays for the network: from a quarter second up to five seconds. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 250, capMs: 5_000 };

/**
 * The delay before retry number `attempt` (1 for the first retry): exponential, capped, with "equal
 * jitter" (half fixed, half random) so that workers cut off together do not come back in lockstep.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
