import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type BackoffPolicy, backoffDelay } from '../core/backoff.ts';
import { type Clock, systemClock, type TimerHandle } from '../core/clock.ts';
import { coalesced } from '../core/coalesce.ts';
import type { CancelStore, Delivery } from '../core/store.ts';
import type { TaskEvent, TaskEventObserver } from '../core/task-events.ts';
import type { TaskLifeState } from '../core/task-status.ts';
import { VERSION } from '../protocol/build-info.ts';
import { taskReplyOf } from '../protocol/events.ts';
import { isoTime } from '../protocol/wire.ts';

/** The headers of a delivery. The signature covers `<id>.<timestamp>.<body>` (see the README). */
export const WEBHOOK_HEADERS = {
  id: 'taskctl-webhook-id',
  timestamp: 'taskctl-webhook-timestamp',
  signature: 'taskctl-webhook-signature',
} as const;

export interface WebhookConfig {
  /** http:// or https:// URLs, each sent every event. */
  readonly endpoints: readonly string[];
  /** Signs every delivery (HMAC-SHA256). */
  readonly secret: string;
  readonly events: ReadonlySet<TaskLifeState>;
  /** How long a delivery is retried before it is given up. */
  readonly retryMs: number;
  /** Between tries of one delivery: from 1s, doubling, capped at an hour, unless told otherwise. */
  readonly backoff?: BackoffPolicy;
}

/** What the webhooks tell the operator (the log, the serve screen). */
export interface WebhookObserver {
  /** `endpoint` as endpointLabel shows it. */
  delivered?(endpoint: string): void;
  /** A try failed; another follows unless `givenUp`. */
  failed?(endpoint: string, error: string, givenUp: boolean): void;
}

/**
 * An endpoint as logs and screens show it: scheme, host and path. Receivers often take a secret in the
 * query or as user:password, and those stay out of anything an operator might paste into a ticket.
 */
export function endpointLabel(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '(bad URL)';
  }
}

export interface WebhookOptions {
  readonly store: CancelStore;
  /**
   * This server's name in task events (TaskEvent.origin). Servers sharing a store each hear every
   * server's events; each queues only its own.
   */
  readonly origin: string;
  readonly config: WebhookConfig;
  readonly clock?: Clock;
  readonly observer?: WebhookObserver;
  readonly onError?: (error: unknown) => void;
  /** Counted: made, failed (and retried), dropped (given up). */
  readonly onOutcome?: (outcome: 'delivered' | 'failed' | 'dropped') => void;
}

// An endpoint has this long to answer; its answer is read no further than this (it is not used).
const DELIVERY_TIMEOUT_MS = 10_000;
const MAX_ANSWER_BYTES = 64 * 1024;
// A claimed delivery is out of other servers' reach for this long: more than a try can take.
const CLAIM_LEASE_MS = 3 * DELIVERY_TIMEOUT_MS;
// Deliveries claimed and sent at once, and how often the queue is looked at for due ones.
const DELIVERIES_PER_ROUND = 16;
const POLL_INTERVAL_MS = 1_000;
const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 3_600_000 };

/**
 * Tells other systems when a task ends or is lost: each task event of a chosen state that this server
 * made is queued in the store's outbox for each endpoint (so a restart loses none queued), and a small loop sends what is due,
 * retrying failures with capped, jittered backoff until the retry window closes. At least once: an event
 * id lets a receiver drop a repeat.
 */
export class Webhooks implements TaskEventObserver {
  readonly #store: CancelStore;
  readonly #origin: string;
  readonly #config: WebhookConfig;
  readonly #clock: Clock;
  readonly #observer: WebhookObserver;
  readonly #onError: (error: unknown) => void;
  readonly #onOutcome: (outcome: 'delivered' | 'failed' | 'dropped') => void;
  readonly #backoff: BackoffPolicy;
  readonly #timer: TimerHandle;
  readonly #inFlight = new Set<Promise<void>>();
  // Cuts the tries in flight when the server stops.
  readonly #stopping = new AbortController();
  #closed = false;

  constructor(options: WebhookOptions) {
    this.#store = options.store;
    this.#origin = options.origin;
    this.#config = options.config;
    this.#clock = options.clock ?? systemClock;
    this.#observer = options.observer ?? {};
    this.#onError = options.onError ?? (() => {});
    this.#onOutcome = options.onOutcome ?? (() => {});
    this.#backoff = options.config.backoff ?? DEFAULT_BACKOFF;
    this.#timer = this.#clock.setInterval(() => void this.sendDue(), POLL_INTERVAL_MS);
    // Deliveries left queued by an earlier run go out now.
    void this.sendDue();
  }

  /** A task changed: when this server made the change and it is one of the chosen states, queue the event for every endpoint. */
  taskEvent(event: TaskEvent): void {
    if (this.#closed || event.origin !== this.#origin || !this.#config.events.has(event.change as TaskLifeState)) return;
    this.#enqueue(event).catch(this.#onError);
  }

  async #enqueue(event: TaskEvent): Promise<void> {
    const now = this.#clock.now();
    // The same change made by two servers sharing a store (both see a task go lost) is one event: its id
    // comes from the change itself, not from either server's event sequence.
    const at = event.status?.since ?? event.at;
    const eventId = digest(`${event.id}\n${event.change}\n${at}`).slice(0, 32);
    // The task as GET /v1/tasks/<id> shows it, less its parents and children (as an event stream's is).
    const body = JSON.stringify({ id: eventId, type: `task.${event.change}`, at: isoTime(at), task: taskReplyOf(event) });
    const deliveries: Delivery[] = this.#config.endpoints.map((endpoint) => ({
      id: `${eventId}.${digest(endpoint).slice(0, 12)}`,
      eventId,
      endpoint,
      body,
      createdAt: now,
      attempts: 0,
      nextAt: now,
    }));
    await this.#store.enqueueDeliveries(deliveries);
    await this.sendDue();
  }

  /** Sends every delivery due now. Never runs twice at once. */
  readonly sendDue: () => Promise<void> = coalesced(async () => {
    try {
      while (!this.#closed) {
        const due = await this.#store.claimDeliveries(this.#clock.now(), CLAIM_LEASE_MS, DELIVERIES_PER_ROUND);
        await Promise.all(due.map((delivery) => this.#track(this.#deliver(delivery))));
        if (due.length < DELIVERIES_PER_ROUND) return;
      }
    } catch (error) {
      this.#onError(error);
    }
  });

  /**
   * Stops sending. Tries in flight are cut and put back in the queue, due at once and not counted as a
   * try, so the next start (or another server sharing the store) sends them. Resolves once they are back.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#clock.clearTimer(this.#timer);
    this.#stopping.abort();
    await Promise.all([...this.#inFlight]);
  }

  #track(delivery: Promise<void>): Promise<void> {
    const tracked = delivery.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
    return tracked;
  }

  async #deliver(delivery: Delivery): Promise<void> {
    const problem = await post(delivery, this.#config.secret, this.#clock.now(), this.#stopping.signal);
    if (this.#stopping.signal.aborted && problem !== undefined) {
      await this.#store.retryDelivery(delivery.id, delivery.attempts, this.#clock.now());
      return;
    }
    if (problem === undefined) {
      await this.#store.finishDelivery(delivery.id);
      this.#onOutcome('delivered');
      this.#observer.delivered?.(endpointLabel(delivery.endpoint));
      return;
    }
    const attempts = delivery.attempts + 1;
    const nextAt = this.#clock.now() + backoffDelay(attempts, this.#backoff);
    const givenUp = nextAt - delivery.createdAt > this.#config.retryMs;
    if (givenUp) await this.#store.finishDelivery(delivery.id);
    else await this.#store.retryDelivery(delivery.id, attempts, nextAt);
    this.#onOutcome(givenUp ? 'dropped' : 'failed');
    this.#observer.failed?.(endpointLabel(delivery.endpoint), problem, givenUp);
  }
}

const digest = (text: string) => createHash('sha256').update(text).digest('hex');

/** The signature a delivery carries: HMAC-SHA256 over "<event id>.<unix seconds>.<body>", in hex. */
export function webhookSignature(secret: string, eventId: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${eventId}.${timestamp}.${body}`).digest('hex')}`;
}

/**
 * POSTs one delivery; resolves with undefined when the endpoint answered 2xx, or with why not. A redirect
 * is a failure, never followed (the endpoint is the operator's choice, and nothing else); the answer's
 * body is read no further than a small cap.
 */
function post(delivery: Delivery, secret: string, now: number, signal: AbortSignal): Promise<string | undefined> {
  const timestamp = Math.floor(now / 1_000);
  const url = new URL(delivery.endpoint);
  const http = process.getBuiltinModule(url.protocol === 'https:' ? 'node:https' : 'node:http') as typeof import('node:http');
  return new Promise((resolve) => {
    let settled = false;
    const settle = (problem: string | undefined) => {
      if (settled) return;
      settled = true;
      resolve(problem);
    };
    const request = http.request(
      url,
      {
        method: 'POST',
        timeout: DELIVERY_TIMEOUT_MS,
        signal,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(delivery.body),
          'user-agent': `taskctl/${VERSION}`,
          [WEBHOOK_HEADERS.id]: delivery.eventId,
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.signature]: webhookSignature(secret, delivery.eventId, timestamp, delivery.body),
        },
      },
      (answer: IncomingMessage) => {
        const status = answer.statusCode ?? 0;
        let read = 0;
        answer.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) answer.destroy();
        });
        answer.on('error', () => {});
        answer.on('close', () => settle(status >= 200 && status < 300 ? undefined : status >= 300 && status < 400 ? `answered with a redirect (HTTP ${status}), which is not followed` : `answered HTTP ${status}`));
      },
    );
    request.on('timeout', () => {
      request.destroy();
      settle(`no answer within ${DELIVERY_TIMEOUT_MS / 1_000}s`);
    });
    request.on('error', (error: NodeJS.ErrnoException) => settle(error.code ? `cannot reach it (${error.code})` : error.message));
    request.end(delivery.body);
  });
}
