import { formatDuration } from '../core/duration.ts';

// A worker's `--timeout` travels as a scheduled cancel with this reason, so the worker can tell the
// server's copy of its own deadline from an operator's cancel, and the server can record it as a deadline.
const DEADLINE_PREFIX = 'deadline: work --timeout ';

/** The reason on the cancel a worker registers as its deadline. */
export function deadlineReason(timeoutMs: number): string {
  return `${DEADLINE_PREFIX}${formatDuration(timeoutMs)} passed`;
}

/** Whether `reason` is one a worker gives its deadline. */
export function isDeadlineReason(reason: string | undefined): boolean {
  return reason !== undefined && reason.startsWith(DEADLINE_PREFIX) && reason.endsWith(' passed');
}
