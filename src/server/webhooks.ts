import { createHash, createHmac } from 'node:crypto';
import type { Agent as HttpAgent } from 'node:http';
import { type BackoffPolicy, backoffDelay } from '../core/backoff.ts';
import { type Clock, systemClock, type TimerHandle } from '../core/clock.ts';
import { coalesced } from '../core/coalesce.ts';
import type { CancelStore, Delivery } from '../core/store.ts';
import type { TaskEvent, TaskEventObserver } from '../core/task-events.ts';
import type { TaskLifeState } from '../core/task-status.ts';
import { agentFor, discard, drainCapped, send } from '../client/http.ts';
import { VERSION } from '../protocol/build-info.ts';
import { taskReplyOf } from '../protocol/events.ts';
import { isoTime } from '../protocol/wire.ts';
import { EndpointPacing, type PacingPolicy } from './webhook-pacing.ts';

/** The headers of a delivery. The signature covers `<id>.<timestamp>.<body>` (see docs/webhooks.md). */
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
  /** Between tries of one delivery, and how long a failing endpoint rests: from 1s, doubling, capped at an hour, unless told otherwise. */
  readonly backoff?: BackoffPolicy;
  /** How long one try may take, from connecting to the answer's last byte (10s unless told otherwise). */
  readonly deadlineMs?: number;
  /** Tries in flight per endpoint at once (8 unless told otherwise). */
  readonly concurrency?: number;
  /** Tries started per endpoint per second, at most (50 unless told otherwise). */
  readonly triesPerSecond?: number;
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

/** What a try came to, as counted: made, failed (and retried), dropped (given up), and, besides, timed out. */
export type WebhookOutcome = 'delivered' | 'failed' | 'dropped' | 'timed_out';

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
  /** Counted: each try ends delivered, failed or dropped; one cut at the deadline is also timed_out. */
  readonly onOutcome?: (outcome: WebhookOutcome) => void;
}

const DEFAULT_DEADLINE_MS = 10_000;
const DEFAULT_CONCURRENCY = 8;
const DEFAULT_TRIES_PER_SECOND = 50;
// The answer is read no further than this (it is not used).
const MAX_ANSWER_BYTES = 64 * 1024;
// A claimed delivery is out of other servers' reach for this long: more than a try, and the wait for a
// free slot of its endpoint, can take.
const CLAIM_LEASE_MS = 60_000;
// Deliveries claimed at once, and how often the queue is looked at for due ones.
const DELIVERIES_PER_ROUND = 16;
const POLL_INTERVAL_MS = 1_000;
const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 3_600_000 };

/** One endpoint's pace and the claimed deliveries waiting for a free slot of it (at most its limit). */
interface Lane {
  readonly endpoint: string;
  readonly pacing: EndpointPacing;
  readonly waiting: Delivery[];
  // Set while the lane waits for a token or the end of a rest to start what waits.
  timer: TimerHandle | undefined;
  // Set while it rests: its end looks at the queue again at once, not at the next poll.
  wake: TimerHandle | undefined;
}

/**
 * Tells other systems when a task ends or is lost: each task event of a chosen state that this server
 * made is queued in the store's outbox for each endpoint (so a restart loses none queued), and a small
 * loop sends what is due. Each endpoint has its own lane (see EndpointPacing): a bounded number of tries
 * at once, a cap on tries per second, a rest with jittered backoff after a failure, and a hard deadline
 * per try, so one slow or failing endpoint never delays another's deliveries. What a lane cannot take now
 * goes back to the outbox, due at its next slot, so memory holds no more than a few deliveries per
 * endpoint however long the queue. At least once: an event id lets a receiver drop a repeat.
 */
export class Webhooks implements TaskEventObserver {
  readonly #store: CancelStore;
  readonly #origin: string;
  readonly #config: WebhookConfig;
  readonly #clock: Clock;
  readonly #observer: WebhookObserver;
  readonly #onError: (error: unknown) => void;
  readonly #onOutcome: (outcome: WebhookOutcome) => void;
  readonly #backoff: BackoffPolicy;
  readonly #pacing: PacingPolicy;
  readonly #deadlineMs: number;
  readonly #timer: TimerHandle;
  readonly #lanes = new Map<string, Lane>();
  // One keep-alive agent per endpoint, kept while the server runs (lanes come and go with the traffic), so
  // tries to a receiver reuse its connections; at most the endpoint's concurrency open at once.
  readonly #agents = new Map<string, HttpAgent>();
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
    this.#pacing = {
      concurrency: options.config.concurrency ?? DEFAULT_CONCURRENCY,
      triesPerSecond: options.config.triesPerSecond ?? DEFAULT_TRIES_PER_SECOND,
      backoff: this.#backoff,
    };
    this.#deadlineMs = options.config.deadlineMs ?? DEFAULT_DEADLINE_MS;
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

  /**
   * Claims every delivery due now and hands each to its endpoint's lane, or back to the outbox for the
   * lane's next slot. Never waits for a try, so a slow endpoint holds up nothing. Never runs twice at once.
   */
  readonly sendDue: () => Promise<void> = coalesced(async () => {
    try {
      while (!this.#closed) {
        const due = await this.#store.claimDeliveries(this.#clock.now(), CLAIM_LEASE_MS, DELIVERIES_PER_ROUND);
        await Promise.all(due.map((delivery) => this.#admit(delivery)));
        if (due.length < DELIVERIES_PER_ROUND) break;
      }
      this.#forgetIdleLanes();
    } catch (error) {
      this.#onError(error);
    }
  });

  /**
   * Stops sending. Tries in flight are cut and, with the deliveries waiting for a slot, put back in the
   * queue, due at once and not counted as a try, so the next start (or another server sharing the store)
   * sends them. Resolves once they are back.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#clock.clearTimer(this.#timer);
    this.#stopping.abort();
    // A round under way finishes first: what it claims after this point goes straight back (see #admit).
    await this.sendDue();
    const now = this.#clock.now();
    const waiting = [...this.#lanes.values()].flatMap((lane) => {
      for (const timer of [lane.timer, lane.wake]) if (timer) this.#clock.clearTimer(timer);
      return lane.waiting.splice(0);
    });
    await Promise.all([...this.#inFlight, ...waiting.map((delivery) => this.#store.retryDelivery(delivery.id, delivery.attempts, now))]);
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }

  async #admit(delivery: Delivery): Promise<void> {
    const now = this.#clock.now();
    if (this.#closed) {
      await this.#store.retryDelivery(delivery.id, delivery.attempts, now);
      return;
    }
    // A delivery put off by a resting endpoint may reach the end of its window without a try of its own.
    if (now - delivery.createdAt > this.#config.retryMs) {
      await this.#store.finishDelivery(delivery.id);
      this.#onOutcome('dropped');
      this.#observer.failed?.(endpointLabel(delivery.endpoint), 'not delivered within the retry window', true);
      return;
    }
    const lane = this.#lane(delivery.endpoint, now);
    if (lane.pacing.restingFor(now) === 0 && lane.pacing.inFlight + lane.waiting.length < lane.pacing.limit) {
      lane.waiting.push(delivery);
      this.#startWaiting(lane);
      return;
    }
    await this.#store.retryDelivery(delivery.id, delivery.attempts, lane.pacing.deferredUntil(now));
  }

  #lane(endpoint: string, now: number): Lane {
    let lane = this.#lanes.get(endpoint);
    if (!lane) {
      lane = { endpoint, pacing: new EndpointPacing(this.#pacing, now), waiting: [], timer: undefined, wake: undefined };
      this.#lanes.set(endpoint, lane);
    }
    return lane;
  }

  /** Starts what waits in `lane` as far as its pace allows; a timer or a finishing try starts the rest. */
  #startWaiting(lane: Lane): void {
    while (!this.#closed && lane.timer === undefined && lane.waiting.length > 0) {
      const waitMs = lane.pacing.start(this.#clock.now());
      if (waitMs === Number.POSITIVE_INFINITY) return;
      if (waitMs > 0) {
        lane.timer = this.#clock.setTimeout(() => {
          lane.timer = undefined;
          this.#startWaiting(lane);
        }, waitMs);
        return;
      }
      this.#track(this.#deliver(lane, lane.waiting.shift()!)).catch(this.#onError);
    }
  }

  #wakeAfterRest(lane: Lane): void {
    const restMs = lane.pacing.restingFor(this.#clock.now());
    if (this.#closed || restMs === 0 || lane.wake !== undefined) return;
    lane.wake = this.#clock.setTimeout(() => {
      lane.wake = undefined;
      void this.sendDue();
    }, restMs);
  }

  #forgetIdleLanes(): void {
    const now = this.#clock.now();
    for (const [endpoint, lane] of this.#lanes) {
      if (lane.waiting.length === 0 && lane.timer === undefined && lane.wake === undefined && lane.pacing.idle(now)) this.#lanes.delete(endpoint);
    }
  }

  #agent(endpoint: string): HttpAgent {
    let agent = this.#agents.get(endpoint);
    if (!agent) {
      agent = agentFor(endpoint, { keepAlive: true, maxSockets: this.#pacing.concurrency, maxFreeSockets: this.#pacing.concurrency });
      this.#agents.set(endpoint, agent);
    }
    return agent;
  }

  #track(delivery: Promise<void>): Promise<void> {
    const tracked = delivery.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
    return tracked;
  }

  async #deliver(lane: Lane, delivery: Delivery): Promise<void> {
    const answer = await post(delivery, this.#agent(delivery.endpoint), this.#config.secret, this.#clock, this.#deadlineMs, this.#stopping.signal);
    const now = this.#clock.now();
    lane.pacing.finished(now, answer.problem === undefined);
    if (this.#stopping.signal.aborted && answer.problem !== undefined) {
      await this.#store.retryDelivery(delivery.id, delivery.attempts, now);
      return;
    }
    if (answer.problem === undefined) {
      await this.#store.finishDelivery(delivery.id);
      this.#onOutcome('delivered');
      this.#observer.delivered?.(endpointLabel(delivery.endpoint));
    } else {
      const attempts = delivery.attempts + 1;
      // The later of the endpoint's next slot and this delivery's own backoff (one event the receiver
      // refuses must not be retried at the pace of the others).
      const nextAt = Math.max(lane.pacing.deferredUntil(now), now + backoffDelay(attempts, this.#backoff));
      const givenUp = nextAt - delivery.createdAt > this.#config.retryMs;
      if (givenUp) await this.#store.finishDelivery(delivery.id);
      else await this.#store.retryDelivery(delivery.id, attempts, nextAt);
      if (answer.timedOut) this.#onOutcome('timed_out');
      this.#onOutcome(givenUp ? 'dropped' : 'failed');
      this.#observer.failed?.(endpointLabel(delivery.endpoint), answer.problem, givenUp);
      // A resting endpoint holds nothing claimed: what waited goes back to the outbox for after the rest.
      const waiting = lane.waiting.splice(0);
      await Promise.all(waiting.map((w) => this.#store.retryDelivery(w.id, w.attempts, lane.pacing.deferredUntil(now))));
      this.#wakeAfterRest(lane);
    }
    this.#startWaiting(lane);
    // Room in the lane: more of its queue may be due.
    if (!lane.pacing.failing && lane.waiting.length === 0) void this.sendDue();
  }
}

const digest = (text: string) => createHash('sha256').update(text).digest('hex');

/** The signature a delivery carries: HMAC-SHA256 over "<event id>.<unix seconds>.<body>", in hex. */
export function webhookSignature(secret: string, eventId: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${eventId}.${timestamp}.${body}`).digest('hex')}`;
}

/** How a try ended: `problem` is undefined when the endpoint answered 2xx. */
interface TryResult {
  readonly problem?: string;
  readonly timedOut?: boolean;
}

/**
 * POSTs one delivery through `agent`, cut at `deadlineMs` from the start however the endpoint trickles its
 * answer. A redirect is a failure, never followed (the endpoint is the operator's choice, and nothing else);
 * the answer's body is read no further than a small cap.
 */
async function post(delivery: Delivery, agent: HttpAgent, secret: string, clock: Clock, deadlineMs: number, stopping: AbortSignal): Promise<TryResult> {
  const timestamp = Math.floor(clock.now() / 1_000);
  // A deadline, not an idle timeout: an endpoint sending a byte now and then would otherwise hold its try,
  // and a slot of its lane, for ever. The signal cuts the body's reading as well as the connecting and the
  // wait for headers, so one deadline covers the try from connecting to the answer's last byte.
  const cut = new AbortController();
  let timedOut = false;
  const deadline = clock.setTimeout(() => {
    timedOut = true;
    cut.abort();
  }, deadlineMs);
  const stop = () => cut.abort();
  stopping.addEventListener('abort', stop);
  try {
    const answer = await send(delivery.endpoint, {
      method: 'POST',
      agent,
      signal: cut.signal,
      headers: {
        'content-type': 'application/json',
        'user-agent': `taskctl/${VERSION}`,
        [WEBHOOK_HEADERS.id]: delivery.eventId,
        [WEBHOOK_HEADERS.timestamp]: String(timestamp),
        [WEBHOOK_HEADERS.signature]: webhookSignature(secret, delivery.eventId, timestamp, delivery.body),
      },
      body: delivery.body,
    });
    const status = answer.status;
    if (status >= 300 && status < 400) {
      discard(answer);
      return { problem: `answered with a redirect (HTTP ${status}), which is not followed` };
    }
    // The answer is not used, but read (up to the cap) so that its connection can carry the next try. The
    // status decides: a receiver that answered 2xx and then dropped the connection did get the event.
    await drainCapped(answer.body as AsyncIterable<Uint8Array> | null, MAX_ANSWER_BYTES).catch((error: unknown) => {
      if (cut.signal.aborted) throw error;
    });
    return status >= 200 && status < 300 ? {} : { problem: `answered HTTP ${status}` };
  } catch (error) {
    if (timedOut) return { problem: `no complete answer within ${deadlineMs / 1_000}s (timed out)`, timedOut: true };
    const code = (error as { code?: string }).code;
    return { problem: code && code !== 'ABORT_ERR' ? `cannot reach it (${code})` : (error as Error).message };
  } finally {
    clock.clearTimer(deadline);
    stopping.removeEventListener('abort', stop);
  }
}
