import type { ServerResponse } from 'node:http';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { TaskEvent, TaskEventHub, TaskEventObserver } from '../core/task-events.ts';
import { nextTurn } from '../core/turns.ts';
import { VERSION } from '../protocol/build-info.ts';
import { HttpError } from '../protocol/errors.ts';
import { type ResetData, shownState, sseFrame, taskEventData } from '../protocol/events.ts';
import { VERSION_HEADER } from '../protocol/routes.ts';

/** Which events a stream wants: those of some ids, and/or of tasks shown in some states. */
export interface StreamFilter {
  readonly ids?: ReadonlySet<string> | undefined;
  readonly states?: ReadonlySet<string> | undefined;
}

export interface EventStreamsOptions {
  readonly hub: TaskEventHub;
  /** Whether one more watch-like connection fits the caps (open watches and streams together). */
  readonly roomForOne: () => boolean;
  /** The cap, for the refusal's message. */
  readonly maxOpen: number;
  /** Where the streams' gauges and counters go. */
  readonly registry: Registry;
  /** How often an idle stream gets a comment line. */
  readonly heartbeatMs: number;
}

// Events read from the store per step when a stream catches up; it takes its turn between steps.
const CATCH_UP_PAGE = 500;
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
  #closing = false;

  constructor(options: EventStreamsOptions) {
    this.#options = options;
    this.#gauge = new Gauge({ name: 'taskctl_open_event_streams', help: 'Event streams (GET /v1/events) open now; they count towards --max-watches.', registers: [options.registry] });
    this.#cut = new Counter({
      name: 'taskctl_event_streams_cut_total',
      help: 'Event streams the server ended, by reason: slow (the client read too slowly; it resumes where it was), shutdown.',
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
   * wants. Throws (before anything is written) when the caps are reached or the server is stopping;
   * resolves when the stream ends.
   */
  async serve(res: ServerResponse, filter: StreamFilter, since: number | undefined): Promise<void> {
    if (this.#closing) throw new HttpError('shutting_down', 'the server is stopping; retry shortly', { 'retry-after': '1' });
    if (!this.#options.roomForOne()) {
      throw new HttpError('too_many_watches', `this server holds ${this.#options.maxOpen} watches and event streams already; retry shortly`, { 'retry-after': '1' });
    }
    const hub = this.#options.hub;
    const stream = new EventStream(res, filter, hub, (reason) => {
      this.#streams.delete(stream);
      this.#gauge.set(this.#streams.size);
      if (reason) this.#cut.inc({ reason });
    });
    // Counted from here, so streams arriving together cannot all pass the cap.
    this.#streams.add(stream);
    this.#gauge.set(this.#streams.size);
    let bounds;
    try {
      // Where the window stands is asked before anything is written, so a store that cannot answer is a 503.
      bounds = since === undefined ? undefined : await hub.read(Number.MAX_SAFE_INTEGER, 0);
    } catch (error) {
      stream.end();
      throw error;
    }
    if (res.destroyed) stream.end();
    else await stream.start(since, bounds);
  }

  /** Ends every stream (the server stops); new ones are refused from now on. */
  close(): void {
    this.#closing = true;
    clearInterval(this.#heartbeat);
    for (const stream of [...this.#streams]) stream.end('shutdown');
  }
}

/** One client's stream: catches up from the store, then follows the hub. */
class EventStream implements TaskEventObserver {
  readonly #res: ServerResponse;
  readonly #filter: StreamFilter;
  readonly #hub: TaskEventHub;
  readonly #onEnd: (reason?: 'slow' | 'shutdown') => void;
  #unsubscribe: () => void = () => {};
  /** Every event up to this seq has been considered (sent, or left out by the filter). */
  #cursor = 0;
  /** The id the client last heard. */
  #sentId = 0;
  #live = false;
  #ended = false;
  #corked = false;

  constructor(res: ServerResponse, filter: StreamFilter, hub: TaskEventHub, onEnd: (reason?: 'slow' | 'shutdown') => void) {
    this.#res = res;
    this.#filter = filter;
    this.#hub = hub;
    this.#onEnd = onEnd;
  }

  async start(since: number | undefined, bounds: { oldest: number; last: number } | undefined): Promise<void> {
    const res = this.#res;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      // nginx and similar proxies pass each event on at once instead of buffering the answer.
      'x-accel-buffering': 'no',
      [VERSION_HEADER]: VERSION,
    });
    res.once('close', () => this.end());
    // Heard before catching up begins, so no event slips between the two; until live, it waits.
    this.#unsubscribe = this.#hub.subscribe(this);
    const now = this.#hub.delivered;
    const outside = since !== undefined && bounds !== undefined && (since < bounds.oldest - 1 || since > bounds.last);
    // Told where it starts, so a client that hears nothing before it reconnects resumes from here.
    this.#write(outside ? 'retry: 1000\n\n' : `retry: 1000\nid: ${since ?? now}\n\n`);
    this.#cursor = this.#sentId = since ?? now;
    if (since === undefined) {
      this.#live = true;
    } else if (outside) {
      this.#reset(since > bounds.last ? `event ${since} is not from this server's sequence (it starts over at ${bounds.oldest})` : `the events after ${since} are no longer kept (the oldest kept is ${bounds.oldest})`, bounds);
    } else {
      try {
        await this.#catchUp();
      } catch {
        // The store failed mid-way: the client comes back (with backoff) and resumes from what it heard.
        this.#write(': the store is unavailable; reconnect\n\n');
        this.end();
      }
    }
  }

  /** Sends what the store holds after the cursor, a page per turn, until it reaches what the hub delivered. */
  async #catchUp(): Promise<void> {
    for (;;) {
      if (this.#ended) return;
      if (this.#cursor >= this.#hub.delivered) {
        this.#live = true;
        return;
      }
      const page = await this.#hub.read(this.#cursor, CATCH_UP_PAGE);
      if (this.#ended) return;
      const first = page.events[0];
      if (first === undefined || first.seq !== this.#cursor + 1) {
        // The window moved past the cursor while catching up.
        if (first !== undefined || page.last > this.#cursor) {
          this.#reset(`the events after ${this.#cursor} were dropped from the window while catching up`, page);
          return;
        }
      }
      for (const event of page.events) this.#send(event);
      if (this.#res.writableLength > CATCH_UP_BUFFER_BYTES) await new Promise((resolve) => this.#res.once('drain', resolve));
      await nextTurn();
    }
  }

  taskEvent(event: TaskEvent): void {
    if (!this.#live || event.seq <= this.#cursor) return;
    this.#send(event);
  }

  reset(after: number): void {
    if (!this.#live) return;
    this.#cursor = after;
    this.#reset(`this server fell behind the event window`, undefined, after);
  }

  closed(): void {
    this.end('shutdown');
  }

  heartbeat(): void {
    if (this.#ended) return;
    // The id, when filtered-out events moved the cursor, so a resume need not look at them again.
    const id = this.#cursor > this.#sentId ? `id: ${this.#cursor}\n` : '';
    this.#sentId = this.#cursor;
    this.#write(`: keepalive\n${id}\n`);
  }

  end(reason?: 'slow' | 'shutdown'): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#unsubscribe();
    this.#onEnd(reason);
    const res = this.#res;
    // Before the answer began, the caller still answers (a 503, say).
    if (!res.headersSent) return;
    if (reason === 'slow') res.destroy();
    else if (!res.destroyed) {
      // Then the connection closes, so a stopping server is not kept waiting by an idle keep-alive socket.
      res.end(reason === 'shutdown' ? ': the server is stopping\n\n' : undefined, () => res.socket?.end());
    }
  }

  #send(event: TaskEvent): void {
    this.#cursor = event.seq;
    if (this.#filter.ids !== undefined && !this.#filter.ids.has(event.id)) return;
    const frame = frameOf(event);
    if (this.#filter.states !== undefined && !this.#filter.states.has(frame.state)) return;
    this.#sentId = event.seq;
    this.#write(frame.text);
  }

  /** Tells the client to list again; the stream goes on live from what the hub delivered. */
  #reset(reason: string, bounds: { oldest: number; last: number } | undefined, at = this.#hub.delivered): void {
    this.#cursor = this.#sentId = Math.max(at, this.#hub.delivered);
    const data: ResetData = { reason, ...(bounds ? { oldest: bounds.oldest, last: bounds.last } : {}) };
    this.#write(sseFrame({ event: 'reset', id: this.#cursor, data: JSON.stringify(data) }));
    this.#live = true;
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
