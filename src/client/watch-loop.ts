import { type BackoffPolicy, DEFAULT_BACKOFF, backoffDelay } from '../core/backoff.ts';
import { DEFAULT_WATCH_TIMEOUT_MS, MIN_WATCH_TIMEOUT_MS, SESSION_MIN_IDS } from '../protocol/limits.ts';
import type { CancelRecordReply, WatchReply } from '../protocol/schemas.ts';
import { reasonViaParent, type WorkerIdentity } from '../core/task-status.ts';
import { ClientError, type TaskctlClient } from './client.ts';
import { sleep } from './sleep.ts';

/** What a watch loop reports as it goes. Every method is optional. */
export interface WatchListener {
  /** The server answered for the first time. */
  connected?(): void;
  /** A request failed; the loop tries again after `retryInMs`. `attempt` counts failures in a row. */
  disconnected?(error: ClientError, attempt: number, retryInMs: number): void;
  /** The server answered again after failures. */
  reconnected?(): void;
  /** A long poll was answered (cancel or timeout): the link is alive. */
  answered?(): void;
  /** `record.id` was cancelled; it is no longer watched. */
  cancelled?(record: CancelRecordReply): void;
  /**
   * With `lookFirst`: the server said which ids are cancelled already (each reported to cancelled() just
   * before), so the others may start. Called once, before the first long poll.
   */
  looked?(): void;
}

export interface WatchLoopOptions {
  /** How long each long poll may be held; the server may hold it for less. */
  readonly watchTimeoutMs?: number;
  readonly backoff?: BackoffPolicy;
  readonly listener?: WatchListener;
  /** Sent with every watch, so the server can tell whose tasks went quiet. */
  readonly worker?: WorkerIdentity;
  /** The parents of every id watched: a cancel of any of them (or their ancestors) cancels every id. */
  readonly parents?: readonly string[];
  /** Ask the server what is cancelled already (a watch with timeout 0) before the first long poll. */
  readonly lookFirst?: boolean;
}

/**
 * Keeps a long poll open for a changing set of task ids, and never gives up on the network: any failure
 * is retried with capped, jittered backoff. Each id is reported cancelled at most once, then dropped. With
 * many ids it asks the server to keep them as a watch session: each later poll then names the session and
 * what changed, instead of sending every id again, and two polls are held at once.
 */
export class WatchLoop {
  readonly #client: TaskctlClient;
  readonly #ids: Set<string>;
  readonly #watchTimeoutMs: number;
  readonly #backoff: BackoffPolicy;
  readonly #listener: WatchListener;
  readonly #worker: WorkerIdentity | undefined;
  readonly #parents: readonly string[];
  /** Whether the look before the first long poll is still to be made. */
  #toLook: boolean;
  #emptied = new AbortController();
  /** The watch session the server keeps for these ids, once it named one. */
  #session: string | undefined;
  /**
   * Ids removed here since the ids were last sent: a session made of them still holds them, and its next
   * poll takes them out.
   */
  readonly #removed = new Set<string>();
  /** Cleared when the server refused to keep a session (a server from before sessions). */
  #askForSession = true;
  /** A session given up after a failed poll: the next watch sends the ids again and asks the server to end it. */
  #replaces: string | undefined;
  /** Whether any poll of the session has been answered. */
  #sessionAnswered = false;
  /** Sessions in a row that the server forgot before any poll of them was answered. */
  #sessionsLostUnanswered = 0;

  constructor(client: TaskctlClient, ids: Iterable<string>, options: WatchLoopOptions = {}) {
    this.#client = client;
    this.#ids = new Set(ids);
    this.#watchTimeoutMs = options.watchTimeoutMs ?? DEFAULT_WATCH_TIMEOUT_MS;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#listener = options.listener ?? {};
    this.#worker = options.worker;
    this.#parents = options.parents ?? [];
    this.#toLook = options.lookFirst === true;
  }

  /** The ids still watched. */
  get ids(): ReadonlySet<string> {
    return this.#ids;
  }

  /** Stops watching `id` (its task ended some other way). The open poll is left to finish unless none remain. */
  remove(id: string): void {
    // Kept even with no session yet: the watch that makes one may be on its way with `id` in it.
    if (this.#ids.delete(id)) this.#removed.add(id);
    if (this.#ids.size === 0) this.#emptied.abort();
  }

  /**
   * Runs until every id is cancelled or removed, or `signal` aborts. Network failures and server errors are
   * retried forever; it rejects only with a fatal ClientError (the server refused this client's token), or
   * with the server's refusal of the parents (code `invalid_parents`: a cycle; `link_refused`: a link rule), which asking again cannot mend.
   */
  async run(signal: AbortSignal): Promise<void> {
    const stop = AbortSignal.any([signal, this.#emptied.signal]);
    let link: 'new' | 'up' | 'down' = 'new';
    let reachable = false;
    let failures = 0;
    const state: LinkReport = {
      up: (watchAnswered) => {
        if (link === 'new') this.#listener.connected?.();
        if (link === 'down') this.#listener.reconnected?.();
        link = 'up';
        // Only a watch answered shows that watching works again: a ping, or the answer that makes a session,
        // may be followed by a failure as before, which must then wait longer.
        if (watchAnswered) failures = 0;
      },
      down: (error, attempt, retryInMs) => {
        // A link never up stays new: the first answer after failures to reach the server is its first contact.
        if (link === 'up') link = 'down';
        this.#listener.disconnected?.(error, attempt, retryInMs);
      },
    };
    while (!stop.aborted && this.#ids.size > 0) {
      try {
        // After a network failure, a cheap ping tells at once whether the server is back; a long poll
        // would only say so when it is answered.
        if (!reachable) {
          await this.#client.ping({ signal: stop });
          reachable = true;
          state.up(false);
        }
        if (this.#toLook) {
          const reply = await this.#client.watch([...this.#ids], {
            timeoutMs: 0,
            signal: stop,
            ...(this.#parents.length > 0 ? { parents: this.#parents } : {}),
          });
          state.up(false);
          this.#heard(reply);
          this.#looked();
          continue;
        }
        if (this.#session !== undefined) {
          await this.#pollSession(this.#session, stop, state);
          continue;
        }
        const keep = this.#askForSession && this.#ids.size >= SESSION_MIN_IDS;
        const ids = [...this.#ids];
        this.#removed.clear();
        const reply = await this.#client.watch(ids, {
          timeoutMs: this.#watchTimeoutMs,
          signal: stop,
          ...(this.#worker ? { worker: this.#worker } : {}),
          ...(this.#parents.length > 0 ? { parents: this.#parents } : {}),
          ...(keep ? { keep: true } : {}),
          ...(this.#replaces !== undefined ? { replaces: this.#replaces } : {}),
        });
        this.#replaces = undefined;
        if (reply.session !== undefined) {
          this.#session = reply.session;
          this.#sessionAnswered = false;
        }
        state.up(reply.session === undefined);
        this.#heard(reply);
      } catch (error) {
        if (stop.aborted) break;
        const clientError = ClientError.from(error);
        if (clientError.fatal || clientError.refusesParents) throw clientError;
        // A server from before the look refuses a timeout of 0: it cannot say, so the ids start unlooked.
        if (this.#toLook && clientError.code === 'invalid_request' && /timeout/.test(clientError.message)) {
          this.#looked();
          continue;
        }
        // A poll of the session failed: its answer, or the other poll's (cut short), may have been lost on
        // the way, and the server took the cancels they carried out of the session. Only the ids sent again
        // are sure to bring them back; the old session is named, so that its server ends it.
        if (this.#session !== undefined) {
          const answered = this.#sessionAnswered;
          this.#replaces = this.#session;
          this.#session = undefined;
          if (clientError.code === 'session_unknown') {
            // Forgotten before any poll of it was answered, three sessions running: the servers at this
            // address do not keep sessions for us (a balancer spreads the polls), so watch without one.
            this.#sessionsLostUnanswered = answered ? 0 : this.#sessionsLostUnanswered + 1;
            if (this.#sessionsLostUnanswered >= 3) this.#askForSession = false;
            // The server restarted, or another one answers: the ids go again now.
            continue;
          }
        }
        // A server from before sessions refuses the request for one: ask it the old way from now on.
        if (clientError.code === 'invalid_request' && this.#askForSession && /keep/.test(clientError.message)) {
          this.#askForSession = false;
          continue;
        }
        // A server that answered with an error is reachable; only a network failure needs the ping again.
        if (clientError.kind !== 'rejected') reachable = false;
        failures++;
        const delay = backoffDelay(failures, this.#backoff);
        state.down(clientError, failures, delay);
        await sleep(delay, stop);
      }
    }
  }

  /**
   * Polls session `session` twice at once until it has nothing left to watch or `stop` aborts, so that while
   * one poll's answer travels and the next is sent, the other is held for the next cancel. A poll the server
   * turns away because it is full waits and asks again by itself, the other poll going on. Any other failure
   * ends both polls, and rejects once both have ended.
   */
  async #pollSession(session: string, stop: AbortSignal, link: LinkReport): Promise<void> {
    const pair = new AbortController();
    const signal = AbortSignal.any([stop, pair.signal]);
    let failure: unknown;
    let inFlight = 0;
    const poll = async (firstTimeoutMs: number) => {
      let timeoutMs = firstTimeoutMs;
      let refusals = 0;
      while (!signal.aborted && this.#ids.size > 0 && this.#session === session) {
        try {
          const removing = [...this.#removed];
          this.#removed.clear();
          inFlight++;
          const reply = await this.#client
            .watchSession(session, { remove: removing, watching: this.#ids.size + removing.length, timeoutMs, signal })
            .finally(() => inFlight--);
          timeoutMs = this.#watchTimeoutMs;
          refusals = 0;
          this.#sessionAnswered = true;
          this.#sessionsLostUnanswered = 0;
          link.up(true);
          this.#heard(reply);
        } catch (error) {
          const clientError = ClientError.from(error);
          // Full: this poll was refused before anything was taken out of the session. It waits, its own
          // count of refusals setting how long, and the other poll is left held: the link is down only
          // when no poll is.
          if (!signal.aborted && clientError.code === 'too_many_watches') {
            const delay = backoffDelay(++refusals, this.#backoff);
            if (inFlight === 0) link.down(clientError, refusals, delay);
            await sleep(delay, signal);
            continue;
          }
          failure ??= error;
          pair.abort();
          return;
        }
      }
    };
    // The second poll's first wait is half as long, so that the two do not time out (and leave) together.
    await Promise.all([poll(this.#watchTimeoutMs), poll(Math.max(MIN_WATCH_TIMEOUT_MS, Math.round(this.#watchTimeoutMs / 2)))]);
    if (failure !== undefined) throw failure;
  }

  #looked(): void {
    this.#toLook = false;
    this.#listener.looked?.();
  }

  /** Reports what an answer says was cancelled, each id once; with none left, the loop ends. */
  #heard(reply: WatchReply): void {
    this.#listener.answered?.();
    for (const record of reply.records) {
      if (!this.#ids.delete(record.id)) continue;
      this.#listener.cancelled?.(record);
    }
    // An ancestor's cancel: every other id it lists is stopped by it.
    if (reply.parent) {
      const { id: parent, ...times } = reply.parent;
      for (const id of reply.cancelled) {
        if (!this.#ids.delete(id)) continue;
        this.#listener.cancelled?.({ ...times, id, reason: reasonViaParent(reply.parent), parent });
      }
    }
    // A poll of the session may still be held: ending the loop ends it, instead of waiting for its timeout.
    if (this.#ids.size === 0) this.#emptied.abort();
  }
}

/** How the loop's polls tell it the link is up, or down for a while. */
interface LinkReport {
  /** The server answered; `watchAnswered` when it was a watch's answer, not a ping's or a session's making. */
  up(watchAnswered: boolean): void;
  down(error: ClientError, attempt: number, retryInMs: number): void;
}
