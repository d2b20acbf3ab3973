import type { CancelRecord, CancelRoute } from '../core/store.ts';
import type { TaskEvent, TaskEventObserver } from '../core/task-events.ts';
import type { TaskLifeState, TaskStatus } from '../core/task-status.ts';
import type { Refusal, ServerObserver } from './app.ts';
import type { WebhookObserver } from './webhooks.ts';

export interface RecentCancel {
  readonly id: string;
  readonly reason?: string | undefined;
  readonly address: string;
  /** The name of the token that asked (`admin` for --token, `anonymous` without auth). */
  readonly by?: string | undefined;
  /** How it came: seed, v1, scheduled (a schedule came due) or deadline (a worker's --timeout came due). */
  readonly route?: CancelRoute | undefined;
  readonly at: number;
}

export interface RecentError {
  readonly message: string;
  readonly at: number;
}

export interface RecentTaskChange {
  readonly id: string;
  readonly state: TaskLifeState;
  readonly worker?: string | undefined;
  readonly at: number;
}

/** What the serve screen shows: where the server listens and what it has been doing. */
export interface ServeState {
  readonly url: string;
  readonly store: string;
  readonly startedAt: number;
  readonly cancelsTotal: number;
  readonly watchesAnsweredTotal: number;
  /** Tasks that went lost since start (their worker fell silent past the lease). */
  readonly lostTotal: number;
  /** Newest first. */
  readonly recentCancels: readonly RecentCancel[];
  /** Newest first. */
  readonly recentErrors: readonly RecentError[];
  /** Newest first. */
  readonly recentTaskChanges: readonly RecentTaskChange[];
  /** Webhook endpoints whose last try failed (as endpointLabel shows them), until one succeeds. */
  readonly failingWebhooks: readonly string[];
}

const KEEP_CANCELS = 10;
const KEEP_ERRORS = 5;
/** A kind of refusal (its status and code) is listed once in this long; the others are counted into the next. */
export const REFUSAL_EVERY_MS = 60_000;

/** Collects the server's activity into a ServeState, telling subscribers when it changes. */
export class ServeActivity implements ServerObserver, TaskEventObserver {
  #state: ServeState;
  readonly #listeners = new Set<() => void>();
  readonly #now: () => number;
  /** By status and code (a handful of kinds): when a refusal of it was last listed, and how many came since. */
  readonly #refusals = new Map<string, { at: number; since: number }>();

  constructor(where: { url: string; store: string }, now: () => number = Date.now) {
    this.#now = now;
    this.#state = {
      ...where,
      startedAt: now(),
      cancelsTotal: 0,
      watchesAnsweredTotal: 0,
      lostTotal: 0,
      recentCancels: [],
      recentErrors: [],
      recentTaskChanges: [],
      failingWebhooks: [],
    };
  }

  get state(): ServeState {
    return this.#state;
  }

  /** The server's address is known only once it listens; `origin` names its events (see TaskEvent.origin). */
  listening(url: string, origin?: string): void {
    this.#origin = origin;
    this.#update({ url });
  }

  #origin: string | undefined;

  /**
   * A task event, from this server or (on a shared store) another: state changes go on the list; a task
   * that went lost on this server counts towards its total.
   */
  taskEvent(event: TaskEvent): void {
    if (event.status === undefined || event.change !== event.status.state) return;
    this.taskChanged(event.status);
    if (event.change === 'lost' && (this.#origin === undefined || event.origin === this.#origin)) this.lost();
  }

  cancelled(record: CancelRecord, source: { address: string; name?: string; route?: CancelRoute; repeat?: boolean }): void {
    // A repeat changes nothing: the first cancel, listed when it was made, stands.
    if (source.repeat) return;
    const entry: RecentCancel = { id: record.id, reason: record.reason, address: source.address, by: source.name, route: source.route, at: this.#now() };
    this.#update({ cancelsTotal: this.#state.cancelsTotal + 1, recentCancels: [entry, ...this.#state.recentCancels].slice(0, KEEP_CANCELS) });
  }

  taskChanged(status: TaskStatus): void {
    const worker = status.worker ? `${status.worker.host}:${status.worker.pid}` : undefined;
    const entry: RecentTaskChange = { id: status.id, state: status.state, worker, at: this.#now() };
    this.#update({ recentTaskChanges: [entry, ...this.#state.recentTaskChanges].slice(0, KEEP_CANCELS) });
  }

  lost(): void {
    this.#update({ lostTotal: this.#state.lostTotal + 1 });
  }

  watchAnswered(): void {
    this.#update({ watchesAnsweredTotal: this.#state.watchesAnsweredTotal + 1 });
  }

  failed(error: unknown, request?: { method: string; path: string }): void {
    const what = (error as Error)?.message ?? String(error);
    const entry: RecentError = { message: request ? `${request.method} ${request.path}: ${what}` : what, at: this.#now() };
    this.#update({ recentErrors: [entry, ...this.#state.recentErrors].slice(0, KEEP_ERRORS) });
  }

  /**
   * A refused request goes in the errors list as "refused 401 from ADDRESS: why": once a minute for each kind
   * (status and code), whatever the address, saying how many came between, so that a stranger's probing from
   * however many addresses takes a row or two and pushes no other error off the list.
   */
  refused(refusal: Refusal): void {
    const key = `${refusal.status} ${refusal.code}`;
    const now = this.#now();
    const last = this.#refusals.get(key);
    if (last !== undefined && now - last.at < REFUSAL_EVERY_MS) {
      last.since++;
      return;
    }
    this.#refusals.set(key, { at: now, since: 0 });
    const more = last?.since ? ` (and ${last.since} more since ${Math.round((now - last.at) / 1000)}s ago)` : '';
    this.failed(new Error(`refused ${refusal.status} from ${refusal.address}: ${refusal.message}${more}`), { method: refusal.method, path: refusal.path });
  }

  readonly webhooks: WebhookObserver = {
    delivered: (endpoint) => {
      if (this.#state.failingWebhooks.includes(endpoint)) this.#update({ failingWebhooks: this.#state.failingWebhooks.filter((e) => e !== endpoint) });
    },
    failed: (endpoint, error, givenUp) => {
      // The list of errors gets a line when an endpoint starts failing and for each event given up, not for every retry.
      const failing = this.#state.failingWebhooks.includes(endpoint);
      if (!failing) this.#update({ failingWebhooks: [...this.#state.failingWebhooks, endpoint] });
      if (!failing || givenUp) this.failed(new Error(`webhook ${endpoint}: ${error}${givenUp ? ' (an event was given up)' : ''}`));
    },
  };

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #update(change: Partial<ServeState>): void {
    this.#state = { ...this.#state, ...change };
    for (const listener of this.#listeners) listener();
  }
}
