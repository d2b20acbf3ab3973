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
  #emptied = new AbortController();
  /** The watch session the server keeps for these ids, once it named one. */
  #session: string | undefined;
  /** Ids removed here that the session still holds: the next poll takes them out. */
  readonly #removed = new Set<string>();
  /** Cleared when the server refused to keep a session (a server from before sessions). */
  #askForSession = true;
  /** A session given up after a failed poll: the next watch sends the ids again and asks the server to end it. */
  #replaces: string | undefined;

  constructor(client: TaskctlClient, ids: Iterable<string>, options: WatchLoopOptions = {}) {
    this.#client = client;
    this.#ids = new Set(ids);
    this.#watchTimeoutMs = options.watchTimeoutMs ?? DEFAULT_WATCH_TIMEOUT_MS;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.#listener = options.listener ?? {};
    this.#worker = options.worker;
    this.#parents = options.parents ?? [];
  }

  /** The ids still watched. */
  get ids(): ReadonlySet<string> {
    return this.#ids;
  }

  /** Stops watching `id` (its task ended some other way). The open poll is left to finish unless none remain. */
  remove(id: string): void {
    if (this.#ids.delete(id) && this.#session !== undefined) this.#removed.add(id);
    if (this.#ids.size === 0) this.#emptied.abort();
  }

  /**
   * Runs until every id is cancelled or removed, or `signal` aborts. Network failures and server errors are
   * retried forever; it rejects only with a fatal ClientError (the server refused this client's token), or
   * with the server's refusal of the parents (code `invalid_parents`: a cycle), which asking again cannot mend.
   */
  async run(signal: AbortSignal): Promise<void> {
    const stop = AbortSignal.any([signal, this.#emptied.signal]);
    let link: 'new' | 'up' | 'down' = 'new';
    let reachable = false;
    let failures = 0;
    const markUp = () => {
      if (link === 'new') this.#listener.connected?.();
      if (link === 'down') this.#listener.reconnected?.();
      link = 'up';
      failures = 0;
    };
    while (!stop.aborted && this.#ids.size > 0) {
      try {
        // After a network failure, a cheap ping tells at once whether the server is back; a long poll
        // would only say so when it is answered.
        if (!reachable) {
          await this.#client.ping({ signal: stop });
          reachable = true;
          markUp();
        }
        if (this.#session !== undefined) {
          await this.#pollSession(this.#session, stop, markUp);
          continue;
        }
        const keep = this.#askForSession && this.#ids.size >= SESSION_MIN_IDS;
        const reply = await this.#client.watch([...this.#ids], {
          timeoutMs: this.#watchTimeoutMs,
          signal: stop,
          ...(this.#worker ? { worker: this.#worker } : {}),
          ...(this.#parents.length > 0 ? { parents: this.#parents } : {}),
          ...(keep ? { keep: true, ...(this.#replaces !== undefined ? { replaces: this.#replaces } : {}) } : {}),
        });
        this.#session = reply.session;
        this.#replaces = undefined;
        markUp();
        this.#heard(reply);
      } catch (error) {
        if (stop.aborted) break;
        const clientError = error instanceof ClientError ? error : new ClientError('protocol', (error as Error)?.message ?? String(error));
        if (clientError.fatal || clientError.code === 'invalid_parents') throw clientError;
        // The session ended on the server (it restarted, or another server answers): send the ids again, now.
        if (clientError.code === 'session_unknown') {
          this.#forgetSession();
          continue;
        }
        // Any other failure of a poll may have lost its answer on the way, and the server took the cancels
        // it carried out of the session: only the ids sent again are sure to bring them back. An error the
        // server answered itself (a JSON error with its code: too_many_watches, say) delivered nothing.
        const answeredByServer = clientError.kind === 'rejected' && clientError.code !== undefined;
        if (this.#session !== undefined && !answeredByServer) {
          this.#replaces = this.#session;
          this.#forgetSession();
        }
        // A server from before sessions refuses the request for one: ask it the old way from now on.
        if (clientError.code === 'invalid_request' && this.#askForSession && this.#session === undefined && /keep/.test(clientError.message)) {
          this.#askForSession = false;
          continue;
        }
        // A server that answered with an error is reachable; only a network failure needs the ping again.
        if (clientError.kind !== 'rejected') reachable = false;
        failures++;
        link = 'down';
        const delay = backoffDelay(failures, this.#backoff);
        this.#listener.disconnected?.(clientError, failures, delay);
        await sleep(delay, stop);
      }
    }
  }

  /**
   * Polls session `session` twice at once until it has nothing left to watch or `stop` aborts, so that while
   * one poll's answer travels and the next is sent, the other is held for the next cancel. Rejects with the
   * first failure, once the other poll has ended too.
   */
  async #pollSession(session: string, stop: AbortSignal, answered: () => void): Promise<void> {
    const pair = new AbortController();
    const signal = AbortSignal.any([stop, pair.signal]);
    let failure: unknown;
    const poll = async (firstTimeoutMs: number) => {
      let timeoutMs = firstTimeoutMs;
      try {
        while (!signal.aborted && this.#ids.size > 0 && this.#session === session) {
          const removing = [...this.#removed];
          this.#removed.clear();
          const reply = await this.#client.watchSession(session, { remove: removing, watching: this.#ids.size + removing.length, timeoutMs, signal });
          timeoutMs = this.#watchTimeoutMs;
          answered();
          this.#heard(reply);
        }
      } catch (error) {
        failure ??= error;
        pair.abort();
      }
    };
    // The second poll's first wait is half as long, so that the two do not time out (and leave) together.
    await Promise.all([poll(this.#watchTimeoutMs), poll(Math.max(MIN_WATCH_TIMEOUT_MS, Math.round(this.#watchTimeoutMs / 2)))]);
    if (failure !== undefined) throw failure;
  }

  /** Reports what an answer says was cancelled, each id once. */
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
  }

  #forgetSession(): void {
    this.#session = undefined;
    this.#removed.clear();
  }
}
