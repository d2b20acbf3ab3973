import { TaskctlClient } from '../../src/client/client.ts';
import { EventStream, type EventStreamOptions } from '../../src/client/event-stream.ts';
import type { ResetData, TaskEventData } from '../../src/protocol/events.ts';

/** An event stream a test follows with the real client: what it heard, and how to stop it. */
export interface Follower {
  readonly events: Array<TaskEventData & { seq: number }>;
  readonly resets: Array<ResetData & { seq: number | undefined }>;
  /** Each time the stream was opened again after a failure. */
  readonly reconnects: number;
  readonly disconnects: string[];
  readonly stream: EventStream;
  stop(): Promise<void>;
  /** The run's end (rejects with a fatal error). */
  readonly done: Promise<void>;
}

/** Follows `server`'s events with the client library, backing off briefly between tries. */
export function follow(server: string, options: Omit<EventStreamOptions, 'listener'> & { token?: string } = {}): Follower {
  const client = new TaskctlClient({ server, ...(options.token ? { token: options.token } : {}) });
  const stop = new AbortController();
  const follower: { -readonly [K in keyof Follower]: Follower[K] } = {
    events: [],
    resets: [],
    reconnects: 0,
    disconnects: [],
    stream: undefined!,
    done: undefined!,
    stop: undefined!,
  };
  follower.stream = new EventStream(client, {
    backoff: { baseMs: 20, capMs: 200 },
    ...options,
    listener: {
      event: (data, seq) => follower.events.push({ ...data, seq }),
      reset: (data, seq) => follower.resets.push({ ...data, seq }),
      reconnected: () => follower.reconnects++,
      disconnected: (error) => follower.disconnects.push(error.message),
    },
  });
  follower.done = follower.stream.run(stop.signal).finally(() => client.close());
  follower.stop = async () => {
    stop.abort();
    await follower.done.catch(() => {});
  };
  return follower;
}

/** A POST with a JSON body; resolves with the status. */
export async function post(url: string, body: unknown = {}, token?: string): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/** The raw text of GET `url` until `until` matches it (or `timeoutMs`), then the connection is dropped. */
export async function readRaw(
  url: string,
  until: RegExp,
  init: RequestInit = {},
  timeoutMs = 10_000,
): Promise<{ status: number; text: string; headers: Headers }> {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), timeoutMs);
  const res = await fetch(url, { ...init, signal: stop.signal });
  let text = '';
  try {
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      if (until.test(text)) break;
    }
  } catch {
    // Aborted at the timeout: the caller checks what came.
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
  return { status: res.status, text, headers: res.headers };
}
