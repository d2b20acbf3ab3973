import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Canceler, WaitResult } from '../core/canceler.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import { type CancelRecord, StoreUnavailableError } from '../core/store.ts';
import { InvalidInputError } from '../core/task-id.ts';
import { HttpError } from '../protocol/errors.ts';
import { MIN_WATCH_TIMEOUT_MS } from '../protocol/limits.ts';
import {
  cancelRequestSchema,
  firstProblem,
  reportRequestSchema,
  type ScheduledReply,
  type TaskListReply,
  taskListQuerySchema,
  type HealthReply,
  type TaskReply,
  taskIdSchema,
  type WatchReply,
  watchQuerySchema,
  watchRequestSchema,
} from '../protocol/schemas.ts';
import { recordToWire, statusToWire } from '../protocol/wire.ts';
import type { TaskTracker } from '../core/task-tracker.ts';
import type { CancelScheduler } from '../core/cancel-scheduler.ts';
import type { TaskStatus, WorkerIdentity } from '../core/task-status.ts';
import { bearerAuth } from './auth.ts';
import { readJson, sendJson, sendText } from './http-io.ts';
import type { ServerMetrics } from './metrics.ts';
import type { z } from 'zod';

export interface ServerOptions {
  /** The longest a watch is held; also what a watch that names no timeout gets. */
  readonly watchTimeoutMs: number;
  readonly maxOpenWatches: number;
  readonly maxBodyBytes: number;
  /** When set, every route but /ping and /healthz needs `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
}

/** What the server tells its operator about; the serve command turns it into logs or a dashboard. */
export interface ServerObserver {
  cancelled?(record: CancelRecord, source: { address: string; route: 'seed' | 'v1' | 'scheduled'; reason?: string | undefined }): void;
  /** A watch was answered: with a cancel, at its timeout, or because the client left or the server stops. */
  watchAnswered?(outcome: 'cancelled' | 'timeout' | 'gone'): void;
  /** A task's state changed (watching, cancel requested, how it ended, lost). */
  taskChanged?(status: TaskStatus): void;
  /** A task went lost: its worker was silent for longer than the lease. */
  lost?(status: TaskStatus): void;
  /** A request failed through no fault of the client. */
  failed?(error: unknown, request: { method: string; path: string }): void;
}

interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly params: readonly string[];
  /** The query string without its "?"; parsed only by the route that reads it. */
  readonly search: string;
}

interface Route {
  readonly method: 'GET' | 'POST';
  readonly pattern: RegExp;
  /** Open routes answer without a token. */
  readonly open?: boolean;
  readonly handle: (ctx: RequestContext) => Promise<void>;
}

export interface AppDependencies {
  readonly canceler: Canceler;
  readonly tracker: TaskTracker;
  readonly scheduler: CancelScheduler;
  readonly options: ServerOptions;
  readonly metrics: ServerMetrics;
  readonly observer?: ServerObserver;
  readonly clock?: Clock;
  /** Told of failures that do not fail the request (a status that could not be written). */
  readonly onBackgroundError?: (error: unknown) => void;
}

/** The HTTP surface over a canceler: routing, validation, auth, long polls, and the one error mapping. */
export function createApp({ canceler, tracker, scheduler, options, metrics, observer = {}, clock = systemClock, onBackgroundError = () => {} }: AppDependencies): RequestListener & {
  readonly openWatches: () => number;
  /** From now on, refuse new requests and close each connection after its answer. */
  readonly beginShutdown: () => void;
} {
  const authorize = options.token ? bearerAuth(options.token) : () => {};
  let openWatches = 0;
  let shuttingDown = false;

  const parse = <S extends z.ZodType>(schema: S, input: unknown, code: 'invalid_request' | 'invalid_task_id' = 'invalid_request'): z.output<S> => {
    const result = schema.safeParse(input);
    if (!result.success) throw new HttpError(code, firstProblem(result.error));
    return result.data;
  };
  const taskIdParam = (ctx: RequestContext) => parse(taskIdSchema, ctx.params[0], 'invalid_task_id');

  const recordCancel = async (ctx: RequestContext, id: string, route: 'seed' | 'v1', reason?: string) => {
    const record = await canceler.cancel(id, reason === undefined ? {} : { reason });
    // The cancel itself is stored and answered now; the status follows in the next group write (a task
    // with a record reads as cancel_requested meanwhile), and one that fails is reported, not fatal.
    tracker.cancelRequested(id).catch(onBackgroundError);
    metrics.cancels.inc({ route });
    observer.cancelled?.(record, { address: ctx.req.socket.remoteAddress ?? 'unknown', route, reason });
    return record;
  };

  /**
   * Holds a long poll on `ids` until one is cancelled, the timeout passes, or the client leaves. Written
   * without async/await and with as few objects as possible: thousands of these are held at once, and
   * every byte here is multiplied by them.
   */
  const holdWatch = (res: ServerResponse, ids: readonly string[], timeoutMs: number, worker?: WorkerIdentity): Promise<WaitResult> => {
    if (openWatches >= options.maxOpenWatches) {
      metrics.rejectedWatches.inc();
      throw new HttpError('too_many_watches', `this server holds ${options.maxOpenWatches} watches already; retry shortly`, { 'retry-after': '1' });
    }
    openWatches++;
    metrics.openWatches.inc();
    tracker.watchStarted(ids, worker).catch(onBackgroundError);
    return new Promise((resolve) => {
      let timedOut = false;
      const end = canceler.waitFor(ids, (result) => {
        clearTimeout(timer);
        res.off('close', end);
        tracker.watchEnded(ids);
        openWatches--;
        metrics.openWatches.dec();
        // "gone": the client left, or the server is stopping and ended the wait early.
        const outcome = result.cancelled.length > 0 ? 'cancelled' : timedOut ? 'timeout' : 'gone';
        metrics.watchRequests.inc({ outcome });
        observer.watchAnswered?.(outcome);
        if (shuttingDown) res.shouldKeepAlive = false;
        resolve(result);
      });
      const timer = setTimeout(() => {
        timedOut = true;
        end();
      }, timeoutMs);
      // 'close' before the answer is written means the client left.
      res.once('close', end);
    });
  };

  const observeLatency = (result: WaitResult) => {
    if (result.cancelArrivedAt !== undefined) metrics.notifyLatency.observe((clock.monotonic() - result.cancelArrivedAt) / 1_000);
  };

  const watchTimeout = (requestedMs: number | undefined) => {
    if (requestedMs === undefined) return options.watchTimeoutMs;
    if (requestedMs < MIN_WATCH_TIMEOUT_MS) throw new HttpError('invalid_request', `timeout: at least ${MIN_WATCH_TIMEOUT_MS}ms`);
    // The server decides how long a worker may wait: asking for more gets the server's limit.
    return Math.min(requestedMs, options.watchTimeoutMs);
  };

  const answerWatch = async (ctx: RequestContext, ids: readonly string[], requestedMs: number | undefined, worker?: WorkerIdentity) => {
    const result = await holdWatch(ctx.res, ids, watchTimeout(requestedMs), worker);
    const reply: WatchReply = { cancelled: result.cancelled.map((r) => r.id), records: result.cancelled.map(recordToWire) };
    sendJson(ctx.res, 200, reply);
    observeLatency(result);
  };

  const routes: Route[] = [
    {
      method: 'GET',
      pattern: /^\/ping$/,
      open: true,
      handle: async (ctx) => sendJson(ctx.res, 200, { message: 'pong' }),
    },
    {
      // Seed route: 200 text "ok" once the cancel is stored.
      method: 'GET',
      pattern: /^\/cancel-task\/([^/]+)$/,
      handle: async (ctx) => {
        await recordCancel(ctx, taskIdParam(ctx), 'seed');
        sendText(ctx.res, 200, 'ok');
      },
    },
    {
      // Seed route: text "true" when the id is cancelled, "false" when the server's watch timeout passed
      // (or the server is stopping): either way the worker simply asks again.
      method: 'GET',
      pattern: /^\/watch-task\/([^/]+)$/,
      handle: (ctx) =>
        holdWatch(ctx.res, [taskIdParam(ctx)], options.watchTimeoutMs).then((result) => {
          sendText(ctx.res, 200, result.cancelled.length > 0 ? 'true' : 'false');
          observeLatency(result);
        }),
    },
    {
      // 200 with the record once stored; with "after" or "at" in the future, 202 with the schedule.
      method: 'POST',
      pattern: /^\/v1\/tasks\/([^/]+)\/cancel$/,
      handle: async (ctx) => {
        const id = taskIdParam(ctx);
        const body = parse(cancelRequestSchema, await readJson(ctx.req, options.maxBodyBytes));
        const now = clock.now();
        const at = body.after !== undefined ? now + body.after : body.at !== undefined ? Date.parse(body.at) : now;
        if (at > now) {
          const schedule = await scheduler.schedule(id, at, body.reason);
          const reply: ScheduledReply = { id, scheduledAt: new Date(schedule.at).toISOString() };
          if (schedule.reason !== undefined) reply.reason = schedule.reason;
          sendJson(ctx.res, 202, reply);
          return;
        }
        const record = await recordCancel(ctx, id, 'v1', body.reason);
        sendJson(ctx.res, 200, recordToWire(record));
      },
    },
    {
      // Whether the task is cancelled, and what the server knows of its life.
      method: 'GET',
      pattern: /^\/v1\/tasks\/([^/]+)$/,
      handle: async (ctx) => {
        const id = taskIdParam(ctx);
        const [[record], [status], [schedule]] = await Promise.all([canceler.find([id]), tracker.statuses([id]), canceler.store.loadSchedules([id])]);
        const reply: TaskReply = { id, cancelled: record !== undefined };
        if (record) reply.record = recordToWire(record);
        if (schedule) reply.scheduled = { at: new Date(schedule.at).toISOString(), ...(schedule.reason === undefined ? {} : { reason: schedule.reason }) };
        if (status) reply.status = statusToWire(record && (status.state === 'watching' || status.state === 'lost') ? { ...status, state: 'cancel_requested' } : status);
        sendJson(ctx.res, 200, reply);
      },
    },
    {
      // Statuses in id order, one page at a time: ?state=lost&limit=100&after=<last id of the page before>.
      method: 'GET',
      pattern: /^\/v1\/tasks$/,
      handle: async (ctx) => {
        const query = parse(taskListQuerySchema, queryObject(new URLSearchParams(ctx.search)));
        // One more than asked tells whether another page follows.
        const found = await tracker.list({ ...query, limit: query.limit + 1 });
        // A task the lease made lost is listed as lost even before the sweep wrote it down.
        const page = (query.state ? found.filter((s) => s.state === query.state) : found).slice(0, query.limit);
        const reply: TaskListReply = { tasks: page.map((s) => ({ id: s.id, ...statusToWire(s) })) };
        if (found.length > query.limit) reply.next = page.at(-1)!.id;
        sendJson(ctx.res, 200, reply);
      },
    },
    {
      // A worker's report of how the task ended; idempotent, so workers retry it freely.
      method: 'POST',
      pattern: /^\/v1\/tasks\/([^/]+)\/report$/,
      handle: async (ctx) => {
        const id = taskIdParam(ctx);
        const body = parse(reportRequestSchema, await readJson(ctx.req, options.maxBodyBytes));
        const status = await tracker.reported(id, body);
        // The task is over: a cancel still scheduled for it (its deadline) has nothing left to stop.
        await canceler.store.unschedule(id);
        sendJson(ctx.res, 200, { id, ...statusToWire(status) });
      },
    },
    {
      // 200 {"cancelled": [ids]} as soon as any watched id is cancelled; {"cancelled": []} at the timeout.
      method: 'GET',
      pattern: /^\/v1\/watch$/,
      handle: async (ctx) => {
        const query = parse(watchQuerySchema, queryObject(new URLSearchParams(ctx.search)));
        await answerWatch(ctx, query.ids, query.timeout);
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/watch$/,
      handle: async (ctx) => {
        const body = parse(watchRequestSchema, await readJson(ctx.req, options.maxBodyBytes));
        await answerWatch(ctx, body.ids, body.timeout, body.worker);
      },
    },
    {
      // 200 when the store answers, 503 when it does not; the body says which either way.
      method: 'GET',
      pattern: /^\/healthz$/,
      open: true,
      handle: async (ctx) => {
        const store = canceler.store;
        let error: string | undefined;
        try {
          await withTimeout(store.check(), 2_000, 'the store did not answer within 2s');
        } catch (e) {
          error = (e as Error).message;
        }
        const reply: HealthReply = {
          status: error ? 'degraded' : 'ok',
          store: { kind: store.description.split(':')[0]!, ok: !error, ...(error ? { error } : {}) },
          openWatches,
        };
        sendJson(ctx.res, error ? 503 : 200, reply);
      },
    },
    {
      method: 'GET',
      pattern: /^\/metrics$/,
      handle: async (ctx) => sendText(ctx.res, 200, await metrics.registry.metrics(), metrics.registry.contentType),
    },
  ];

  /** Finds the route and starts its handler. Not async, so nothing here stays alive while a watch waits. */
  const dispatch = (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = req.url ?? '/';
    const queryStart = target.indexOf('?');
    const path = queryStart === -1 ? target : target.slice(0, queryStart);
    let allowed = '';
    for (const route of routes) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      if (route.method !== req.method) {
        allowed += allowed ? `, ${route.method}` : route.method;
        continue;
      }
      if (!route.open) authorize(req.headers);
      let params: string[];
      try {
        params = match.slice(1).map((part) => decodeURIComponent(part ?? ''));
      } catch {
        throw new HttpError('invalid_request', 'the path is not valid percent-encoded UTF-8');
      }
      return route.handle({ req, res, params, search: queryStart === -1 ? '' : target.slice(queryStart + 1) });
    }
    if (allowed) throw new HttpError('method_not_allowed', `${truncate(path)} takes ${allowed}`, { allow: allowed });
    throw new HttpError('not_found', `no route ${req.method} ${truncate(path)}`);
  };

  // The one place errors become replies.
  const replyError = (req: IncomingMessage, res: ServerResponse, error: unknown) => {
    let httpError: HttpError;
    if (error instanceof HttpError) httpError = error;
    else if (error instanceof InvalidInputError) httpError = new HttpError('invalid_request', error.message);
    else if (error instanceof StoreUnavailableError) httpError = new HttpError('store_unavailable', error.message, { 'retry-after': '1' });
    else {
      observer.failed?.(error, { method: req.method ?? '?', path: truncate(req.url ?? '') });
      httpError = new HttpError('internal', 'the server failed to answer; see its log');
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
    let handling: Promise<void>;
    try {
      handling = dispatch(req, res);
    } catch (error) {
      replyError(req, res, error);
      return;
    }
    handling.catch((error: unknown) => replyError(req, res, error));
  };
  return Object.assign(listener, {
    openWatches: () => openWatches,
    beginShutdown: () => {
      shuttingDown = true;
    },
  });
}

function queryObject(query: URLSearchParams): Record<string, string> {
  const object: Record<string, string> = {};
  for (const key of new Set(query.keys())) object[key] = query.getAll(key).join(',');
  return object;
}

function truncate(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
