import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { type Clock, systemClock } from '../core/clock.ts';
import { type CancelRecord, type CancelRoute, type CancelSource, type CancelStore, StoreUnavailableError } from '../core/store.ts';
import { InvalidInputError } from '../core/task-id.ts';
import type { TaskEventHub } from '../core/task-events.ts';
import { InvalidParentsError, LinkRefusedError } from '../core/task-family.ts';
import type { TaskService } from '../core/task-service.ts';
import type { Linker } from '../core/task-updates.ts';
import { HttpError } from '../protocol/errors.ts';
import { DEFAULT_MAX_EVENT_STREAMS, DEFAULT_MAX_WATCHED_IDS } from '../protocol/limits.ts';
import { EVENTS_HEARTBEAT_MS } from '../protocol/events.ts';
import {
  ANONYMOUS,
  type Authenticate,
  bearerAuth,
  type Caller,
  checkRight,
  checkScope,
  inScope,
  openAccess,
  ROLE_RIGHTS,
  type TokenEntry,
  TokenTable,
} from './auth.ts';
import { EventStreams, type UnwrittenBytesCaps } from './event-streams.ts';
import { type OnParked, PARK_FROM, ParkedConnections } from './park-connection.ts';
import { sendJson } from './http-io.ts';
import type { ServerMetrics } from './metrics.ts';
import { matchRoute, type RequestContext, type Route, truncate } from './router.ts';
import { eventRoutes } from './routes/events.ts';
import { meRoutes } from './routes/me.ts';
import { opsRoutes } from './routes/ops.ts';
import { seedRoutes } from './routes/seed.ts';
import { taskRoutes } from './routes/tasks.ts';
import { watchRoutes } from './routes/watch.ts';
import { webRoutes } from './routes/web.ts';
import { WatchHolder } from './watches.ts';
import type { WebhookObserver } from './webhooks.ts';
import type { WebAssets } from './web-assets.ts';

export interface ServerOptions {
  /** The longest a watch is held; also what a watch that names no timeout gets. */
  readonly watchTimeoutMs: number;
  readonly maxOpenWatches: number;
  /** Ids held across all open watches; a watch that would pass it gets 503 like one past maxOpenWatches. */
  readonly maxWatchedIds?: number;
  /** Event streams held at once, apart from watches; DEFAULT_MAX_EVENT_STREAMS unless told. */
  readonly maxEventStreams?: number;
  /**
   * The fraction of each cap (watches, watched ids, event streams) one file token may hold, so no one token
   * can starve the others; the whole cap unless told.
   */
  readonly tokenShare?: number;
  /** How long a watch session is kept without a poll; 60 s unless told otherwise. */
  readonly sessionIdleMs?: number;
  /** Each watch or event stream held beyond this many parks its connection (see park-connection.ts); 256 unless told otherwise. */
  readonly parkFrom?: number;
  /** What event streams may hold unwritten for clients that do not read: 256 KB each, 64 MB together, unless told otherwise. */
  readonly eventStreamUnwrittenBytes?: Partial<UnwrittenBytesCaps>;
  readonly maxBodyBytes: number;
  /** When set, every route but /ping and /healthz needs `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
  /** Role-scoped tokens (a tokens file); `token`, when set too, stays an admin token named "admin". */
  readonly tokens?: readonly TokenEntry[] | undefined;
  /** Served over TLS with a client CA: every request must come on a connection whose client certificate it verified. */
  readonly requireClientCertificate?: boolean | undefined;
  /** The web page served at `/` (see routes/web.ts); without it `/` is a 404 like any unknown route. */
  readonly webAssets?: WebAssets | undefined;
}

export type { CancelRoute };

/**
 * What the server tells its operator about; the serve command turns it into logs or a dashboard. Task
 * changes are not here: they are events, which the dashboard and the log follow like any subscriber
 * (TaskEventHub.subscribe).
 */
export interface ServerObserver {
  /**
   * A cancel was asked for, by `source` with its reason. With `repeat`, the task was cancelled already and
   * `record` is that first cancel, which stands (its `by` names the first asker).
   */
  cancelled?(record: CancelRecord, source: CancelSource & { reason?: string | undefined; repeat?: boolean }): void;
  /** A watch was answered: with a cancel, at its timeout, or because the client left or the server stops. */
  watchAnswered?(outcome: 'cancelled' | 'timeout' | 'gone'): void;
  /**
   * A watch was stopped at once through a link to a parent cancelled before it: `ids` are marked (and
   * those that are parents cancelled) as that cancel's asker wanted, through the links `linkedBy` made.
   */
  stoppedThroughParent?(ids: readonly string[], parent: CancelRecord, linkedBy: { readonly name: string; readonly address: string }): void;
  /** A cancel reached every descendant the store knows of: `marked` of them, in `ms`. */
  childrenCancelled?(record: CancelRecord, marked: number, ms: number): void;
  /** A request failed through no fault of the client. */
  failed?(error: unknown, request: { method: string; path: string }): void;
  /**
   * A request was refused for who sent it (see Refusal): the client's mistake, but the one an operator is
   * asked about ("my worker says not authorized") and the trace a stranger's probing leaves.
   */
  refused?(refusal: Refusal): void;
  /** Webhook deliveries made and failed. */
  readonly webhooks?: WebhookObserver;
}

/** A request refused at the trust boundary: no or a wrong token, a right or a scope its token lacks, no client certificate. */
export interface Refusal {
  readonly status: number;
  readonly code: string;
  /** Why, in words that name none of the request's tasks: refusals of many ids read alike. */
  readonly message: string;
  readonly method: string;
  readonly path: string;
  /** The client's address, as the connection shows it. */
  readonly address: string;
}

// The refusals that are about who asked (Refusal), as opposed to what was asked.
const TRUST_REFUSALS = new Set(['unauthorized', 'forbidden', 'out_of_scope', 'client_certificate_refused']);

export interface AppDependencies {
  /** Every change to a task, and every reading of one, goes through it. */
  readonly tasks: TaskService;
  readonly events: TaskEventHub;
  /** What /healthz asks whether the store answers. */
  readonly storeHealth: StoreHealth;
  /** How often an idle event stream gets a comment line (default 15 s). */
  readonly eventsHeartbeatMs?: number | undefined;
  readonly options: ServerOptions;
  readonly metrics: ServerMetrics;
  /** Told of answered watches and failed requests; task changes reach it through the task service's updates. */
  readonly observer?: ServerObserver;
  readonly clock?: Clock;
  /** Told of failures that do not fail the request (a status that could not be written). */
  readonly onBackgroundError?: (error: unknown) => void;
  /**
   * Told what the server holds whenever it changes: the ids its watches hold (a per-id watch holds one) and
   * its event streams. For each watch held and ended, so cheap.
   */
  readonly onHeldChanged?: ((held: number) => void) | undefined;
}

/** Whether the store answers, and what kind it is (the part of its description before the colon). */
export type StoreHealth = Pick<CancelStore, 'check' | 'description'>;

/** What the route families are built from; each takes the part it needs. */
export interface AppContext {
  /** Every change to a task, and every reading of one. */
  readonly tasks: TaskService;
  readonly options: ServerOptions;
  readonly clock: Clock;
  readonly onBackgroundError: (error: unknown) => void;
  readonly watches: WatchHolder;
  /** Whether `headers` prove a caller allowed to see `right`-level detail (for routes open to all). */
  readonly mayRead: (req: IncomingMessage) => boolean;
  /** Who the request's token proves (for routes open to all); throws the usual 401 when it proves no one. */
  readonly callerOf: (req: IncomingMessage) => Caller;
  /** Who is asking, as a cancel records it. */
  readonly sourceOf: (ctx: RequestContext, route: CancelRoute) => CancelSource;
  /** Who is asking, as a link they make is logged. */
  readonly linkerOf: (ctx: RequestContext) => Linker;
}

/** The request listener createApp makes, with what the server around it needs to ask and tell it. */
export type App = ReturnType<typeof createApp>;

/** The HTTP surface over the task service: routing, auth, and the one error mapping. Routes live in routes/. */
export function createApp({
  tasks,
  events,
  storeHealth,
  eventsHeartbeatMs,
  options,
  metrics,
  observer = {},
  clock = systemClock,
  onBackgroundError = () => {},
  onHeldChanged,
}: AppDependencies): RequestListener & {
  readonly openWatches: () => number;
  /** Ids held across all open watches. */
  readonly watchedIds: () => number;
  /** From now on, refuse new requests and close each connection after its answer. */
  readonly beginShutdown: () => void;
  /** Connections parked and still open. */
  readonly parkedConnections: () => number;
  /** Closes the parked connections still open (node:http's closeAllConnections does not see them). */
  readonly destroyParked: () => void;
  /**
   * Puts new tokens in force (a reload); ends the watches of tokens that may no longer watch (or no longer
   * reach the ids watched) and the event streams of those that may no longer list (or whose scope
   * changed). Returns how many of each, and how many tasks of ended watches it records `stopped` because
   * their worker can no longer report them.
   */
  readonly replaceTokens: (entries: readonly TokenEntry[]) => { watches: number; streams: number; tasksStopped: number };
} {
  const tokens = options.tokens ? new TokenTable(options.tokens, options.token) : undefined;
  const authenticate: Authenticate = tokens ? tokens.authenticate : options.token ? bearerAuth(options.token) : openAccess;
  const sourceOf = (ctx: RequestContext, route: CancelRoute): CancelSource => ({ name: ctx.caller.name, address: clientAddress(ctx.req), route });
  let shuttingDown = false;
  // Either count moving tells the sum of both.
  const heldChanged = onHeldChanged && ((): void => onHeldChanged(watches.heldIds + streams.open));
  // Watches and event streams are held alike: the line for parking counts both (each has its own cap).
  const heldOpen = (): number => watches.open + streams.open;
  // Past this many watches and streams held, each one held after them parks its connection.
  const parkFrom = options.parkFrom ?? PARK_FROM;
  const parked = new ParkedConnections();
  const parkHeld = (res: ServerResponse, onParked?: OnParked): void => {
    if (heldOpen() > parkFrom) parked.parkWhenParsed(res, onParked);
  };
  const watches = new WatchHolder({
    canceler: tasks.canceler,
    ledger: tasks,
    metrics,
    clock,
    watchTimeoutMs: options.watchTimeoutMs,
    maxOpenWatches: options.maxOpenWatches,
    maxWatchedIds: options.maxWatchedIds ?? DEFAULT_MAX_WATCHED_IDS,
    ...(options.sessionIdleMs === undefined ? {} : { sessionIdleMs: options.sessionIdleMs }),
    parkHeld,
    onBackgroundError,
    onAnswered: (outcome) => observer.watchAnswered?.(outcome),
    ...(heldChanged ? { onHeldIdsChanged: heldChanged } : {}),
    ...(options.tokenShare === undefined ? {} : { tokenShare: options.tokenShare }),
  });
  // Event streams have a cap of their own: a reader's streams cannot take the places workers' watches need.
  const streams = new EventStreams({
    hub: events,
    maxOpen: options.maxEventStreams ?? DEFAULT_MAX_EVENT_STREAMS,
    ...(options.tokenShare === undefined ? {} : { tokenShare: options.tokenShare }),
    registry: metrics.registry,
    heartbeatMs: eventsHeartbeatMs ?? EVENTS_HEARTBEAT_MS,
    parkHeld,
    ...(options.eventStreamUnwrittenBytes ? { unwrittenBytes: options.eventStreamUnwrittenBytes } : {}),
    ...(heldChanged ? { onOpenChanged: heldChanged } : {}),
  });
  const context: AppContext = {
    tasks,
    options,
    clock,
    onBackgroundError,
    watches,
    mayRead: (req) => {
      try {
        authenticate(req);
        return true;
      } catch {
        return false;
      }
    },
    callerOf: authenticate,
    sourceOf,
    linkerOf: (ctx) => ({ name: ctx.caller.name, address: clientAddress(ctx.req) }),
  };
  /** Records `ids` stopped (`stoppedBy` says why), those still running: their worker can no longer report them. */
  const stopUnreportable = (ids: readonly string[], stoppedBy: string): Promise<void> => tasks.stopRunning(ids, stoppedBy);
  const routes: Route[] = [
    ...seedRoutes(context),
    ...taskRoutes(context),
    ...watchRoutes(context),
    ...eventRoutes(context, streams),
    ...opsRoutes(context, storeHealth, metrics.registry),
    ...meRoutes(context),
    ...webRoutes(options.webAssets),
  ];

  /** Finds the route, checks the caller's right to it, and starts its handler. Not async, so nothing here stays alive while a watch waits. */
  const dispatch = (req: IncomingMessage, res: ServerResponse): Promise<void> | void => {
    const target = req.url ?? '/';
    const queryStart = target.indexOf('?');
    const path = queryStart === -1 ? target : target.slice(0, queryStart);
    // Checked before anything else, /ping included: without a verified certificate a client gets nothing.
    if (options.requireClientCertificate && !(req.socket as TLSSocket).authorized) throw clientCertificateRefused(req.socket as TLSSocket);
    const { route, params } = matchRoute(routes, req.method ?? 'GET', path);
    // No GET reads a body, so Node would take one in and throw it away for as long as it came, from anyone:
    // refused before the token is looked at, and the connection closed so the rest is never read.
    if (route.method === 'GET' && carriesBody(req.rawHeaders)) {
      res.shouldKeepAlive = false;
      throw new HttpError('invalid_request', `${req.method} ${truncate(path)} takes no request body`);
    }
    let caller = ANONYMOUS;
    if (route.right !== 'open') {
      caller = authenticate(req);
      checkRight(caller, route.right);
      if (route.scope === 'path-id') checkScope(caller, params.slice(0, 1));
    }
    return route.handle({ req, res, params, search: queryStart === -1 ? '' : target.slice(queryStart + 1), caller });
  };

  // The one place errors become replies.
  const replyError = (req: IncomingMessage, res: ServerResponse, error: unknown) => {
    let httpError: HttpError;
    if (error instanceof HttpError) httpError = error;
    // A watch's or report's parents: the worker's mistake (400), or a link only the run that starts a task may make (403).
    else if (error instanceof InvalidParentsError) httpError = new HttpError('invalid_parents', `parents: ${error.message}`);
    else if (error instanceof LinkRefusedError) httpError = new HttpError('link_refused', `parents: ${error.message}`);
    else if (error instanceof InvalidInputError) httpError = new HttpError('invalid_request', error.message);
    else if (error instanceof StoreUnavailableError) httpError = new HttpError('store_unavailable', error.message, { 'retry-after': '1' });
    else {
      observer.failed?.(error, { method: req.method ?? '?', path: truncate(req.url ?? '') });
      httpError = new HttpError('internal', 'the server failed to answer; see its log');
    }
    if (TRUST_REFUSALS.has(httpError.code)) {
      const { status, code, gist } = httpError;
      observer.refused?.({ status, code, message: gist, method: req.method ?? '?', path: truncate(req.url ?? ''), address: clientAddress(req) });
    }
    sendJson(res, httpError.status, { error: { code: httpError.code, message: httpError.message } }, { ...httpError.headers });
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (shuttingDown) {
      // Without this a worker whose watch was just answered would re-poll on the same keep-alive
      // connection, be answered at once, and spin until the connection is cut.
      res.shouldKeepAlive = false;
      replyError(req, res, new HttpError('shutting_down', 'the server is stopping; retry shortly', { 'retry-after': '1' }));
      return;
    }
    let handling: Promise<void> | void;
    try {
      handling = dispatch(req, res);
    } catch (error) {
      replyError(req, res, error);
      return;
    }
    handling?.catch((error: unknown) => replyError(req, res, error));
  };
  return Object.assign(listener, {
    openWatches: () => watches.open,
    watchedIds: () => watches.heldIds,
    beginShutdown: () => {
      shuttingDown = true;
      watches.beginShutdown();
      streams.close();
    },
    parkedConnections: () => parked.size,
    destroyParked: () => parked.destroyAll(),
    replaceTokens: (entries: readonly TokenEntry[]) => {
      if (!tokens) throw new Error('this server was started without a tokens file');
      const replaced = tokens.replace(entries);
      const covers = (tokenId: string, ids: readonly string[]) => tokens.callerOf(tokenId)?.scope?.firstOutside(ids) === undefined;
      // Tasks whose worker can no longer report them (its token gone, or no longer reaching them) would end
      // `lost`: the server records them `stopped` itself, as the worker would have.
      const stopped = new Map<string, string[]>();
      const ended = watches.endWhere(
        (tokenId, ids) => tokens.allows(tokenId, 'watch') && covers(tokenId, ids),
        (tokenId, ids) => {
          const now = tokens.callerOf(tokenId);
          const unreportable = !now || !ROLE_RIGHTS[now.role].has('report') ? ids : ids.filter((id) => !inScope(now, id));
          if (unreportable.length === 0) return;
          const why = now
            ? `token ${now.name} ${ROLE_RIGHTS[now.role].has('report') ? 'no longer covers it' : 'may no longer report'}`
            : `token ${replaced.get(tokenId)?.name ?? 'unknown'} revoked`;
          stopped.set(why, [...(stopped.get(why) ?? []), ...unreportable]);
        },
      );
      let tasksStopped = 0;
      for (const [stoppedBy, ids] of stopped) {
        tasksStopped += ids.length;
        stopUnreportable(ids, stoppedBy).catch(onBackgroundError);
      }
      return {
        watches: ended,
        streams:
          streams.endWhere((tokenId) => tokens.allows(tokenId, 'list')) +
          streams.endWhere((tokenId, scope) => tokens.callerOf(tokenId)?.scope?.equals(scope) ?? scope === undefined, 'rescoped'),
        tasksStopped,
      };
    },
  });
}

/** The client's address as logs show it: an IPv4 client of a dual-stack socket without its ::ffff: prefix. */
function clientAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function clientCertificateRefused(socket: TLSSocket): HttpError {
  // An empty object (not null) is what a peer that sent no certificate has.
  const sent = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
  const required = 'this server requires a client certificate signed by its client CA';
  if (!sent) return new HttpError('client_certificate_refused', `${required}, and none was sent (pass --cert and --key)`);
  // authorizationError is typed as an Error, but Node sets the verify error's code, a string.
  const code = String(socket.authorizationError ?? 'not verified');
  const why = /ISSUER|LEAF_SIGNATURE|SELF_SIGNED|UNTRUSTED/.test(code)
    ? 'it is signed by another CA'
    : code === 'CERT_HAS_EXPIRED'
      ? 'it has expired'
      : 'it could not be verified';
  return new HttpError('client_certificate_refused', `${required}, and refused the one sent: ${why} (${code})`);
}

/**
 * Whether a request says a body follows (Transfer-Encoding, or a Content-Length other than 0). Read from
 * the raw headers: asking for `req.headers` would build an object for every watch of a server without tokens.
 */
function carriesBody(rawHeaders: readonly string[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') return true;
    if (name.length === 14 && name.toLowerCase() === 'content-length' && rawHeaders[i + 1]!.trim() !== '0') return true;
  }
  return false;
}
