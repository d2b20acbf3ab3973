import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from '../core/backoff.ts';
import { EVENTS_HEARTBEAT_MS, type ResetData, resetDataSchema, type TaskEventData, taskEventDataSchema } from '../protocol/events.ts';
import { SseParser, type SseMessage, SseTooLargeError } from '../protocol/sse.ts';
import { ClientError, type TaskctlClient } from './client.ts';
import { sleep } from './sleep.ts';

/** What an event stream reports as it goes. Every method is optional. */
export interface EventStreamListener {
  /** The server answered for the first time. */
  connected?(): void;
  /** The stream broke or could not be opened; it is opened again after `retryInMs`. `attempt` counts failures in a row. */
  disconnected?(error: ClientError, attempt: number, retryInMs: number): void;
  /** The server answered again after failures. */
  reconnected?(): void;
  /** Bytes came (an event, or the heartbeat): the link is alive. */
  alive?(): void;
  /** A task changed; `seq` is the event's id. */
  event?(data: TaskEventData, seq: number): void;
  /** Events were lost to this client (it resumed from before the server's window): list the tasks again. */
  reset?(data: ResetData, seq: number | undefined): void;
}

export interface EventStreamOptions {
  /** Only these tasks' events. */
  readonly ids?: readonly string[] | undefined;
  /** Only events showing a task in one of these states. */
  readonly states?: readonly string[] | undefined;
  /** Start after this event id (one the stream sent earlier); live from now when not given. */
  readonly since?: number | undefined;
  readonly backoff?: BackoffPolicy;
  readonly listener?: EventStreamListener;
  /** Silence after which the stream is taken for dead and opened again; default 3 server heartbeats. */
  readonly idleTimeoutMs?: number;
}

/**
 * Follows GET /v1/events and never gives up on the network: a stream that breaks, ends or falls silent
 * is opened again with capped, jittered backoff, resuming after the last event it delivered
 * (Last-Event-ID), so no event is missed or delivered twice. Rejects only with a fatal ClientError (the
 * token or TLS trust was refused).
 */
export class EventStream {
  readonly #client: TaskctlClient;
  readonly #options: EventStreamOptions;
  readonly #listener: EventStreamListener;
  #lastId: number | undefined;

  constructor(client: TaskctlClient, options: EventStreamOptions = {}) {
    this.#client = client;
    this.#options = options;
    this.#listener = options.listener ?? {};
    this.#lastId = options.since;
  }

  /** The id of the last event delivered (or where the stream stands): where a resume starts. */
  get lastEventId(): number | undefined {
    return this.#lastId;
  }

  async run(signal: AbortSignal): Promise<void> {
    const backoff = this.#options.backoff ?? DEFAULT_BACKOFF;
    let link: 'new' | 'up' | 'down' = 'new';
    let failures = 0;
    let first = true;
    while (!signal.aborted) {
      let error: ClientError;
      try {
        // The first connection asks for ?since=; later ones resume with Last-Event-ID, as EventSource does.
        const body = await this.#client.openEvents(
          { since: first ? this.#options.since : undefined, ids: this.#options.ids, states: this.#options.states },
          { signal, lastEventId: first ? undefined : this.#lastId },
        );
        first = false;
        if (link === 'new') this.#listener.connected?.();
        if (link === 'down') this.#listener.reconnected?.();
        link = 'up';
        failures = 0;
        await this.#read(body, signal);
        if (signal.aborted) break;
        // The server ended the stream (it is stopping): open it again, elsewhere behind a balancer.
        error = new ClientError('unreachable', `${this.#client.server} ended the event stream`);
      } catch (caught) {
        if (signal.aborted) break;
        error = ClientError.from(caught);
        if (error.fatal) throw error;
      }
      failures++;
      link = 'down';
      const delay = backoffDelay(failures, backoff);
      this.#listener.disconnected?.(error, failures, delay);
      await sleep(delay, signal);
    }
  }

  /** Reads events until the stream ends, breaks or falls silent for longer than the idle timeout. */
  async #read(body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<void> {
    const parser = new SseParser();
    const idleMs = this.#options.idleTimeoutMs ?? 3 * EVENTS_HEARTBEAT_MS;
    const iterator = body[Symbol.asyncIterator]();
    let idle: NodeJS.Timeout | undefined;
    let silent = false;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        silent = true;
        // Ends the read below: the body's stream is destroyed.
        void iterator.return?.();
        (body as unknown as { destroy?: () => void }).destroy?.();
      }, idleMs);
    };
    const onAbort = () => (body as unknown as { destroy?: () => void }).destroy?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      arm();
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await iterator.next();
        } catch (error) {
          if (signal.aborted) return;
          if (silent) throw new ClientError('timeout', `${this.#client.server} sent nothing on the event stream for ${Math.round(idleMs / 1_000)}s`);
          throw new ClientError('unreachable', `the event stream from ${this.#client.server} broke: ${describe(error)}`);
        }
        if (silent) throw new ClientError('timeout', `${this.#client.server} sent nothing on the event stream for ${Math.round(idleMs / 1_000)}s`);
        if (next.done) return;
        arm();
        this.#listener.alive?.();
        let messages: SseMessage[];
        try {
          messages = parser.push(next.value);
        } catch (error) {
          if (error instanceof SseTooLargeError) throw new ClientError('protocol', error.message);
          throw error;
        }
        for (const message of messages) this.#deliver(message);
        // An id-only block (where the stream starts, or the heartbeat's past filtered-out events) moves the resume point too.
        if (parser.lastId !== undefined && /^\d+$/.test(parser.lastId)) this.#lastId = Number(parser.lastId);
      }
    } finally {
      clearTimeout(idle);
      signal.removeEventListener('abort', onAbort);
    }
  }

  #deliver(message: SseMessage): void {
    const seq = message.id !== undefined && /^\d+$/.test(message.id) ? Number(message.id) : undefined;
    let data: unknown;
    try {
      data = JSON.parse(message.data);
    } catch {
      throw new ClientError('protocol', `${this.#client.server} sent an event whose data is not JSON`);
    }
    if (message.type === 'task') {
      const parsed = taskEventDataSchema.safeParse(data);
      if (!parsed.success || seq === undefined) throw new ClientError('protocol', `${this.#client.server} sent a task event taskctl does not understand`);
      this.#lastId = seq;
      this.#listener.event?.(parsed.data, seq);
    } else if (message.type === 'reset') {
      const parsed = resetDataSchema.safeParse(data);
      if (!parsed.success) throw new ClientError('protocol', `${this.#client.server} sent a reset event taskctl does not understand`);
      if (seq !== undefined) this.#lastId = seq;
      this.#listener.reset?.(parsed.data, seq);
    }
    // Other types are a newer server's: skipped.
  }
}

function describe(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE') return 'connection reset';
  return (error as Error)?.message ?? String(error);
}
