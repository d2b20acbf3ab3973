import type { Agent as HttpAgent } from 'node:http';
import type { z } from 'zod';
import type { WorkerIdentity } from '../core/task-status.ts';
import { formatDuration } from '../core/duration.ts';
import { printable } from '../core/printable.ts';
import { checkTaskId } from '../core/task-id.ts';
import { agentFor, discard, send } from './http.ts';
import { CLIENT_TIMEOUT_MARGIN_MS, DEFAULT_WATCH_TIMEOUT_MS, MAX_REPLY_BYTES_PER_TASK, MAX_SHORT_REPLY_BYTES } from '../protocol/limits.ts';
import { paths, VERSION_HEADER } from '../protocol/routes.ts';
import {
  type CancelRecordReply,
  cancelRecordSchema,
  errorReplySchema,
  type ReportRequest,
  type ScheduledReply,
  scheduledReplySchema,
  type ScheduleListReply,
  scheduleListReplySchema,
  type UnscheduledReply,
  unscheduledReplySchema,
  type TaskListReply,
  taskListReplySchema,
  type TaskReply,
  taskReplySchema,
  type WatchReply,
  watchReplySchema,
} from '../protocol/schemas.ts';
import type { ProgressRequest } from '../protocol/events.ts';

export interface ClientOptions {
  /** Base URL of the taskctl server, e.g. http://127.0.0.1:8080. */
  readonly server: string;
  readonly token?: string | undefined;
  /** How long a short request (cancel, status, ping) may take. Default 10s. */
  readonly requestTimeoutMs?: number;
  /** For https:// servers: PEM certificates of CAs to trust besides the system's roots (a private CA). */
  readonly ca?: string | Buffer | undefined;
  /** For servers that require client certificates (mutual TLS): this client's certificate and key, PEM. */
  readonly cert?: string | Buffer | undefined;
  readonly key?: string | Buffer | undefined;
}

/**
 * Why a request failed: the server could not be reached (`unreachable`), did not answer in time
 * (`timeout`), refused the request (`rejected`, with the server's status and code), refused the token
 * (`unauthorized`: 401 or 403), answered in a way no taskctl server does (`protocol`: a redirect, an
 * answer without the taskctl-version header, an oversized or malformed reply), or TLS trust failed either
 * way (`untrusted`: the server's certificate is not trusted here, or the server refused this client's).
 */
export type ClientErrorKind = 'unreachable' | 'timeout' | 'rejected' | 'unauthorized' | 'protocol' | 'untrusted';

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

  /** `error` as a ClientError: itself when it is one, else a protocol error with its message. */
  static from(error: unknown): ClientError {
    return error instanceof ClientError ? error : new ClientError('protocol', (error as Error)?.message ?? String(error));
  }

  /** Whether asking again cannot help: the server said this client may not do it, or TLS trust failed. */
  get fatal(): boolean {
    return this.kind === 'unauthorized' || this.kind === 'untrusted';
  }

  /**
   * Whether the server refused the parents asked for (`invalid_parents`: a cycle or too deep; `link_refused`:
   * a link rule): asking again with them cannot help, but the token is fine.
   */
  get refusesParents(): boolean {
    return this.code === 'invalid_parents' || this.code === 'link_refused';
  }
}

/**
 * The taskctl HTTP API. Keep-alive connections are reused across requests, long polls included: one for a
 * watch, two for the two polls of a watch session.
 */
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
    this.#agent = agentFor(this.server, { keepAlive: true, maxSockets: 4, maxFreeSockets: 2 }, options);
    this.#oneShotAgent = agentFor(this.server, { keepAlive: false }, options);
  }

  /** Cancels `id`; resolves with the stored record (the first one, if it was cancelled before). */
  cancel(id: string, options: { reason?: string | undefined; signal?: AbortSignal } = {}): Promise<CancelRecordReply> {
    checkTaskId(id);
    const body = options.reason === undefined ? {} : { reason: options.reason };
    return this.#request(paths.cancel(id), cancelRecordSchema, { method: 'POST', body: JSON.stringify(body), signal: options.signal });
  }

  /** Schedules the cancel of `id` for later: at an ISO time, or after a delay. Scheduling again moves it. */
  scheduleCancel(
    id: string,
    when: { at?: string; afterMs?: number; reason?: string | undefined },
    options: { signal?: AbortSignal; oneShot?: boolean } = {},
  ): Promise<ScheduledReply> {
    checkTaskId(id);
    const body = {
      ...(when.at !== undefined ? { at: when.at } : {}),
      ...(when.afterMs !== undefined ? { after: `${when.afterMs}ms` } : {}),
      ...(when.reason !== undefined ? { reason: when.reason } : {}),
    };
    return this.#request(paths.cancel(id), scheduledReplySchema, {
      method: 'POST',
      body: JSON.stringify(body),
      signal: options.signal,
      oneShot: options.oneShot ?? false,
    });
  }

  /** Drops the cancel scheduled for `id`, if any (needs the cancel right). */
  unschedule(id: string, options: { signal?: AbortSignal } = {}): Promise<UnscheduledReply> {
    checkTaskId(id);
    return this.#request(paths.unschedule(id), unscheduledReplySchema, { method: 'POST', body: '{}', signal: options.signal });
  }

  /** Tells the server how `id` ended. Idempotent. */
  report(id: string, report: ReportRequest, options: { signal?: AbortSignal } = {}): Promise<unknown> {
    checkTaskId(id);
    return this.#send(paths.report(id), { method: 'POST', body: JSON.stringify(report), signal: options.signal, oneShot: true });
  }

  /** One page of task statuses, in id order; with `parent`, of that task's children. */
  tasks(
    query: { state?: string | undefined; limit?: number; after?: string | undefined; parent?: string | undefined } = {},
    options: { signal?: AbortSignal } = {},
  ): Promise<TaskListReply> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const search = params.size > 0 ? `?${params}` : '';
    const maxBytes = MAX_SHORT_REPLY_BYTES + (query.limit ?? 100) * MAX_REPLY_BYTES_PER_TASK;
    return this.#request(`${paths.tasks}${search}`, taskListReplySchema, { signal: options.signal, maxBytes });
  }

  /** A page of the cancels scheduled for later, in id order. */
  schedules(query: { limit?: number; after?: string | undefined } = {}, options: { signal?: AbortSignal } = {}): Promise<ScheduleListReply> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const search = params.size > 0 ? `?${params}` : '';
    const maxBytes = MAX_SHORT_REPLY_BYTES + (query.limit ?? 100) * MAX_REPLY_BYTES_PER_TASK;
    return this.#request(`${paths.schedules}${search}`, scheduleListReplySchema, { signal: options.signal, maxBytes });
  }

  /** What the server knows of `id`. */
  task(id: string, options: { signal?: AbortSignal } = {}): Promise<TaskReply> {
    checkTaskId(id);
    return this.#request(paths.task(id), taskReplySchema, { signal: options.signal });
  }

  /**
   * One long poll on `ids`: resolves as soon as any is cancelled (with those ids) or with none when the
   * server's watch timeout passes. Gives up itself `CLIENT_TIMEOUT_MARGIN_MS` after the timeout. With
   * `parents`, a cancel of any of them (or of their ancestors) answers every id, each with a record whose
   * `parent` names the cancelled ancestor. With `keep`, asks the server to keep the ids as a watch session;
   * `replaces` names an earlier session of this client's that the server may then end.
   */
  watch(
    ids: readonly string[],
    options: { timeoutMs?: number; signal?: AbortSignal; worker?: WorkerIdentity; parents?: readonly string[]; keep?: boolean; replaces?: string } = {},
  ): Promise<WatchReply> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WATCH_TIMEOUT_MS;
    ids.forEach(checkTaskId);
    options.parents?.forEach(checkTaskId);
    // The most an answer can be: each id twice (in the list and its record), plus each record's reason.
    let maxBytes = MAX_SHORT_REPLY_BYTES;
    for (const id of ids) maxBytes += 2 * id.length * 3 + MAX_REPLY_BYTES_PER_TASK;
    return this.#request(paths.watch, watchReplySchema, {
      maxBytes,
      method: 'POST',
      body: JSON.stringify({
        ids,
        timeout: `${timeoutMs}ms`,
        ...(options.worker ? { worker: options.worker } : {}),
        // Sent only when there are some: a server older than parents refuses the key.
        ...(options.parents && options.parents.length > 0 ? { parents: options.parents } : {}),
        ...(options.keep ? { keep: true } : {}),
        ...(options.replaces !== undefined ? { replaces: options.replaces } : {}),
      }),
      signal: options.signal,
      timeoutMs: timeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
    });
  }

  /**
   * A poll of the watch session `session` (named by an earlier watch's answer), taking `remove` out of it:
   * answered like watch() with what was cancelled since the last poll. `watching` (how many ids the session
   * holds) bounds how large the answer may be. Rejects with a 409 `session_unknown` ClientError when the
   * server no longer keeps the session: then watch() with the ids again.
   */
  watchSession(session: string, options: { remove?: readonly string[]; watching: number; timeoutMs?: number; signal?: AbortSignal }): Promise<WatchReply> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WATCH_TIMEOUT_MS;
    return this.#request(paths.watch, watchReplySchema, {
      maxBytes: MAX_SHORT_REPLY_BYTES + options.watching * (2 * 256 * 3 + MAX_REPLY_BYTES_PER_TASK),
      method: 'POST',
      body: JSON.stringify({ session, timeout: `${timeoutMs}ms`, ...(options.remove && options.remove.length > 0 ? { remove: options.remove } : {}) }),
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
    if (!parsed.success) throw new ClientError('protocol', `${this.server} answered ${printable(path)} with a reply taskctl does not understand`);
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
    const maxBytes = init.maxBytes ?? MAX_SHORT_REPLY_BYTES;
    const requestInit = {
      method: init.method ?? 'GET',
      headers,
      agent,
      signal,
      // Read at most what the route can legitimately send; more is refused before it is buffered.
      size: maxBytes,
      ...(init.body !== undefined ? { body: init.body } : {}),
    };
    let text: string;
    let status: number;
    try {
      // A redirect is never followed (send's rule): the token goes to the configured server and nowhere else.
      const res = await send(this.server + path, requestInit);
      status = res.status;
      if (status >= 300 && status < 400) {
        discard(res);
        const location = res.headers.get('location');
        throw new ClientError(
          'protocol',
          `${this.server} answered with a redirect (HTTP ${status}${location ? ` to ${printable(location.slice(0, 200))}` : ''}); taskctl does not follow redirects, so point it at the taskctl server itself`,
          status,
        );
      }
      if (!res.headers.has(VERSION_HEADER)) {
        discard(res);
        throw notFromTaskctl(this.server, status);
      }
      text = await res.text();
    } catch (error) {
      if (error instanceof ClientError) throw error;
      if (init.signal?.aborted) throw init.signal.reason ?? error;
      if (timeout.aborted) throw new ClientError('timeout', `${this.server} did not answer within ${formatDuration(timeoutMs)}`);
      if ((error as { type?: string }).type === 'max-size') {
        throw new ClientError(
          'protocol',
          `${this.server} sent more than ${maxBytes} bytes for ${printable(path.split('?')[0]!)}; refused (no taskctl answer is that large)`,
        );
      }
      throw connectionFailure(this.server, error);
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    if (status >= 200 && status < 300) return body;
    throw errorFromReply(this.server, status, body);
  }

  // ---- The event stream and progress ----

  /** Tells the server the latest progress line of each of `updates`' tasks (`work --progress`). */
  progress(updates: ProgressRequest['updates'], options: { signal?: AbortSignal } = {}): Promise<unknown> {
    updates.forEach((u) => checkTaskId(u.id));
    return this.#send(paths.progress, { method: 'POST', body: JSON.stringify({ updates }), signal: options.signal, oneShot: true });
  }

  /**
   * Opens GET /v1/events: resolves with the body to read events from once the server answered 200 as a
   * taskctl event stream, with the same checks as every request (no redirect followed, the version
   * header, TLS trust, the error mapping). `lastEventId` resumes after that event. The answer must start
   * within the request timeout; after that the reader watches the stream's heartbeat itself.
   */
  async openEvents(
    query: { since?: number | undefined; ids?: readonly string[] | undefined; states?: readonly string[] | undefined },
    options: { signal: AbortSignal; lastEventId?: number | undefined },
  ): Promise<AsyncIterable<Uint8Array>> {
    const params: string[] = [];
    if (query.since !== undefined) params.push(`since=${query.since}`);
    // Each id percent-encoded and the list joined by literal commas, so an id holding a comma stays one id.
    if (query.ids !== undefined && query.ids.length > 0) params.push(`ids=${query.ids.map(encodeURIComponent).join(',')}`);
    if (query.states !== undefined && query.states.length > 0) params.push(`state=${query.states.map(encodeURIComponent).join(',')}`);
    const search = params.length > 0 ? `?${params.join('&')}` : '';
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (options.lastEventId !== undefined) headers['last-event-id'] = String(options.lastEventId);
    const opening = new AbortController();
    const timer = setTimeout(() => opening.abort(), this.#requestTimeoutMs);
    const signal = AbortSignal.any([options.signal, opening.signal]);
    try {
      const res = await send(this.server + paths.events + search, { headers, agent: this.#agent, signal });
      if (res.status >= 300 && res.status < 400) {
        discard(res);
        throw new ClientError(
          'protocol',
          `${this.server} answered with a redirect (HTTP ${res.status}); taskctl does not follow redirects, so point it at the taskctl server itself`,
          res.status,
        );
      }
      if (!res.headers.has(VERSION_HEADER)) {
        discard(res);
        throw notFromTaskctl(this.server, res.status);
      }
      if (res.status !== 200) {
        const text = await readCapped(res.body as AsyncIterable<Uint8Array> | null, MAX_SHORT_REPLY_BYTES);
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // Not JSON: errorFromReply names the status alone.
        }
        throw errorFromReply(this.server, res.status, body);
      }
      if (!/^text\/event-stream\b/i.test(res.headers.get('content-type') ?? '')) {
        discard(res);
        throw new ClientError('protocol', `${this.server} answered ${paths.events} with something other than an event stream`);
      }
      return res.body as unknown as AsyncIterable<Uint8Array>;
    } catch (error) {
      if (error instanceof ClientError) throw error;
      if (options.signal.aborted) throw options.signal.reason ?? error;
      if (opening.signal.aborted) throw new ClientError('timeout', `${this.server} did not answer within ${formatDuration(this.#requestTimeoutMs)}`);
      throw connectionFailure(this.server, error);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The error an answer without the taskctl-version header stands for: something other than taskctl
 * answered. A 401 or 403 from it (an authenticating proxy in front) is still a refusal to let this client
 * in, which asking again will not change: not authorized, saying where the refusal came from. Anything else
 * is "not a taskctl server", which a worker retries.
 */
function notFromTaskctl(server: string, status: number): ClientError {
  if (status === 401 || status === 403) {
    return new ClientError(
      'unauthorized',
      `not authorized by ${server}: it answered HTTP ${status} without a ${VERSION_HEADER} header, so the refusal came from something in front of taskctl (a proxy?), not from taskctl`,
      status,
    );
  }
  return new ClientError('protocol', `${server} is not a taskctl server (it answered HTTP ${status} without a ${VERSION_HEADER} header)`, status);
}

/** The error an answer other than 2xx stands for: the server's own words when it gave them, made printable. */
function errorFromReply(server: string, status: number, body: unknown): ClientError {
  const error = errorReplySchema.safeParse(body);
  const message = error.success ? printable(error.data.error.message) : `HTTP ${status}`;
  if (error.data?.error.code === 'client_certificate_refused')
    return new ClientError('untrusted', `${server} refused this client's certificate: ${message}`, status, 'client_certificate_refused');
  // A refused link is a refusal of the parents asked for, not of the token.
  if (error.data?.error.code === 'link_refused') return new ClientError('rejected', message, status, 'link_refused');
  if (status === 401 || status === 403) return new ClientError('unauthorized', `not authorized by ${server}: ${message}`, status, error.data?.error.code);
  if (error.success) return new ClientError('rejected', message, status, error.data.error.code);
  return new ClientError('rejected', `${server} answered HTTP ${status}`, status);
}

/** At most `maxBytes` of `body` as text; the rest is not read. */
async function readCapped(body: AsyncIterable<Uint8Array> | null, maxBytes: number): Promise<string> {
  if (body === null) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(Buffer.from(chunk));
    size += chunk.length;
    if (size >= maxBytes) break;
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}

interface SendInit {
  method?: 'GET' | 'POST';
  body?: string;
  signal?: AbortSignal | undefined;
  timeoutMs?: number;
  oneShot?: boolean;
  /** The most bytes the answer may have; default MAX_SHORT_REPLY_BYTES. */
  maxBytes?: number;
}

// OpenSSL's verify codes (and Node's name check) by what they mean to someone reading the message.
const UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'CERT_REJECTED',
]);

/** One line saying why TLS trust failed, when `error` is such a failure; undefined for any other error. */
function describeTlsFailure(server: string, error: unknown): string | undefined {
  const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
  if (code === undefined) return undefined;
  const notTrusted = (why: string) => `${server} is not trusted: ${why}`;
  if (UNKNOWN_CA.has(code)) return notTrusted('its certificate is signed by an unknown authority (trust its CA with --ca or TASKCTL_CA)');
  if (code === 'CERT_HAS_EXPIRED') return notTrusted('its certificate has expired');
  if (code === 'CERT_NOT_YET_VALID') return notTrusted('its certificate is not valid yet (is the clock right?)');
  if (code === 'CERT_REVOKED') return notTrusted('its certificate was revoked');
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
    // The agent's checkServerIdentity wrote which names the certificate holds.
    const names = /(its certificate is for .*)$/m.exec(String((error as Error).message))?.[1];
    return notTrusted(names ?? 'its certificate is for another name');
  }
  // The server's alert about this client's certificate (a server or proxy doing mutual TLS in the handshake).
  const alert =
    /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE)$/.exec(
      code,
    );
  if (alert) return `${server} refused this client's certificate (${alert[1]!.toLowerCase().replaceAll('_', ' ')}; pass --cert and --key)`;
  return undefined;
}

/**
 * The error a request that got no answer stands for: TLS trust failed (`untrusted`); something answered
 * that does not speak HTTP at all (`protocol`: an SSH or database port, say); or the server could not be
 * reached (`unreachable`).
 */
function connectionFailure(server: string, error: unknown): ClientError {
  const untrusted = describeTlsFailure(server, error);
  if (untrusted) return new ClientError('untrusted', untrusted);
  // Node's HTTP parser names what it could not read as HPE_*; its message ("Parse Error: Expected HTTP/,
  // RTSP/ or ICE/") means nothing to someone who gave a wrong port.
  const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
  if (code?.startsWith('HPE_'))
    return new ClientError('protocol', `${server} did not answer in HTTP: something other than taskctl serve listens there (a wrong port?)`);
  return new ClientError('unreachable', `cannot reach ${server}: ${describeNetworkError(error, server)}`);
}

/** What went wrong on the network, with what most often causes it when that is a fair guess. */
function describeNetworkError(error: unknown, server: string): string {
  const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (is taskctl serve running there?)';
    case 'ECONNRESET':
      // A TLS server hangs up on a plain HTTP request.
      return server.startsWith('http:') ? 'connection reset (if the server serves TLS, use https://)' : 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'network unreachable';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return 'it does not speak TLS (is it plain http://?)';
    default:
      return printable((error as Error)?.message ?? String(error));
  }
}
