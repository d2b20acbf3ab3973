import type { ServerResponse } from 'node:http';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CursorObserver, ResetReason, TaskEvent, TaskEventHub } from '../core/task-events.ts';
import { snapshotInScope, type TaskScope } from '../core/task-scope.ts';
import { nextTurn } from '../core/turns.ts';
import { VERSION } from '../protocol/build-info.ts';
import { HttpError } from '../protocol/errors.ts';
import { type ResetData, shownState, sseFrame, taskEventData } from '../protocol/events.ts';
import { VERSION_HEADER } from '../protocol/routes.ts';
import { TokenShares } from './token-shares.ts';

/** Which events a stream wants: those of some ids, and/or of tasks shown in some states; never any outside `scope`. */
export interface StreamFilter {
  readonly ids?: ReadonlySet<string> | undefined;
  readonly states?: ReadonlySet<string> | undefined;
  /** The tasks the stream's token may see, when it is scoped. */
  readonly scope?: TaskScope | undefined;
}

export interface EventStreamsOptions {
  readonly hub: TaskEventHub;
  /** Streams held at once; more get 503. */
  readonly maxOpen: number;
  /** The fraction of maxOpen one file token may hold (see TokenShares); all of it unless told. */
  readonly tokenShare?: number;
  /** Where the streams' gauges and counters go. */
  readonly registry: Registry;
  /** How often an idle stream gets a comment line. */
  readonly heartbeatMs: number;
  /** Told the number of streams open whenever it changes. */
  readonly onOpenChanged?: (open: number) => void;
  /** Called with each stream held, to park its connection when many are held. */
  readonly parkHeld?: (res: ServerResponse) => void;
  /** What streams may hold unwritten, one and all together (see UnwrittenBytesCaps). */
  readonly unwrittenBytes?: Partial<UnwrittenBytesCaps>;
}

/**
 * What event streams may hold in memory for clients that do not read. A stream past `perStream` is cut
 * ("slow"); when all together pass `total`, those furthest behind are cut ("budget") until they are under
 * it. A cut client resumes from its last event when it comes back (EventSource does), so nothing is lost,
 * and stalled readers cannot make the server hold the event flood in memory, one by one or together.
 */
export interface UnwrittenBytesCaps {
  readonly perStream: number;
  readonly total: number;
}

export const DEFAULT_UNWRITTEN_BYTES: UnwrittenBytesCaps = { perStream: 256 * 1024, total: 64 * 1024 * 1024 };
// Streams this far behind are counted against the total; those nearer are not worth the bookkeeping.
const BEHIND_BYTES = 16 * 1024;
// While catching up, the next slice waits until the client has taken most of the last one.
const CATCH_UP_BUFFER_BYTES = 64 * 1024;
// Events sent per turn while catching up: a slice of large events (a 1,000-character reason) is about
// 150 KB, a millisecond or so of work, so a bystander's request waits little for one.
const REPLAY_SLICE_EVENTS = 100;

// A frame is the same for every stream that sends it: made once per event, kept while the event lives.
const frames = new WeakMap<TaskEvent, { text: string; state: string }>();

function frameOf(event: TaskEvent, keep = true): { text: string; state: string } {
  let frame = frames.get(event);
  if (frame === undefined) {
    const data = taskEventData(event);
    frame = { text: sseFrame({ event: 'task', id: event.seq, data: JSON.stringify(data) }), state: shownState(data) };
    // One stream's reading of an event (see snapshotInScope) is not kept for the others.
    if (keep) frames.set(event, frame);
  }
  return frame;
}

/**
 * Holds the open event streams (GET /v1/events): counts them with the watches against the cap, keeps
 * each fed from the hub in seq order after catching it up from the store, writes a comment line on the
 * idle ones, and ends them all when the server stops.
 */
export class EventStreams {
  readonly #options: EventStreamsOptions;
  readonly #streams = new Set<EventStream>();
  readonly #heartbeat: NodeJS.Timeout;
  readonly #gauge: Gauge;
  readonly #cut: Counter<'reason'>;
  readonly #caps: UnwrittenBytesCaps;
  // Streams at least BEHIND_BYTES behind at their last write: the only ones the total can be over with.
  readonly #behind = new Set<EventStream>();
  #checkingTotal = false;
  readonly #byToken: TokenShares;
  #closing = false;

  constructor(options: EventStreamsOptions) {
    this.#options = options;
    this.#caps = { ...DEFAULT_UNWRITTEN_BYTES, ...options.unwrittenBytes };
    this.#byToken = new TokenShares(options.maxOpen, options.tokenShare ?? 1);
    this.#gauge = new Gauge({
      name: 'taskctl_open_event_streams',
      help: 'Event streams (GET /v1/events) open now; capped by --max-event-streams.',
      registers: [options.registry],
    });
    this.#cut = new Counter({
      name: 'taskctl_event_streams_cut_total',
      help: "Event streams the server ended, by reason: slow (the client left 256 KB unread; it resumes where it was), budget (all streams together held too much unread; the furthest behind were cut), shutdown, revoked (a reload took its token away), rescoped (a reload changed its token's scope; it resumes under the new one).",
      labelNames: ['reason'] as const,
      registers: [options.registry],
    });
    this.#heartbeat = setInterval(() => {
      for (const stream of this.#streams) stream.heartbeat();
    }, options.heartbeatMs).unref();
  }

  /** Streams open now. */
  get open(): number {
    return this.#streams.size;
  }

  /**
   * Answers `res` with a stream of the events after `since` (from now when undefined) that `filter`
   * wants. Throws (before anything is written) when the caps are reached, the server is stopping, or the
   * store cannot say where its window stands.
   */
  async serve(res: ServerResponse, filter: StreamFilter, since: number | undefined, tokenId?: string): Promise<void> {
    if (this.#closing) throw new HttpError('shutting_down', 'the server is stopping; retry shortly', { 'retry-after': '1' });
    if (this.#streams.size >= this.#options.maxOpen) {
      throw new HttpError('too_many_watches', `this server holds ${this.#options.maxOpen} event streams already; retry shortly`, { 'retry-after': '1' });
    }
    if (!this.#byToken.fits(tokenId, 1)) {
      throw new HttpError('too_many_watches', `this token holds its share of this server's event streams (${this.#byToken.limit}) already; retry shortly`, {
        'retry-after': '1',
      });
    }
    this.#byToken.change(tokenId, 1);
    const stream = new EventStream(res, filter, tokenId, {
      maxUnwrittenBytes: this.#caps.perStream,
      onBehind: (behind) => this.#noteBehind(behind),
      onEnd: (reason) => {
        this.#byToken.change(tokenId, -1);
        this.#streams.delete(stream);
        this.#behind.delete(stream);
        this.#counted();
        if (reason) this.#cut.inc({ reason });
      },
    });
    // Counted from here, so streams arriving together cannot all pass the cap.
    this.#streams.add(stream);
    this.#counted();
    this.#options.parkHeld?.(res);
    await stream.follow(this.#options.hub, since);
  }

  /** `stream` is behind: once this turn's writes are done, the total is checked against the budget. */
  #noteBehind(stream: EventStream): void {
    this.#behind.add(stream);
    if (this.#checkingTotal) return;
    this.#checkingTotal = true;
    process.nextTick(() => {
      this.#checkingTotal = false;
      this.#keepTotalUnderBudget();
    });
  }

  #keepTotalUnderBudget(): void {
    let total = 0;
    for (const stream of this.#behind) {
      if (stream.unwrittenBytes < BEHIND_BYTES) this.#behind.delete(stream);
      else total += stream.unwrittenBytes;
    }
    if (total <= this.#caps.total) return;
    // The furthest behind first: they are the likeliest stalled, and each cut frees the most.
    const furthestFirst = [...this.#behind].sort((a, b) => b.unwrittenBytes - a.unwrittenBytes);
    for (const stream of furthestFirst) {
      if (total <= this.#caps.total) break;
      total -= stream.unwrittenBytes;
      stream.end('budget');
    }
  }

  #counted(): void {
    this.#gauge.set(this.#streams.size);
    this.#options.onOpenChanged?.(this.#streams.size);
  }

  /**
   * Ends the streams of file tokens `keep` says no, opened with `scope` (a reload took them away, or their
   * right to list, or changed their scope); returns how many. Their clients come back and are refused, or
   * resume under the new scope.
   */
  endWhere(keep: (tokenId: string, scope: TaskScope | undefined) => boolean, reason: 'revoked' | 'rescoped' = 'revoked'): number {
    let ended = 0;
    for (const stream of [...this.#streams]) {
      if (stream.tokenId === undefined || keep(stream.tokenId, stream.scope)) continue;
      stream.end(reason);
      ended++;
    }
    return ended;
  }

  /** Ends every stream (the server stops); new ones are refused from now on. */
  close(): void {
    this.#closing = true;
    clearInterval(this.#heartbeat);
    for (const stream of [...this.#streams]) stream.end('shutdown');
  }
}

type CutReason = 'slow' | 'budget' | 'shutdown' | 'revoked' | 'rescoped';

// The last line a stream ended on purpose gets (streams cut for being slow are destroyed, and get none).
const END_COMMENTS: Partial<Record<CutReason, string>> = {
  shutdown: ': the server is stopping\n\n',
  revoked: ': the token was revoked\n\n',
  rescoped: ": the token's scope changed; reconnect\n\n",
};

interface EventStreamHooks {
  /** Past this many bytes unwritten, the stream is cut ("slow"). */
  readonly maxUnwrittenBytes: number;
  /** The stream has BEHIND_BYTES or more unwritten. */
  readonly onBehind: (stream: EventStream) => void;
  readonly onEnd: (reason?: CutReason) => void;
}

/** One client's stream: what the hub's follow() hands it, filtered and written as SSE frames. */
class EventStream implements CursorObserver {
  readonly #res: ServerResponse;
  readonly #filter: StreamFilter;
  readonly #hooks: EventStreamHooks;
  /** The file token that opened it, which a reload may take away. */
  readonly tokenId: string | undefined;
  #stop: () => void = () => {};
  /** Every event up to this seq has been considered (sent, or left out by the filter). */
  #cursor = 0;
  /** The id the client last heard. */
  #sentId = 0;
  #ended = false;
  #corked = false;

  constructor(res: ServerResponse, filter: StreamFilter, tokenId: string | undefined, hooks: EventStreamHooks) {
    this.#res = res;
    this.#filter = filter;
    this.tokenId = tokenId;
    this.#hooks = hooks;
  }

  /** The tasks its token may see, as they were when it opened. */
  get scope(): TaskScope | undefined {
    return this.#filter.scope;
  }

  /** Bytes written to the stream that its client has not taken yet (still in this process). */
  get unwrittenBytes(): number {
    return this.#res.writableLength;
  }

  /** Follows the hub from `since`; the answer begins once the hub knows where that is. */
  async follow(hub: TaskEventHub, since: number | undefined): Promise<void> {
    this.#res.once('close', () => this.end());
    // A resume's first slice waits for its turn too: a crowd of clients coming back at once (a proxy
    // restarted) would otherwise all be sent their first slice in one turn.
    if (since !== undefined) await nextTurn();
    if (this.#ended) return;
    const following = hub.follow(since, this, () => this.#pace(), REPLAY_SLICE_EVENTS);
    this.#stop = following.stop;
    try {
      await following.done;
    } catch (error) {
      // Before the answer began, the caller answers (503: the store is unavailable).
      if (!this.#res.headersSent) {
        this.end();
        throw error;
      }
      // Mid-way: the client comes back (with backoff) and resumes from what it heard.
      this.#write(': the store is unavailable; reconnect\n\n');
      this.end();
    }
  }

  started(after: number): void {
    this.#begin();
    // Told where it starts, so a client that hears nothing before it reconnects resumes from here.
    this.#cursor = this.#sentId = after;
    this.#write(`retry: 1000\nid: ${after}\n\n`);
  }

  taskEvent(event: TaskEvent): void {
    this.#cursor = event.seq;
    if (this.#filter.ids !== undefined && !this.#filter.ids.has(event.id)) return;
    if (this.#filter.scope !== undefined && !this.#filter.scope.covers(event.id)) return;
    // A covered task stopped through an ancestor the scope does not cover: told without that ancestor.
    const shown = snapshotInScope(this.#filter.scope, event);
    const frame = shown === event ? frameOf(event) : frameOf(shown, false);
    if (this.#filter.states !== undefined && !this.#filter.states.has(frame.state)) return;
    this.#sentId = event.seq;
    this.#write(frame.text);
  }

  /** Tells the client to list again; the stream goes on from `after`. */
  reset(after: number, why: ResetReason): void {
    if (this.#begin()) this.#write('retry: 1000\n\n');
    this.#cursor = this.#sentId = after;
    const data: ResetData = {
      reason: why.reason,
      ...(why.oldest !== undefined ? { oldest: why.oldest } : {}),
      ...(why.last !== undefined ? { last: why.last } : {}),
    };
    this.#write(sseFrame({ event: 'reset', id: after, data: JSON.stringify(data) }));
  }

  closed(): void {
    this.end('shutdown');
  }

  heartbeat(): void {
    if (this.#ended || !this.#res.headersSent) return;
    // The id, when filtered-out events moved the cursor, so a resume need not look at them again.
    const id = this.#cursor > this.#sentId ? `id: ${this.#cursor}\n` : '';
    this.#sentId = this.#cursor;
    this.#write(`: keepalive\n${id}\n`);
  }

  end(reason?: CutReason): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stop();
    this.#hooks.onEnd(reason);
    const res = this.#res;
    // Before the answer began, the caller still answers (a 503, say).
    if (!res.headersSent) return;
    // A stream cut for what it holds gives it back at once: ending would queue behind it.
    if (reason === 'slow' || reason === 'budget') res.destroy();
    // Then the connection closes (see #begin).
    else if (!res.destroyed) res.end(reason === undefined ? undefined : END_COMMENTS[reason]);
  }

  /** Writes the answer's head once; true the first time. */
  #begin(): boolean {
    if (this.#res.headersSent) return false;
    // A stream ends only to close its connection: so a stopping server is not kept waiting by an idle
    // keep-alive socket, and so the connection may give back its HTTP parser while the stream lasts.
    this.#res.shouldKeepAlive = false;
    this.#res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      // nginx and similar proxies pass each event on at once instead of buffering the answer.
      'x-accel-buffering': 'no',
      [VERSION_HEADER]: VERSION,
    });
    return true;
  }

  /**
   * Between slices of catching up: the next waits until the client has taken most of the last one, then
   * for its turn (nextTurn lets one slice of one stream go per turn of the event loop, so many streams
   * catching up at once take turns with every other request).
   */
  async #pace(): Promise<void> {
    if (!this.#ended && this.#res.writableLength > CATCH_UP_BUFFER_BYTES) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#res.off('drain', done).off('close', done);
          resolve();
        };
        this.#res.on('drain', done).on('close', done);
      });
    }
    await nextTurn();
  }

  #write(text: string): void {
    if (this.#ended || this.#res.destroyed) return;
    // Frames written in one turn (a batch of events, a page when catching up) leave in one packet.
    if (!this.#corked) {
      // What earlier turns wrote and the client has still not taken: past the cap, it is not reading.
      // (Measured here, not after each write, so that one large batch is no reason to cut a reader.)
      if (this.#res.writableLength > this.#hooks.maxUnwrittenBytes) {
        this.end('slow');
        return;
      }
      this.#corked = true;
      this.#res.cork();
      process.nextTick(() => this.#flush());
    }
    this.#res.write(text);
  }

  /** Sends what this turn wrote; what the connection could not take counts towards the total budget. */
  #flush(): void {
    this.#corked = false;
    this.#res.uncork();
    if (!this.#ended && this.#res.writableLength >= BEHIND_BYTES) this.#hooks.onBehind(this);
  }
}
