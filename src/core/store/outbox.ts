// Webhook deliveries (the outbox): queued with the change that causes them, so that a restart loses none,
// and claimed for a while by the server that sends one, so that servers sharing a store send it once.

/** One webhook event for one endpoint, waiting to be delivered. Times are milliseconds since the epoch. */
/**
 * How long a store shared by servers remembers the id of a delivery it finished, so that the same event
 * queued late by another server is not sent again: far longer than servers take to see the same change.
 */
export const SENT_MARKER_MS = 3_600_000;

export interface Delivery {
  /** Unique per event and endpoint: the same event queued twice is one delivery. */
  readonly id: string;
  /** The event's id, sent with it, so that receivers can drop a repeat. */
  readonly eventId: string;
  readonly endpoint: string;
  /** The JSON sent, exactly (it is what the signature covers). */
  readonly body: string;
  readonly createdAt: number;
  readonly attempts: number;
  readonly nextAt: number;
}

/** Where webhook deliveries wait. */
export interface OutboxStore {
  /**
   * Queues `deliveries`; one whose id is queued already (the same event, from another server) is kept
   * once. A store shared by servers also drops an id finished within the last SENT_MARKER_MS.
   */
  enqueueDeliveries(deliveries: readonly Delivery[]): Promise<void>;
  /** Up to `limit` deliveries due at `now`, each out of reach of other claims until `now + leaseMs`. */
  claimDeliveries(now: number, leaseMs: number, limit: number): Promise<Delivery[]>;
  /** Forgets delivery `id`: made, or given up. */
  finishDelivery(id: string): Promise<void>;
  /** Puts delivery `id` back in the queue, due at `nextAt` after `attempts` tries. */
  retryDelivery(id: string, attempts: number, nextAt: number): Promise<void>;
  /** How many deliveries are queued. */
  countDeliveries(): Promise<number>;
}
