import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from '../core/backoff.ts';
import type { TaskEventData } from '../protocol/events.ts';
import type { ScheduleListReply, TaskReply, TaskStatusReply } from '../protocol/schemas.ts';
import { SortedIds } from '../core/sorted-ids.ts';
import { ClientError, type TaskctlClient } from './client.ts';
import type { ConnectionView } from './connection.ts';
import { EventStream } from './event-stream.ts';
import { sleep } from './sleep.ts';

/** What a feed knows of one task: as the server last showed it. */
export interface FeedTask {
  readonly id: string;
  readonly status?: TaskStatusReply | undefined;
  /** The reason of its cancel, when the server showed the record. */
  readonly reason?: string | undefined;
  /** When a cancel is scheduled for it. */
  readonly scheduledAt?: string | undefined;
  /** What the last event about it was (undefined when known from a listing only). */
  readonly change?: string | undefined;
}

/** The feed's state as subscribers read it. `tasks` and `order` are kept in place; `version` says they moved. */
export interface FeedState {
  readonly server: string;
  readonly tasks: ReadonlyMap<string, FeedTask>;
  /** Every id in `tasks`, in id order. */
  readonly order: SortedIds;
  /** Bumped on every change to `tasks`. */
  readonly version: number;
  readonly connection: ConnectionView;
  /** The tasks are being listed (at start, or after a reset): `listed` of them so far. */
  readonly listing?: { readonly listed: number } | undefined;
  /** Why the last listing failed, until one succeeds. */
  readonly listError?: string | undefined;
  /** The server refused this client (token or TLS): nothing more will come. */
  readonly refusal?: { readonly message: string; readonly kind: 'unauthorized' | 'untrusted' } | undefined;
  /** Events applied since start. */
  readonly events: number;
}

/** A task as an event shows it. */
export function feedTaskOf(data: TaskReply & { change?: string }): FeedTask {
  return {
    id: data.id,
    ...(data.status ? { status: data.status } : {}),
    ...(data.record?.reason !== undefined ? { reason: data.record.reason } : {}),
    ...(data.scheduled ? { scheduledAt: data.scheduled.at } : {}),
    ...(data.change !== undefined ? { change: data.change } : {}),
  };
}

// A listing asks for this many tasks a page.
const LIST_PAGE = 1_000;

/**
 * Every task of a server, kept live: listed page by page (GET /v1/tasks), then moved by the event stream.
 * Events that arrive while a listing runs wait for it and are applied after, in order, so a task ends as
 * its latest event shows it; a reset event lists again. Subscribers are told of each change.
 */
export class TaskFeed {
  readonly #client: TaskctlClient;
  readonly #now: () => number;
  readonly #backoff: BackoffPolicy;
  readonly #listeners = new Set<() => void>();
  readonly #tasks = new Map<string, FeedTask>();
  #order = new SortedIds();
  #state: FeedState;
  /** Events held while a listing runs. */
  #held: TaskEventData[] | undefined;
  #listGeneration = 0;
  /** Aborted when the server refuses this client: nothing more can be heard. */
  readonly #refused = new AbortController();

  constructor(client: TaskctlClient, options: { now?: () => number; backoff?: BackoffPolicy } = {}) {
    this.#client = client;
    this.#now = options.now ?? Date.now;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#state = {
      server: client.server,
      tasks: this.#tasks,
      order: this.#order,
      version: 0,
      events: 0,
      connection: { state: 'connecting', since: this.#now(), attempt: 0 },
    };
  }

  get state(): FeedState {
    return this.#state;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Follows the server until `signal` aborts; resolves early (with `state.refusal` set) when it refuses this client. */
  async run(until: AbortSignal): Promise<void> {
    const signal = AbortSignal.any([until, this.#refused.signal]);
    const stream = new EventStream(this.#client, {
      backoff: this.#backoff,
      listener: {
        connected: () => {
          this.#connected();
          void this.#list(signal);
        },
        reconnected: () => this.#connected(),
        alive: () => this.#update({ connection: { ...this.#state.connection, lastAnswerAt: this.#now() } }),
        disconnected: (error, attempt, retryInMs) => {
          const now = this.#now();
          const was = this.#state.connection;
          this.#update({
            connection: {
              state: 'reconnecting',
              since: was.state === 'reconnecting' ? was.since : now,
              downSince: was.state === 'reconnecting' && was.downSince !== undefined ? was.downSince : now,
              attempt,
              lastError: error.message,
              nextRetryAt: now + retryInMs,
              ...(was.lastAnswerAt !== undefined ? { lastAnswerAt: was.lastAnswerAt } : {}),
            },
          });
        },
        event: (data) => {
          if (this.#held) this.#held.push(data);
          else this.#apply([data]);
        },
        reset: () => {
          // What was held came before the events were missed: the new listing is newer than all of it.
          this.#held = [];
          void this.#list(signal);
        },
      },
    });
    try {
      await stream.run(signal);
    } catch (error) {
      if (!(error instanceof ClientError)) throw error;
      this.#refuse(error);
    }
  }

  #refuse(error: ClientError): void {
    if (this.#state.refusal === undefined)
      this.#update({ refusal: { message: error.message, kind: error.kind === 'untrusted' ? 'untrusted' : 'unauthorized' } });
    this.#refused.abort();
  }

  /** Replaces what the feed knows of one task (after a look-up of its own, say). */
  put(task: TaskReply): void {
    this.#set(feedTaskOf(task));
    this.#update({ version: this.#state.version + 1 });
  }

  #connected(): void {
    const was = this.#state.connection;
    this.#update({
      connection: { state: 'connected', since: this.#now(), attempt: 0, ...(was.lastAnswerAt !== undefined ? { lastAnswerAt: was.lastAnswerAt } : {}) },
    });
  }

  /**
   * Lists every task again, holding events meanwhile; the listing replaces what was known and the held
   * events follow it. A failed page is asked again with backoff; a newer listing (another reset) wins.
   */
  async #list(signal: AbortSignal): Promise<void> {
    const generation = ++this.#listGeneration;
    this.#held ??= [];
    this.#update({ listing: { listed: 0 } });
    const listed: FeedTask[] = [];
    let after: string | undefined;
    let failures = 0;
    while (!signal.aborted && generation === this.#listGeneration) {
      try {
        const page = await this.#client.tasks({ limit: LIST_PAGE, ...(after !== undefined ? { after } : {}) }, { signal });
        failures = 0;
        for (const task of page.tasks) {
          const { id, ...status } = task;
          listed.push({ id, status });
        }
        if (generation !== this.#listGeneration) return;
        this.#update({ listing: { listed: listed.length } });
        if (page.next === undefined) break;
        after = page.next;
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ClientError && error.fatal) {
          this.#refuse(error);
          return;
        }
        this.#update({ listError: (error as Error).message });
        await sleep(backoffDelay(++failures, this.#backoff), signal);
      }
    }
    if (signal.aborted || generation !== this.#listGeneration) return;
    if (!(await this.#listSchedules(listed, signal)) || generation !== this.#listGeneration) return;
    this.#tasks.clear();
    // Listed in id order, so each add is an append.
    this.#order = new SortedIds();
    for (const task of listed) this.#set(task);
    const held = this.#held ?? [];
    this.#held = undefined;
    this.#update({ order: this.#order, listing: undefined, listError: undefined, version: this.#state.version + 1 });
    this.#apply(held);
  }

  /**
   * Adds the cancels scheduled for later to `listed` (in id order): beside a listed task's status, or as a
   * task of its own; a failed page is asked again with backoff. A server from before GET /v1/schedules (404)
   * has none to show. False when the listing should stop (aborted, or the server refused this client).
   */
  async #listSchedules(listed: FeedTask[], signal: AbortSignal): Promise<boolean> {
    const byId = new Map(listed.map((task, i) => [task.id, i]));
    let scheduledOnly = false;
    let after: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      let page: ScheduleListReply;
      try {
        page = await this.#client.schedules({ limit: LIST_PAGE, ...(after !== undefined ? { after } : {}) }, { signal });
      } catch (error) {
        if (signal.aborted) return false;
        if (error instanceof ClientError && error.status === 404) return true;
        if (error instanceof ClientError && error.fatal) {
          this.#refuse(error);
          return false;
        }
        this.#update({ listError: (error as Error).message });
        await sleep(backoffDelay(++failures, this.#backoff), signal);
        continue;
      }
      failures = 0;
      for (const { id, at } of page.schedules) {
        const i = byId.get(id);
        if (i !== undefined) listed[i] = { ...listed[i]!, scheduledAt: at };
        else {
          listed.push({ id, scheduledAt: at });
          scheduledOnly = true;
        }
      }
      if (page.next === undefined) break;
      after = page.next;
    }
    if (scheduledOnly) listed.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return !signal.aborted;
  }

  #apply(events: readonly TaskEventData[]): void {
    if (events.length === 0) return;
    for (const data of events) this.#set(feedTaskOf(data));
    this.#update({ version: this.#state.version + 1, events: this.#state.events + events.length });
  }

  #set(task: FeedTask): void {
    if (!this.#tasks.has(task.id)) this.#order.add(task.id);
    this.#tasks.set(task.id, task);
  }

  #update(change: Partial<FeedState>): void {
    this.#state = { ...this.#state, ...change };
    for (const listener of this.#listeners) listener();
  }
}
