import postgres, { type Options, type Sql } from 'postgres';

export interface ListenerOptions {
  /** The channels to LISTEN on, all on one connection. */
  readonly channels: readonly string[];
  /** A notification arrived. */
  onNotify(channel: string, payload: string): void;
  /** Listening on every channel: at the start, and again after each gap. Whatever was sent in a gap is lost. */
  onListening(again: boolean): void;
  /** The listening connection went: nothing will be heard until onListening. */
  onGap(): void;
  /** The wait before attempt `attempt` (1, 2, …) to listen again, in milliseconds. */
  retryMs(attempt: number): number;
  /** How long one attempt may take before it counts as failed. */
  attemptTimeoutMs: number;
}

/**
 * The connection that LISTENs, kept by the store rather than by the client library. The library's own
 * re-listening after a lost connection was seen to take many seconds, or not to come back within a test's
 * deadline, after the database had been unreachable for a while; and it says nothing while it is gone.
 * Here a lost connection is a gap the store is told of at once (so it can look things up itself meanwhile)
 * and every attempt to listen again is bounded in time and paced by `retryMs`.
 */
export class PostgresListener {
  readonly #sql: Sql;
  readonly #options: ListenerOptions;
  #listening = false;
  #retrying = false;
  #closed = false;
  /** Connections lost so far: an attempt that succeeded on a connection lost meanwhile does not count. */
  #losses = 0;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(url: string, connection: Pick<Options<{}>, 'connect_timeout' | 'connection' | 'backoff'>, options: ListenerOptions) {
    this.#options = options;
    this.#sql = postgres(url, {
      ...connection,
      max: 1,
      // The one connection stays open for as long as the store does.
      idle_timeout: null,
      max_lifetime: null,
      fetch_types: false,
      onnotice: () => {},
      onnotify: (channel: string, payload: string) => options.onNotify(channel, payload),
      onclose: () => this.#lost(),
    } as Options<{}>);
  }

  /** Whether every channel is being listened on now. */
  get listening(): boolean {
    return this.#listening;
  }

  /** Listens on every channel; rejects when the first attempt fails (the store then fails to open). */
  async start(): Promise<void> {
    await this.#listenOnce();
    this.#listening = true;
    this.#options.onListening(false);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    await this.#sql.end({ timeout: 1 });
  }

  #lost(): void {
    if (this.#closed) return;
    this.#losses++;
    if (this.#listening) {
      this.#listening = false;
      this.#options.onGap();
    }
    this.#retry(1);
  }

  #retry(attempt: number): void {
    if (this.#closed || this.#retrying) return;
    this.#retrying = true;
    this.#retryTimer = setTimeout(() => {
      const losses = this.#losses;
      this.#listenOnce().then(
        () => {
          this.#retrying = false;
          if (this.#closed || this.#listening) return;
          if (this.#losses !== losses) return this.#retry(1);
          this.#listening = true;
          this.#options.onListening(true);
        },
        () => {
          this.#retrying = false;
          this.#retry(attempt + 1);
        },
      );
    }, this.#options.retryMs(attempt));
    this.#retryTimer.unref();
  }

  async #listenOnce(): Promise<void> {
    const statement = this.#options.channels.map((channel) => `LISTEN ${quoteIdentifier(channel)}`).join('; ');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('LISTEN did not complete in time')), this.#options.attemptTimeoutMs);
    });
    try {
      await Promise.race([this.#sql.unsafe(statement), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A PostgreSQL identifier in double quotes, as LISTEN needs a channel name with a dot in it. */
function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
