import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import fetch, { type RequestInit } from 'node-fetch';
import type { z } from 'zod';
import type { WorkerIdentity } from '../core/task-status.ts';
import { formatDuration } from '../core/duration.ts';
import { CLIENT_TIMEOUT_MARGIN_MS, DEFAULT_WATCH_TIMEOUT_MS } from '../protocol/limits.ts';
import { paths } from '../protocol/routes.ts';
import {
  type CancelRecordReply,
  cancelRecordSchema,
  errorReplySchema,
  type ReportRequest,
  type ScheduledReply,
  scheduledReplySchema,
  type TaskListReply,
  taskListReplySchema,
  type TaskReply,
  taskReplySchema,
  type WatchReply,
  watchReplySchema,
} from '../protocol/schemas.ts';

export interface ClientOptions {
  /** Base URL of the taskctl server, e.g. http://127.0.0.1:8080. */
  readonly server: string;
  readonly token?: string | undefined;
  /** How long a short request (cancel, status, ping) may take. Default 10s. */
  readonly requestTimeoutMs?: number;
}

/** Why a request failed: the server could not be reached, did not answer in time, or answered with an error. */
export type ClientErrorKind = 'unreachable' | 'timeout' | 'rejected' | 'protocol';

/** A failed request, with a message fit to show a user as is. */
export class ClientError extends Error {
  override name = 'ClientError';
  constructor(
    readonly kind: ClientErrorKind,
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** The taskctl HTTP API. One keep-alive connection is reused across requests, long polls included. */
export class TaskctlClient {
  readonly server: string;
  readonly #token: string | undefined;
  readonly #requestTimeoutMs: number;
  readonly #agent: HttpAgent;
  /** For rare requests made beside a held long poll: their socket closes after, so one stays open. */
  readonly #oneShotAgent: HttpAgent;

  constructor(options: ClientOptions) {
    this.server = options.server.replace(/\/+$/, '');
    this.#token = options.token;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    const agentOptions = { keepAlive: true, maxSockets: 4, maxFreeSockets: 1 };
    this.#agent = this.server.startsWith('https:') ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.#oneShotAgent = this.server.startsWith('https:') ? new HttpsAgent({ keepAlive: false }) : new HttpAgent({ keepAlive: false });
  }

  /** Cancels `id`; resolves with the stored record (the first one, if it was cancelled before). */
  cancel(id: string, options: { reason?: string | undefined; signal?: AbortSignal } = {}): Promise<CancelRecordReply> {
    const body = options.reason === undefined ? {} : { reason: options.reason };
    return this.#request(paths.cancel(id), cancelRecordSchema, { method: 'POST', body: JSON.stringify(body), signal: options.signal });
  }

  /** Schedules the cancel of `id` for later: at an ISO time, or after a delay. Scheduling again moves it. */
  scheduleCancel(id: string, when: { at?: string; afterMs?: number; reason?: string | undefined }, options: { signal?: AbortSignal; oneShot?: boolean } = {}): Promise<ScheduledReply> {
    const body = {
      ...(when.at !== undefined ? { at: when.at } : {}),
      ...(when.afterMs !== undefined ? { after: `${when.afterMs}ms` } : {}),
      ...(when.reason !== undefined ? { reason: when.reason } : {}),
    };
    return this.#request(paths.cancel(id), scheduledReplySchema, { method: 'POST', body: JSON.stringify(body), signal: options.signal, oneShot: options.oneShot ?? false });
  }

  /** Tells the server how `id` ended. Idempotent. */
  report(id: string, report: ReportRequest, options: { signal?: AbortSignal } = {}): Promise<unknown> {
    return this.#send(paths.report(id), { method: 'POST', body: JSON.stringify(report), signal: options.signal, oneShot: true });
  }

  /** One page of task statuses, in id order. */
  tasks(query: { state?: string; limit?: number; after?: string } = {}, options: { signal?: AbortSignal } = {}): Promise<TaskListReply> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const search = params.size > 0 ? `?${params}` : '';
    return this.#request(`${paths.tasks}${search}`, taskListReplySchema, { signal: options.signal });
  }

  /** What the server knows of `id`. */
  task(id: string, options: { signal?: AbortSignal } = {}): Promise<TaskReply> {
    return this.#request(paths.task(id), taskReplySchema, { signal: options.signal });
  }

  /**
   * One long poll on `ids`: resolves as soon as any is cancelled (with those ids) or with none when the
   * server's watch timeout passes. Gives up itself `CLIENT_TIMEOUT_MARGIN_MS` after the timeout.
   */
  watch(ids: readonly string[], options: { timeoutMs?: number; signal?: AbortSignal; worker?: WorkerIdentity } = {}): Promise<WatchReply> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WATCH_TIMEOUT_MS;
    return this.#request(paths.watch, watchReplySchema, {
      method: 'POST',
      body: JSON.stringify({ ids, timeout: `${timeoutMs}ms`, ...(options.worker ? { worker: options.worker } : {}) }),
      signal: options.signal,
      timeoutMs: timeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
    });
  }

  /** Resolves when the server answers /ping. */
  async ping(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#send(paths.ping, { signal: options.signal });
  }

  /** Closes idle connections so the process can exit. */
  close(): void {
    this.#agent.destroy();
    this.#oneShotAgent.destroy();
  }

  async #request<S extends z.ZodType>(path: string, schema: S, init: SendInit): Promise<z.output<S>> {
    const body = await this.#send(path, init);
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new ClientError('protocol', `${this.server} answered ${path} with an unexpected reply; is it a taskctl server?`);
    return parsed.data;
  }

  async #send(path: string, init: SendInit): Promise<unknown> {
    const timeoutMs = init.timeoutMs ?? this.#requestTimeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    const agent = init.oneShot ? this.#oneShotAgent : this.#agent;
    const requestInit: RequestInit = { method: init.method ?? 'GET', headers, agent, signal: signal as RequestInit['signal'] };
    if (init.body !== undefined) requestInit.body = init.body;
    let text: string;
    let status: number;
    try {
      const res = await fetch(this.server + path, requestInit);
      status = res.status;
      text = await res.text();
    } catch (error) {
      if (init.signal?.aborted) throw init.signal.reason ?? error;
      if (timeout.aborted) throw new ClientError('timeout', `${this.server} did not answer within ${formatDuration(timeoutMs)}`);
      throw new ClientError('unreachable', `cannot reach ${this.server}: ${describeNetworkError(error)}`);
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    if (status >= 200 && status < 300) return body;
    const error = errorReplySchema.safeParse(body);
    if (error.success) throw new ClientError('rejected', error.data.error.message, status, error.data.error.code);
    throw new ClientError('rejected', `${this.server} answered HTTP ${status}`, status);
  }
}

interface SendInit {
  method?: 'GET' | 'POST';
  body?: string;
  signal?: AbortSignal | undefined;
  timeoutMs?: number;
  oneShot?: boolean;
}

function describeNetworkError(error: unknown): string {
  const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'network unreachable';
    case 'ETIMEDOUT':
      return 'connection timed out';
    default:
      return (error as Error)?.message ?? String(error);
  }
}
