import { createServer, type Server } from 'node:http';
import type { Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Canceler } from '../core/canceler.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import type { CancelStore } from '../core/store.ts';
import type { EventWindow, TaskEventHub } from '../core/task-events.ts';
import type { TaskService } from '../core/task-service.ts';
import type { TaskTracker } from '../core/task-tracker.ts';
import type { ServerObserver, ServerOptions } from './app.ts';
import type { TokenEntry } from './auth.ts';
import { composeServer } from './compose.ts';
import { OpenConnections } from './connections.ts';
import { rawErrorReply } from './http-io.ts';
import type { WebhookConfig } from './webhooks.ts';
import type { ServerMetrics } from './metrics.ts';

/** What HTTPS is served with, as PEM text. */
export interface TlsConfig {
  /** The server's certificate, followed by any intermediate certificates: the whole chain is sent. */
  readonly cert: string;
  readonly key: string;
  /** When set, every client must present a certificate signed by this CA (mutual TLS). */
  readonly clientCa?: string | undefined;
  /** The oldest TLS version accepted: 1.2 (the default) or 1.3 only. */
  readonly minVersion?: '1.2' | '1.3' | undefined;
}

// What a TLS server offers: TLS 1.3's suites (every one of them has forward secrecy and AEAD), and for
// TLS 1.2 only ECDHE key exchange with AEAD ciphers, the common "intermediate" server profile. Node's own
// defaults also accept static-RSA key exchange (no forward secrecy) and CBC with SHA-1.
export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface ServerConfig extends ServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly store: CancelStore;
  readonly ttlMs: number;
  /** How long a watched task's worker may stay silent before the task is lost; default 3 watch timeouts. */
  readonly leaseMs?: number;
  /** Tasks nobody watches are forgotten once their last activity is this old; never when not set. */
  readonly retentionMs?: number;
  readonly observer?: ServerObserver;
  /** Where to tell other systems of tasks that end or are lost; none when not set. */
  readonly webhooks?: WebhookConfig;
  readonly clock?: Clock;
  /** Connections open at once; more are closed as they arrive. Unlimited when not set. */
  readonly maxConnections?: number;
  /** How long a client has to send its headers, and its whole request (defaults 10 s and 30 s). */
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** Told of background failures (sweeps, store look-ups) the server survives. */
  readonly onBackgroundError?: (error: unknown) => void;
  /** Told what the server holds whenever it changes: ids held by watches, plus event streams (see createApp). */
  readonly onHeldChanged?: (held: number) => void;
  /** Serve HTTPS with this certificate instead of plain HTTP. */
  readonly tls?: TlsConfig | undefined;
  /** How many task events the store keeps for resuming streams, and for how long (default 10,000, 1 h). */
  readonly eventWindow?: EventWindow;
  /** How often an idle event stream gets a comment line (default 15 s). */
  readonly eventsHeartbeatMs?: number;
  /** How often reported progress is written (default 2 s). */
  readonly progressIntervalMs?: number;
  /** How long a stopping server lets connections finish their answers before it closes them (default 2 s). */
  readonly drainMs?: number;
}

export interface RunningServer {
  /** The base URL clients use, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly port: number;
  readonly canceler: Canceler;
  /** Every change to a task, and every reading of one. */
  readonly tasks: TaskService;
  /** The task service's statuses (for tests that look at them directly). */
  readonly tracker: TaskTracker;
  readonly metrics: ServerMetrics;
  /** Task changes as events: subscribe to follow every change (on Redis, every server's). */
  readonly events: TaskEventHub;
  openWatches(): number;
  /** Connections open, counted from their first byte (a TLS handshake in progress included). */
  openConnections(): number;
  /** Connections parked (see park-connection.ts) and still open. */
  parkedConnections(): number;
  /** Task statuses the store holds (until retention forgets them). */
  trackedTasks(): Promise<number>;
  /**
   * Serves new connections with this certificate and key (and client CA); open connections, and the
   * watches they hold, keep theirs. Throws, changing nothing, when they do not make a usable pair.
   */
  reloadTls(tls: TlsConfig): void;
  /**
   * Puts new tokens in force; a token that may no longer watch (or reach the ids) has its open watches
   * answered, one that may no longer list (or whose scope changed) has its event streams ended. Returns how
   * many of each, and how many tasks it recorded `stopped` because their worker can no longer report them.
   */
  replaceTokens(entries: readonly TokenEntry[]): { watches: number; streams: number; tasksStopped: number };
  /** Stops accepting, answers open watches "not cancelled", lets answers drain, then closes the store. */
  close(): Promise<void>;
}

// Slow clients get this long to send their headers and the whole request; long polls are not affected,
// because a held watch ends at its own timeout. A socket between requests is closed after the keep-alive
// timeout; no idle timer per socket beyond that (each would cost every held watch a timer of its own).
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
// Node checks those two timeouts only this often (30 s by default), so without it a slow client held its
// socket up to 30 s longer than documented.
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
const DRAIN_MS = 2_000;

/** Starts a taskctl server; resolves once it listens. Its parts are made and wired in compose.ts. */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const { clock, canceler, tasks, events, metrics, app, stop } = await composeServer(config);
  const httpOptions = {
    headersTimeout: config.headersTimeoutMs ?? HEADERS_TIMEOUT_MS,
    requestTimeout: config.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_INTERVAL_MS, config.headersTimeoutMs ?? TIMEOUT_CHECK_INTERVAL_MS),
    keepAliveTimeout: 5_000,
  };
  const server: Server = config.tls
    ? // Loaded only for TLS: most servers never need node:https, and it costs start-up.
      process.getBuiltinModule('node:https').createServer(
        {
          ...httpOptions,
          ...secureContextOptions(config.tls),
          // A client that connects and never finishes the handshake gets no longer than one sending slow headers.
          handshakeTimeout: config.headersTimeoutMs ?? HEADERS_TIMEOUT_MS,
          // With a client CA, the handshake asks for a certificate but lets a connection without a good one
          // finish: the app then refuses each of its requests with an answer that says why, which a
          // handshake alert (often lost to a reset) cannot.
          requestCert: config.tls.clientCa !== undefined,
          rejectUnauthorized: false,
        },
        app,
      )
    : createServer(httpOptions, app);
  // Counted here rather than by node's server.maxConnections, which refuses newcomers even when idle
  // connections hold the places.
  const connections = new OpenConnections({ max: config.maxConnections, onRefused: () => metrics.droppedConnections.inc() });
  server.on('connection', connections.accept);
  server.on('request', connections.requestStarted);
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    // Only an HTTP request that went wrong is answered in HTTP. Anything else (a TLS handshake that failed
    // or never started, a reset) has no HTTP to answer with: an answer written on a socket whose handshake
    // never finished waits forever, holding the connection (and its place under --max-connections) after
    // its client has gone.
    const httpProblem = error.code?.startsWith('HPE_') || error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (!httpProblem || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, code, message] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'invalid_request', 'request headers too large']
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'invalid_request', 'the request did not arrive in time']
          : [400, 'invalid_request', 'not an HTTP request this server can read'];
    socket.end(rawErrorReply(status, code, message));
  });
  await listen(server, config.port, config.host);
  const { port } = server.address() as AddressInfo;
  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host;

  let closing: Promise<void> | undefined;
  return {
    url: `${config.tls ? 'https' : 'http'}://${hostForUrl}:${port}`,
    port,
    canceler,
    tasks,
    tracker: tasks.tracker,
    metrics,
    events,
    openWatches: app.openWatches,
    openConnections: () => connections.size,
    parkedConnections: app.parkedConnections,
    trackedTasks: () => config.store.countStatuses(),
    reloadTls: (tls) => {
      if (!config.tls) throw new Error('this server was started without TLS');
      if ((tls.clientCa === undefined) !== (config.tls.clientCa === undefined))
        throw new Error('a reload cannot turn client certificates on or off; restart the server for that');
      (server as TlsServer).setSecureContext(secureContextOptions(tls));
    },
    replaceTokens: app.replaceTokens,
    close: () =>
      (closing ??= (async () => {
        await stop();
        const destroyRest = () => {
          app.destroyParked();
          connections.destroyAll();
        };
        await shutDown(server, canceler, config.store, destroyRest, { clock, drainMs: config.drainMs ?? DRAIN_MS });
      })()),
  };
}

function secureContextOptions(tls: TlsConfig) {
  return {
    cert: tls.cert,
    key: tls.key,
    ciphers: TLS_CIPHERS,
    minVersion: tls.minVersion === '1.3' ? ('TLSv1.3' as const) : ('TLSv1.2' as const),
    ...(tls.clientCa !== undefined ? { ca: tls.clientCa } : {}),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Stops `server`: answers what is held (the canceler ends every wait), lets connections finish their
 * answers for `drainMs` (DRAIN_MS unless told) on `clock`, then closes whatever is still open
 * (`destroyRest` closes what node:http does not list), and the store.
 */
export async function shutDown(
  server: Server,
  canceler: Pick<Canceler, 'close'>,
  store: Pick<CancelStore, 'close'>,
  destroyRest: () => void,
  { clock = systemClock, drainMs = DRAIN_MS }: { clock?: Clock; drainMs?: number } = {},
): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  canceler.close();
  server.closeIdleConnections();
  let drainTimer: ReturnType<Clock['setTimeout']> | undefined;
  const drainEnded = new Promise<boolean>((resolve) => {
    drainTimer = clock.setTimeout(() => resolve(false), drainMs);
  });
  const drained = await Promise.race([closed.then(() => true), drainEnded]);
  clock.clearTimer(drainTimer!);
  if (!drained) {
    server.closeAllConnections();
    // What node:http does not list: parked connections, and those still in a TLS handshake.
    destroyRest();
    await closed;
  }
  await store.close();
}
