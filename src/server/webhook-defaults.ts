import type { TaskLifeState } from '../core/task-status.ts';

// Apart from webhooks.ts so that `serve --help` can name them without loading the sender.

/** The task changes sent unless the operator picks others. */
export const DEFAULT_WEBHOOK_EVENTS: readonly TaskLifeState[] = ['cancelled', 'lost', 'timed_out', 'failed', 'succeeded'];
/** How long an undelivered event is retried unless told otherwise. */
export const DEFAULT_WEBHOOK_RETRY_MS = 24 * 3_600_000;
