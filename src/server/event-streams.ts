import type { ServerResponse } from 'node:http';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CursorObserver, ResetReason, TaskEvent, TaskEventHub } from '../core/task-events.ts';
import { nextTurn } from '../core/turns.ts';
import { VERSION } from '../protocol/build-info.ts';
import { HttpError } from '../protocol/errors.ts';
import { type ResetData, shownState, sseFrame, taskEventData } from '../protocol/events.ts';
import { VERSION_HEADER } from '../protocol/routes.ts';
import { TokenShares } from './token-shares.ts';

/** Which events a stream wants: those of some ids, and/or of tasks shown in some states. */
export interface StreamFilter {
  readonly ids?: ReadonlySet<string> | undefined;
  readonly states?: ReadonlySet<string> | undefined;
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
}

// A client this far behind in reading is cut: it resumes from its last event when it comes back, so
// nothing is lost, and a stalled reader cannot make the server hold its events in memory.
const MAX_BUFFERED_BYTES = 1024 * 1024;
// While catching up, the next page waits until the client has taken most of the last one.
const CATCH_UP_BUFFER_BYTES = 64 * 1024;

// A frame is the same for every stream that sends it: made once per event, kept while the event lives.
const frames = new WeakMap<TaskEvent, { text: string; state: string }>();

function frameOf(event: TaskEvent): { text: string; state: string } {
  let frame = frames.get(event);
  if (frame === undefined) {
    const data = taskEventData(event);
    frame = { text: sseFrame({ event: 'task', id: event.seq, data: JSON.stringify(data) }), state: shownState(data) };
    frames.set(event, frame);
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
  readonly #byToken: TokenShares;
  #closing = false;

  constructor(options: EventStreamsOptions) {
    this.#options = options;
    this.#byToken = new TokenShares(options.maxOpen, options.tokenShare ?? 1);
    this.#gauge = new Gauge({ name: 'taskctl_open_event_streams', help: 'Event streams (GET /v1/events) open now; capped by --max-event-streams.', registers: [options.registry] });
    this.#cut = new Counter({
      name: 'taskctl_event_streams_cut_total',
      help: 'Event streams the server ended, by reason: slow (the client read too slowly; it resumes where it was), shutdown, revoked (a reload took its token away).',
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
      throw new HttpError('too_many_watches', `this token holds its share of this server's event streams (${this.#byToken.limit}) already; retry shortly`, { 'retry-after': '1' });
    }
    this.#byToken.change(tokenId, 1);
    const stream = new EventStream(res, filter, tokenId, (reason) => {
      this.#byToken.change(tokenId, -1);
      this.#streams.delete(stream);
      this.#counted();
      if (reason) this.#cut.inc({ reason });
    });
    // Counted from here, so streams arriving together cannot all pass the cap.
    this.#streams.add(stream);
    this.#counted();
    this.#options.parkHeld?.(res);
    await stream.follow(this.#options.hub, since);
  }

  #counted(): void {
    this.#gauge.set(this.#streams.size);
    this.#options.onOpenChanged?.(this.#streams.size);
  }

  /**
   * Ends the streams of file tokens `keep` says no (a reload took them away, or their right to list);
   * returns how many. Their clients come back and are refused.
   */
  endWhere(keep: (tokenId: string) => boolean): number {
    let ended = 0;
    for (const stream of [...this.#streams]) {
      if (stream.tokenId === undefined || keep(stream.tokenId)) continue;
      stream.end('revoked');
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

/** One client's stream: what the hub's follow() hands it, filtered and written as SSE frames. */
type EndReason = 'slow' | 'shutdown' | 'revoked';

class EventStream implements CursorObserver {
  readonly #res: ServerResponse;
  readonly #filter: StreamFilter;
  /** The file token that opened it, which a reload may take away. */
  readonly tokenId: string | undefined;
  readonly #onEnd: (reason?: EndReason) => void;
  #stop: () => void = () => {};
  /** Every event up to this seq has been considered (sent, or left out by the filter). */
  #cursor = 0;
  /** The id the client last heard. */
  #sentId = 0;
  #ended = false;
  #corked = false;

  constructor(res: ServerResponse, filter: StreamFilter, tokenId: string | undefined, onEnd: (reason?: EndReason) => void) {
    this.#res = res;
    this.#filter = filter;
    this.tokenId = tokenId;
    this.#onEnd = onEnd;
  }

  /** Follows the hub from `since`; the answer begins once the hub knows where that is. */
  async follow(hub: TaskEventHub, since: number | undefined): Promise<void> {
    this.#res.once('close', () => this.end());
    const following = hub.follow(since, this, () => this.#pace());
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
    const frame = frameOf(event);
    if (this.#filter.states !== undefined && !this.#filter.states.has(frame.state)) return;
    this.#sentId = event.seq;
    this.#write(frame.text);
  }

  /** Tells the client to list again; the stream goes on from `after`. */
  reset(after: number, why: ResetReason): void {
    if (this.#begin()) this.#write('retry: 1000\n\n');
    this.#cursor = this.#sentId = after;
    const data: ResetData = { reason: why.reason, ...(why.oldest !== undefined ? { oldest: why.oldest } : {}), ...(why.last !== undefined ? { last: why.last } : {}) };
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

  end(reason?: EndReason): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stop();
    this.#onEnd(reason);
    const res = this.#res;
    // Before the answer began, the caller still answers (a 503, say).
    if (!res.headersSent) return;
    if (reason === 'slow') res.destroy();
    // Then the connection closes (see #begin).
    else if (!res.destroyed) res.end(reason === 'shutdown' ? ': the server is stopping\n\n' : reason === 'revoked' ? ': the token was revoked\n\n' : undefined);
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

  /** Between pages of catching up: the next page waits until the client has taken most of the last one. */
  async #pace(): Promise<void> {
    if (!this.#ended && this.#res.writableLength > CATCH_UP_BUFFER_BYTES) await new Promise((resolve) => this.#res.once('drain', resolve).once('close', resolve));
    await nextTurn();
  }

  #write(text: string): void {
    if (this.#ended || this.#res.destroyed) return;
    // Frames written in one turn (a batch of events, a page when catching up) leave in one packet.
    if (!this.#corked) {
      this.#corked = true;
      this.#res.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#res.uncork();
      });
    }
    this.#res.write(text);
    if (this.#res.writableLength > MAX_BUFFERED_BYTES) this.end('slow');
  }
}
