/**
 * What each file token holds of one capped resource (watches, watched ids, event streams), so that no one
 * token can take more than its share of the cap and starve the others: a worker token cannot hold every
 * watched id through sessions, nor a reader every event stream. Tokens no reload can take away (`--token`,
 * a server without tokens) are the operator's own and are held to the cap alone.
 */
export class TokenShares {
  readonly #held = new Map<string, number>();
  /** The most one token may hold. */
  readonly limit: number;

  /** `share` is the fraction of `cap` one token may hold (0 < share <= 1). */
  constructor(cap: number, share: number) {
    this.limit = Math.max(1, Math.floor(cap * share));
  }

  /** Whether `tokenId` may hold `more` on top of what it holds. */
  fits(tokenId: string | undefined, more: number): boolean {
    return tokenId === undefined || (this.#held.get(tokenId) ?? 0) + more <= this.limit;
  }

  /** What `tokenId` holds now. */
  heldBy(tokenId: string): number {
    return this.#held.get(tokenId) ?? 0;
  }

  /** `tokenId` holds `change` more (or less, when negative). */
  change(tokenId: string | undefined, change: number): void {
    if (tokenId === undefined || change === 0) return;
    const held = (this.#held.get(tokenId) ?? 0) + change;
    if (held > 0) this.#held.set(tokenId, held);
    else this.#held.delete(tokenId);
  }
}
