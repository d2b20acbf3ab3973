import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Canceler, WaitResult, WatchSet } from '../core/canceler.ts';
import type { CancelRecord } from '../core/store.ts';
import type { Clock, TimerHandle } from '../core/clock.ts';
import type { TaskService } from '../core/task-service.ts';
import type { Watcher } from '../core/task-status.ts';
import { TokenShares } from './token-shares.ts';
import { HttpError } from '../protocol/errors.ts';
import { MIN_WATCH_TIMEOUT_MS, SESSION_MIN_IDS } from '../protocol/limits.ts';
import type { Reply } from './http-io.ts';
import type { ServerMetrics } from './metrics.ts';
import type { OnParked, ParkedReply } from './park-connection.ts';
import { nextTurn } from '../core/turns.ts';

// Ids a watch must hold for letting them go to wait for a turn of its own.
const BIG_WATCH_END_IDS = 1_000;
// A watch session is kept for this long without a poll, unless told otherwise: the worker polls again at
// once after each answer, and after a network failure within its backoff (5 s at most).
const SESSION_IDLE_MS = 60_000;
// A session never polled is kept a sixth as long (10 s by default): its worker polls it as soon as it has
// the answer naming it, so one not polled by then is one whose worker never got that answer, and could not
// name it to end it.
const UNPOLLED_SESSION_IDLE_SHARE = 1 / 6;
// Polls of one session held at once. Two, as BOSH holds two requests: while the worker re-polls after an
// answer, its other poll is there for the next cancel, so a cancel never waits a round trip in the mailbox.
// A poll beyond these ends the oldest.
const SESSION_POLLS = 2;

/** A watch to hold (see WatchHolder.hold): its ids, for how long, for whom, and how its answer is written. */
export interface HeldWatch {
  readonly ids: readonly string[];
  readonly timeoutMs: number;
  readonly watcher: Watcher;
  /** The token whose share it counts in; undefined where the server has no tokens. */
  readonly tokenId: string | undefined;
  /** Ids whose cancel answers it too (its tasks' ancestors); each counts as one more id held. */
  readonly ancestors?: readonly string[];
  /**
   * The caller writes its answer to the reply it is handed and keeps no other hold on the response: a
   * parked watch is then answered on its connection by hand, and node:http's response can go (see
   * park-connection.ts).
   */
  readonly answersReply?: boolean;
}

const NO_IDS: readonly string[] = Object.freeze([]);

/** What a session's poll answers: a wait's result, and when an ancestor's cancel stopped them, the ids it stopped. */
export interface SessionResult extends WaitResult {
  readonly stopped?: readonly string[];
}

/** A poll of a session held open: `answer` ends it with cancels, `release` without (shutdown, a newer poll). */
interface HeldPoll {
  readonly answer: (result: SessionResult) => void;
  readonly release: () => void;
}

/**
 * A worker's watch kept between its polls: its ids stay registered (a WatchSet), so a cancel that lands
 * while no poll is held waits in `mailbox` for the next, and a poll costs what changed, not the ids held.
 */
interface Session {
  readonly id: string;
  readonly tokenId: string | undefined;
  readonly set: WatchSet;
  /** Ids counted against the id cap: the ids still watched, and the ancestors. */
  held: number;
  /** Cancels not yet delivered to a poll. */
  mailbox: { cancelled: CancelRecord[]; parent?: CancelRecord; stopped?: string[]; cancelArrivedAt?: number } | undefined;
  /** The polls held now, oldest first: a cancel answers the oldest. */
  readonly polls: HeldPoll[];
  idleTimer: TimerHandle | undefined;
}

export interface WatchHolderOptions {
  /** Where watches wait for cancels. */
  readonly canceler: Canceler;
  /** Told which tasks are watched, and when a watch ends: the task service. */
  readonly ledger: Pick<TaskService, 'watchStarted' | 'watchAnsweredAtOnce' | 'watchEnded'>;
  readonly metrics: ServerMetrics;
  readonly clock: Clock;
  /** The longest a watch is held; also what a watch that names no timeout gets. */
  readonly watchTimeoutMs: number;
  readonly maxOpenWatches: number;
  readonly maxWatchedIds: number;
  readonly sessionIdleMs?: number;
  /**
   * Called with each watch held (not answered at once), to park its connection when many are held; with
   * `onParked`, told what to answer on instead of `res` once parked (see park-connection.ts).
   */
  readonly parkHeld?: (res: ServerResponse, onParked?: OnParked) => void;
  readonly onBackgroundError: (error: unknown) => void;
  /** Told of each answered watch. */
  readonly onAnswered?: (outcome: 'cancelled' | 'timeout' | 'gone') => void;
  /** Told the number of ids held (heldIds) whenever it changes. */
  readonly onHeldIdsChanged?: (heldIds: number) => void;
  /** The fraction of maxOpenWatches, and of maxWatchedIds, one file token may hold (see TokenShares); all of them unless told. */
  readonly tokenShare?: number;
}

/** The held watches of one timeout, oldest first, each with its deadline, and the one timer for the oldest. */
interface Deadlines {
  readonly ends: Map<() => void, number>;
  timer: TimerHandle | undefined;
}

/** Holds long polls: counts them against the cap, ends them on cancel, timeout, departure or shutdown. */
export class WatchHolder {
  readonly #options: WatchHolderOptions;
  /**
   * Held watches by their timeout: one timer per timeout in use, not one per watch (a timer and its function
   * were 180 bytes of each held watch). Watches of one timeout fall due in the order they came.
   */
  readonly #deadlines = new Map<number, Deadlines>();
  /** Set while a held watch is ended for its timeout (see #expire): how its end knows why. */
  #expiring = false;
  #open = 0;
  #heldIds = 0;
  #closing = false;
  /** The ends of watches held by tokens a reload may take away, with the ids each holds, by token. */
  readonly #byToken = new Map<string, Map<() => void, readonly string[]>>();
  readonly #sessions = new Map<string, Session>();
  /** Watches (and session polls) and ids held, by token. */
  readonly #watchesOf: TokenShares;
  readonly #idsOf: TokenShares;

  constructor(options: WatchHolderOptions) {
    this.#options = options;
    this.#watchesOf = new TokenShares(options.maxOpenWatches, options.tokenShare ?? 1);
    this.#idsOf = new TokenShares(options.maxWatchedIds, options.tokenShare ?? 1);
  }

  /** Watches held open now. */
  get open(): number {
    return this.#open;
  }

  /** Ids held across the open watches (an id in two watches counts twice). */
  get heldIds(): number {
    return this.#heldIds;
  }

  /** From now on each answered watch closes its connection, so workers re-poll elsewhere. Sessions end. */
  beginShutdown(): void {
    this.#closing = true;
    for (const session of [...this.#sessions.values()]) this.#closeSession(session);
  }

  /** The timeout a watch gets: the client's, if it asked for less than the server's. */
  timeoutFor(requestedMs: number | undefined): number {
    if (requestedMs === undefined) return this.#options.watchTimeoutMs;
    if (requestedMs < MIN_WATCH_TIMEOUT_MS) throw new HttpError('invalid_request', `timeout: at least ${MIN_WATCH_TIMEOUT_MS}ms`);
    // The server decides how long a worker may wait: asking for more gets the server's limit.
    return Math.min(requestedMs, this.#options.watchTimeoutMs);
  }

  /**
   * Holds a long poll on `watch.ids` until one is cancelled, the timeout passes, or the client leaves, then
   * calls `onResult` once, with what to answer on: `res`, or a parked connection's reply (before returning,
   * when a cancel among them is already at hand). Written with a callback, without async/await and with as
   * few objects as possible: thousands of these are held at once, and every byte here is multiplied by
   * them (so `watch` is taken apart at once: the functions below keep only the parts they use).
   */
  hold(res: ServerResponse, watch: HeldWatch, onResult: (result: WaitResult, reply: Reply) => void): void {
    const { ids, timeoutMs, watcher, tokenId, ancestors = NO_IDS, answersReply = false } = watch;
    const { canceler, ledger, metrics } = this.#options;
    // A worker re-polling an id whose cancel is at hand is answered now: nothing is held, so there is no
    // timer, listener or count to set up and take down, and no cap to refuse it.
    const known = canceler.known(ids, ancestors);
    if (known) {
      ledger.watchAnsweredAtOnce(ids, watcher.worker, watcher.token)?.catch(this.#options.onBackgroundError);
      this.#counted('cancelled');
      if (this.#closing) res.shouldKeepAlive = false;
      onResult(known, res);
      return;
    }
    const held = ids.length + ancestors.length;
    if (this.#open >= this.#options.maxOpenWatches) {
      metrics.rejectedWatches.inc();
      throw new HttpError('too_many_watches', `this server holds ${this.#options.maxOpenWatches} watches already; retry shortly`, { 'retry-after': '1' });
    }
    if (this.#heldIds + held > this.#options.maxWatchedIds) {
      metrics.rejectedWatches.inc();
      throw new HttpError('too_many_watches', `this server watches ${this.#heldIds} of at most ${this.#options.maxWatchedIds} ids already; retry shortly`, {
        'retry-after': '1',
      });
    }
    this.#checkShare(tokenId, 1, held);
    this.#open++;
    this.#watchesOf.change(tokenId, 1);
    this.#idsOf.change(tokenId, held);
    this.#heldIdsChange(held);
    ledger.watchStarted(ids, watcher.worker, watcher.token).catch(this.#options.onBackgroundError);
    // What the answer is written to: `res`, or once parked (with answersReply), its connection. Only this
    // is kept by the functions below, never `res` itself, so that parking can let the response go.
    let reply: Reply & Pick<ParkedReply, 'shouldKeepAlive' | 'on' | 'off'> = res;
    const end = canceler.waitAfterKnown(
      ids,
      (result) => {
        const outcome = result.cancelled.length > 0 || result.parent ? 'cancelled' : this.#expiring ? 'timeout' : 'gone';
        this.#dropDeadline(timeoutMs, end);
        reply.off('close', end);
        // The answer goes out first, the bookkeeping after it: a worker waiting for its cancel does not wait
        // for counts and metrics too. (Closing, which the answer must know of, was decided before this.)
        if (this.#closing) reply.shouldKeepAlive = false;
        try {
          onResult(result, reply);
        } finally {
          this.#ended(tokenId, end, ids, held, outcome);
        }
      },
      ancestors,
    );
    this.#addDeadline(timeoutMs, end);
    // 'close' before the answer is written means the client left. (on, not once: once wraps the listener
    // in one more function per held watch; `end` takes itself off.)
    res.on('close', end);
    this.#options.parkHeld?.(
      res,
      answersReply
        ? (parked) => {
            reply.off('close', end);
            reply = parked;
            parked.on('close', end);
          }
        : undefined,
    );
    if (tokenId !== undefined) {
      const held = this.#byToken.get(tokenId);
      if (held) held.set(end, ids);
      else this.#byToken.set(tokenId, new Map([[end, ids]]));
    }
  }

  /** `end` is called `timeoutMs` from now, unless it ends first (and takes itself out of #deadlines). */
  #addDeadline(timeoutMs: number, end: () => void): void {
    let deadlines = this.#deadlines.get(timeoutMs);
    if (deadlines === undefined) this.#deadlines.set(timeoutMs, (deadlines = { ends: new Map(), timer: undefined }));
    // Whole milliseconds (small integers, not a number object each); a watch may end up to 1 ms early.
    deadlines.ends.set(end, Math.floor(this.#options.clock.monotonic()) + timeoutMs);
    deadlines.timer ??= this.#options.clock.setTimeout(() => this.#expire(timeoutMs), timeoutMs);
  }

  /** `end` ended before its deadline; the timer of its timeout stops with the last watch of it. */
  #dropDeadline(timeoutMs: number, end: () => void): void {
    const deadlines = this.#deadlines.get(timeoutMs);
    if (deadlines === undefined || !deadlines.ends.delete(end) || deadlines.ends.size > 0) return;
    if (deadlines.timer !== undefined) this.#options.clock.clearTimer(deadlines.timer);
    this.#deadlines.delete(timeoutMs);
  }

  /** Ends the watches of `timeoutMs` that are due, oldest first, and sets the timer for the next one. */
  #expire(timeoutMs: number): void {
    const deadlines = this.#deadlines.get(timeoutMs);
    if (deadlines === undefined) return;
    deadlines.timer = undefined;
    const now = this.#options.clock.monotonic();
    for (const [end, deadline] of deadlines.ends) {
      if (deadline > now) {
        // A watch held meanwhile (by an answer below) may have set one: the oldest decides.
        if (deadlines.timer !== undefined) this.#options.clock.clearTimer(deadlines.timer);
        deadlines.timer = this.#options.clock.setTimeout(() => this.#expire(timeoutMs), deadline - now);
        return;
      }
      deadlines.ends.delete(end);
      this.#expiring = true;
      try {
        end();
      } finally {
        this.#expiring = false;
      }
    }
    if (deadlines.timer !== undefined) this.#options.clock.clearTimer(deadlines.timer);
    this.#deadlines.delete(timeoutMs);
  }

  /** What a held watch's end lets go, once its answer is written: its counts, its ids for the tracker, its place in the metrics. */
  #ended(tokenId: string | undefined, end: () => void, ids: readonly string[], held: number, outcome: 'cancelled' | 'timeout' | 'gone'): void {
    const { ledger } = this.#options;
    if (tokenId !== undefined) this.#forgetHeldBy(tokenId, end);
    this.#watchesOf.change(tokenId, -1);
    this.#idsOf.change(tokenId, -held);
    // A big watch's bookkeeping takes its turn: one ancestor's cancel may end ten watches of 10,000 ids
    // at once, and their ids need not be let go in the same turn.
    if (ids.length >= BIG_WATCH_END_IDS) void nextTurn().then(() => ledger.watchEnded(ids));
    else ledger.watchEnded(ids);
    this.#open--;
    this.#heldIdsChange(-held);
    // "gone": the client left, or the server is stopping and ended the wait early.
    this.#counted(outcome);
  }

  /**
   * Answers "not cancelled" every watch (and ends every session) held by a file token that `keep` says no
   * to for the ids it holds; its next request meets the new rules. Returns how many watches ended, and
   * `onEnded` hears each token's ids let go that way.
   */
  endWhere(keep: (tokenId: string, ids: readonly string[]) => boolean, onEnded?: (tokenId: string, ids: readonly string[]) => void): number {
    let ended = 0;
    for (const session of [...this.#sessions.values()]) {
      if (session.tokenId === undefined) continue;
      const ids = [...session.set.ids];
      if (keep(session.tokenId, ids)) continue;
      ended += session.polls.length;
      this.#closeSession(session);
      onEnded?.(session.tokenId, ids);
    }
    for (const [tokenId, watches] of [...this.#byToken]) {
      for (const [end, ids] of [...watches]) {
        if (keep(tokenId, ids)) continue;
        end();
        ended++;
        onEnded?.(tokenId, ids);
      }
    }
    return ended;
  }

  /**
   * Keeps `named` (each id once, with their `ancestors`) as a watch session and returns its name, or
   * undefined when it is not worth one. From now on the ids count against the id cap, and every cancel among
   * them is kept for the session's next poll, until a poll delivers it, the worker removes the ids, or the
   * session ends.
   */
  openSession(named: readonly string[], ancestors: readonly string[], watcher: Watcher, tokenId: string | undefined): string | undefined {
    // Each id once: the session keeps a set, and a copy counted here would never be counted off.
    const ids = [...new Set(named)];
    if (ids.length < SESSION_MIN_IDS || this.#closing) return undefined;
    const held = ids.length + ancestors.length;
    if (this.#heldIds + held > this.#options.maxWatchedIds || !this.#idsOf.fits(tokenId, held)) return undefined;
    this.#idsOf.change(tokenId, held);
    this.#heldIdsChange(held);
    this.#options.ledger.watchStarted(ids, watcher.worker, watcher.token).catch(this.#options.onBackgroundError);
    const id = randomBytes(16).toString('base64url');
    // The set calls back only later (never while being made), by when `session` is there.
    let session!: Session;
    const set = this.#options.canceler.watchSet(ids, (result) => this.#sessionCancelled(session, result), ancestors);
    session = { id, tokenId, set, held, mailbox: undefined, polls: [], idleTimer: undefined };
    this.#sessions.set(id, session);
    this.#idle(session, UNPOLLED_SESSION_IDLE_SHARE);
    return id;
  }

  /** Ends session `name` if this token holds it: its worker sent the ids again instead of polling it. */
  endSession(name: string, tokenId: string | undefined): void {
    const session = this.#sessions.get(name);
    if (session && session.tokenId === tokenId) this.#closeSession(session);
  }

  /**
   * A poll of session `name`: takes `remove` out of it, then answers `onResult` with what was cancelled
   * and not yet answered, at once, or holds until a cancel, the timeout or the client's departure. 409
   * session_unknown when there is no such session (for this token).
   */
  pollSession(
    name: string,
    tokenId: string | undefined,
    remove: readonly string[],
    res: ServerResponse,
    timeoutMs: number,
    onResult: (result: SessionResult) => void,
  ): void {
    const session = this.#sessions.get(name);
    if (!session || session.tokenId !== tokenId)
      throw new HttpError('session_unknown', 'no such watch session here (it ended, or another server keeps it): send the ids again');
    if (session.polls.length >= SESSION_POLLS) session.polls[0]!.release();
    // Each id once: every copy of one would be counted off the session again.
    this.#leaveSession(
      session,
      [...new Set(remove)].filter((id) => session.set.ids.has(id)),
    );
    this.#stopIdleTimer(session);
    if (session.mailbox || session.set.ids.size === 0) {
      const result = session.mailbox ?? { cancelled: [] };
      session.mailbox = undefined;
      this.#answerPoll(session, result, 'cancelled', onResult);
      return;
    }
    const full = this.#open >= this.#options.maxOpenWatches;
    if (full || !this.#watchesOf.fits(tokenId, 1)) {
      if (session.polls.length === 0) this.#idle(session);
      if (!full) this.#checkShare(tokenId, 1, 0);
      this.#options.metrics.rejectedWatches.inc();
      throw new HttpError('too_many_watches', `this server holds ${this.#options.maxOpenWatches} watches already; retry shortly`, { 'retry-after': '1' });
    }
    this.#open++;
    this.#watchesOf.change(tokenId, 1);
    let ended = false;
    const end = (result: SessionResult, outcome: 'cancelled' | 'timeout' | 'gone') => {
      if (ended) return;
      ended = true;
      this.#options.clock.clearTimer(timer);
      res.off('close', left);
      session.polls.splice(session.polls.indexOf(poll), 1);
      this.#open--;
      this.#watchesOf.change(tokenId, -1);
      this.#answerPoll(session, result, outcome, onResult);
    };
    const timer = this.#options.clock.setTimeout(() => end({ cancelled: [] }, 'timeout'), timeoutMs);
    // 'close' before the answer is written means the client left.
    const left = () => end({ cancelled: [] }, 'gone');
    res.on('close', left);
    const poll: HeldPoll = { answer: (result) => end(result, 'cancelled'), release: left };
    session.polls.push(poll);
    if (this.#closing) res.shouldKeepAlive = false;
  }

  /** A cancel among a session's ids: it leaves the session, and goes to the oldest held poll, or waits for the next. */
  #sessionCancelled(session: Session, result: WaitResult): void {
    const mailbox = (session.mailbox ??= { cancelled: [] });
    mailbox.cancelled.push(...result.cancelled);
    if (result.parent) mailbox.parent = result.parent;
    if (result.cancelArrivedAt !== undefined) mailbox.cancelArrivedAt ??= result.cancelArrivedAt;
    // An ancestor's cancel stops every id: the session has nothing left to watch once it is delivered.
    if (result.parent) mailbox.stopped = [...new Set([...(mailbox.stopped ?? []), ...session.set.ids])];
    this.#leaveSession(session, result.parent ? [...session.set.ids] : result.cancelled.map((r) => r.id));
    const poll = session.polls[0];
    if (poll) {
      session.mailbox = undefined;
      poll.answer(mailbox);
    }
  }

  #answerPoll(session: Session, result: SessionResult, outcome: 'cancelled' | 'timeout' | 'gone', onResult: (result: SessionResult) => void): void {
    const delivered = result.cancelled.length > 0 || result.parent !== undefined;
    // Nothing left to watch (all cancelled, or an ancestor was): the session ends with this answer, written
    // first, so that it does not reach the worker after the other poll's release and that poll's 409.
    const ends = session.set.ids.size === 0 || result.parent !== undefined;
    if (!ends && this.#sessions.has(session.id) && session.polls.length === 0) this.#idle(session);
    // The answer first, the count after it (see hold).
    try {
      onResult(result);
    } finally {
      this.#counted(delivered ? 'cancelled' : outcome);
    }
    if (ends) this.#closeSession(session);
  }

  /** Takes `ids` out of a session: no longer watched, nor counted, nor held for the tracker. */
  #leaveSession(session: Session, ids: readonly string[]): void {
    if (ids.length === 0) return;
    session.set.remove(ids);
    session.held -= ids.length;
    this.#idsOf.change(session.tokenId, -ids.length);
    this.#heldIdsChange(-ids.length);
    this.#options.ledger.watchEnded(ids);
  }

  /** Ends a session not polled for a while (`share` of the idle time): its worker went away, or moved to another server. */
  #idle(session: Session, share = 1): void {
    this.#stopIdleTimer(session);
    session.idleTimer = this.#options.clock.setTimeout(() => this.#closeSession(session), (this.#options.sessionIdleMs ?? SESSION_IDLE_MS) * share);
  }

  #stopIdleTimer(session: Session): void {
    if (session.idleTimer === undefined) return;
    this.#options.clock.clearTimer(session.idleTimer);
    session.idleTimer = undefined;
  }

  #closeSession(session: Session): void {
    if (!this.#sessions.delete(session.id)) return;
    this.#stopIdleTimer(session);
    for (const poll of [...session.polls]) poll.release();
    session.set.close();
    this.#options.ledger.watchEnded([...session.set.ids]);
    this.#idsOf.change(session.tokenId, -session.held);
    this.#heldIdsChange(-session.held);
    session.held = 0;
  }

  /** Counts an answered watch by its outcome, and tells the observer. */
  #counted(outcome: 'cancelled' | 'timeout' | 'gone'): void {
    this.#options.metrics.watchAnswered[outcome].inc();
    this.#options.onAnswered?.(outcome);
  }

  /** Throws a 503 when `tokenId` would hold more than its share of the watches or of the ids. */
  #checkShare(tokenId: string | undefined, watches: number, ids: number): void {
    if (this.#watchesOf.fits(tokenId, watches) && this.#idsOf.fits(tokenId, ids)) return;
    this.#options.metrics.rejectedWatches.inc();
    const [what, limit] = this.#watchesOf.fits(tokenId, watches) ? ['ids', this.#idsOf.limit] : ['watches', this.#watchesOf.limit];
    throw new HttpError('too_many_watches', `this token holds its share of this server's ${what} (${limit}) already; retry shortly`, { 'retry-after': '1' });
  }

  #heldIdsChange(change: number): void {
    this.#heldIds += change;
    this.#options.onHeldIdsChanged?.(this.#heldIds);
  }

  #forgetHeldBy(tokenId: string, end: () => void): void {
    const held = this.#byToken.get(tokenId);
    held?.delete(end);
    if (held?.size === 0) this.#byToken.delete(tokenId);
  }

  /** Records how long the cancel that answered a watch took to reach it. */
  observeLatency(result: WaitResult): void {
    if (result.cancelArrivedAt !== undefined) this.#options.metrics.notifyLatency.observe((this.#options.clock.monotonic() - result.cancelArrivedAt) / 1_000);
  }
}
