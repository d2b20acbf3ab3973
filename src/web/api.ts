// The page's client of the public /v1 API: fetch with the bearer token, and the event stream read with
// fetch streaming (EventSource cannot send an Authorization header). No cookies, so no request forgery.

import type { ResetData, TaskEventData } from '../protocol/events.ts';
import { paths } from '../protocol/routes.ts';
import type { CancelRequest, MeReply, TaskListReply, TaskReply } from '../protocol/schemas.ts';
import { SseParser } from '../protocol/sse.ts';

/** An answer other than 2xx, or no answer: `status` 0 when the network failed. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The /v1 API as the page uses it, with the token the person signed in with (none on an open server). */
export class Api {
  constructor(readonly token: string | undefined) {}

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.token === undefined ? extra : { ...extra, authorization: `Bearer ${this.token}` };
  }

  async #json<T>(path: string, init: RequestInit = {}): Promise<T> {
    let response: Response;
    try {
      response = await fetch(path, { ...init, headers: this.#headers(init.headers as Record<string, string> | undefined), cache: 'no-store' });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      throw new ApiError(0, 'network', 'the server did not answer');
    }
    if (!response.ok) throw await errorOf(response);
    return (await response.json()) as T;
  }

  me(): Promise<MeReply> {
    return this.#json(paths.me);
  }

  tasks(query: { after?: string | undefined; limit: number }, signal: AbortSignal): Promise<TaskListReply> {
    const search = new URLSearchParams({ limit: String(query.limit), ...(query.after !== undefined ? { after: query.after } : {}) });
    return this.#json(`${paths.tasks}?${search}`, { signal });
  }

  task(id: string, signal?: AbortSignal): Promise<TaskReply> {
    return this.#json(paths.task(id), signal ? { signal } : {});
  }

  cancel(id: string, body: CancelRequest): Promise<unknown> {
    return this.#json(paths.cancel(id), { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  }

  /**
   * Reads GET /v1/events once, from after `since`, until it ends, breaks or `signal` aborts; `onOpen` is
   * told when the server answered. Throws ApiError for a refusal (401, 403) and a network failure alike; the
   * caller tells them apart by status and decides whether to retry.
   */
  async events(
    since: string | undefined,
    signal: AbortSignal,
    on: {
      open(): void;
      /** Bytes came; `lastId` is where a resume would start now (the server names it at the start and in heartbeats too). */
      alive(lastId: string | undefined): void;
      task(data: TaskEventData, id: string | undefined): void;
      reset(data: ResetData, id: string | undefined): void;
    },
  ): Promise<void> {
    let response: Response;
    try {
      response = await fetch(paths.events, { headers: this.#headers(since === undefined ? {} : { 'last-event-id': since }), cache: 'no-store', signal });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new ApiError(0, 'network', 'the server did not answer');
    }
    if (!response.ok || !response.body) throw await errorOf(response);
    on.open();
    const reader = response.body.getReader();
    const sse = new SseParser();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        const messages = sse.push(value);
        on.alive(sse.lastId);
        for (const message of messages) {
          let data: unknown;
          try {
            data = JSON.parse(message.data);
          } catch {
            continue; // not from a taskctl server of this shape; nothing to show
          }
          if (message.type === 'task' && isTaskEvent(data)) on.task(data, message.id);
          else if (message.type === 'reset') on.reset(data as ResetData, message.id);
        }
      }
    } catch (error) {
      if (signal.aborted) throw error;
      throw new ApiError(0, 'network', 'the event stream broke');
    } finally {
      reader.cancel().catch(() => {});
    }
  }
}

function isTaskEvent(data: unknown): data is TaskEventData {
  return typeof data === 'object' && data !== null && typeof (data as { id?: unknown }).id === 'string';
}

/** The server's JSON error as an ApiError; a reply that is not one (a proxy's page) says its status. */
async function errorOf(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.message === 'string') return new ApiError(response.status, String(body.error.code ?? ''), body.error.message);
  } catch {
    // not JSON: said below
  }
  return new ApiError(response.status, '', `the server answered ${response.status} ${response.statusText}`.trim());
}
