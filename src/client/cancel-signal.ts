import { type ClientError, TaskctlClient, type ClientOptions } from './client.ts';
import { type WatchListener, WatchLoop } from './watch-loop.ts';

/**
 * The abort reason of a signal from cancelSignal(): which task was cancelled, and why. When an ancestor's
 * cancel stopped it, `parent` names that ancestor (and the reason is "parent <id> cancelled").
 */
export class TaskCancelledError extends Error {
  override name = 'TaskCancelledError';
  constructor(
    readonly taskId: string,
    readonly reason: string | undefined,
    readonly parent?: string,
  ) {
    super(reason ? `task ${taskId} was cancelled: ${reason}` : `task ${taskId} was cancelled`);
  }
}

export interface CancelSignalOptions extends ClientOptions {
  /** Stop watching when this aborts (for example when the task finished on its own). */
  readonly signal?: AbortSignal;
  readonly watchTimeoutMs?: number;
  /** The task's parents: the signal aborts when any of them, or any of their ancestors, is cancelled too. */
  readonly parents?: readonly string[];
  /** Told of connection trouble; the watch keeps retrying regardless. */
  readonly listener?: Pick<WatchListener, 'disconnected' | 'reconnected'>;
  /**
   * Told when watching stops for good because the server refused the token, or refused the parents (a
   * cycle); the signal then never aborts.
   */
  readonly onFatalError?: (error: ClientError) => void;
}

/**
 * An AbortSignal that aborts, with a TaskCancelledError as its reason, when `taskId` is cancelled on the
 * server. It watches in the background, through network failures, until then or until `options.signal`.
 */
export function cancelSignal(taskId: string, options: CancelSignalOptions): AbortSignal {
  const cancelled = new AbortController();
  const client = new TaskctlClient(options);
  let disconnected = false;
  const loop = new WatchLoop(client, [taskId], {
    ...(options.watchTimeoutMs ? { watchTimeoutMs: options.watchTimeoutMs } : {}),
    ...(options.parents ? { parents: options.parents } : {}),
    listener: {
      ...options.listener,
      disconnected: (error, attempt, retryInMs) => {
        disconnected = true;
        options.listener?.disconnected?.(error, attempt, retryInMs);
      },
      // The listener hears only of trouble: a first contact after failures ends it, as a reconnect does.
      connected: () => {
        if (disconnected) options.listener?.reconnected?.();
      },
      cancelled: (record) => cancelled.abort(new TaskCancelledError(record.id, record.reason, record.parent)),
    },
  });
  const stop = options.signal ? AbortSignal.any([options.signal, cancelled.signal]) : cancelled.signal;
  loop
    .run(stop)
    .catch((error: ClientError) => options.onFatalError?.(error))
    .finally(() => client.close());
  return cancelled.signal;
}
