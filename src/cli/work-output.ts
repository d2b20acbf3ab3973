import { formatDuration } from '../core/duration.ts';
import { printable, terminalSafeJson } from '../core/printable.ts';
import type { WorkEvent, WorkStore } from '../worker/work-state.ts';
import { OutageThinning, untoldSuffix } from './outage-thinning.ts';

// "answered" is the link's heartbeat: it feeds the screen's "last answer" clock, and would only be noise here.
const QUIET_EVENTS = new Set<WorkEvent['event']>(['answered']);

/** Prints every event as one NDJSON line: `event`, `ts` (ISO time) and, when about a task, `task`. */
export function printJsonEvents(store: WorkStore, stdout: NodeJS.WritableStream): () => void {
  return store.subscribe((event) => {
    if (QUIET_EVENTS.has(event.event)) return;
    stdout.write(`${terminalSafeJson({ ...event, ts: new Date(event.ts).toISOString() })}\n`);
  });
}

/**
 * Prints events as plain lines for logs and pipes; task output goes through prefixed with its task id.
 * Nothing printed can act on the terminal: control characters in output lines and server text show as
 * visible marks.
 */
export function printPlainEvents(store: WorkStore, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): () => void {
  const outage = new OutageLines();
  return store.subscribe((event, state) => {
    if (event.event === 'output') {
      (event.stream === 'stdout' ? stdout : stderr).write(`[${printable(event.task)}] ${printable(event.line, { keepTabs: true })}\n`);
      return;
    }
    const text = outage.line(event, describeEvent(event, state.server));
    if (text) stdout.write(`${new Date(event.ts).toISOString().slice(11, 19)} ${printable(text)}\n`);
  });
}

/** The plain lines' thinning of an outage's retries (see OutageThinning). */
class OutageLines {
  readonly #thinning = new OutageThinning();

  line(event: WorkEvent, text: string | undefined): string | undefined {
    if (event.event === 'disconnected') {
      const told = this.#thinning.failed(event.error, event.ts);
      return told === undefined ? undefined : told === 'still' ? `still ${text}` : text;
    }
    if (event.event === 'reconnected' || event.event === 'connected' || event.event === 'done') return `${text}${untoldSuffix(this.#thinning.ended())}`;
    return text;
  }
}

/** One line of text for an event, or undefined for events not worth a line. */
export function describeEvent(event: WorkEvent, server: string): string | undefined {
  switch (event.event) {
    case 'watching':
      return `watching ${event.task}`;
    case 'started':
      return `started ${event.task} (pid ${event.pid})`;
    case 'cancelled':
      return `cancelled ${event.task}${event.by ? ` by ${event.by.name}` : ''}${event.reason ? ` (reason: ${event.reason})` : ''}${event.notStarted ? '; its command was not started' : ''}`;
    case 'timeout':
      return `timeout ${event.task} after ${formatDuration(event.afterMs)}`;
    case 'killing':
      return `killing ${event.task} with ${event.signal}`;
    case 'exited':
      if (event.error) return `exited ${event.task}: ${event.error}`;
      return `exited ${event.task} ${event.signal ? `by signal ${event.signal}` : `with code ${event.code}`}`;
    case 'connected':
      return `connected to ${server}`;
    case 'reconnected':
      return `reconnected to ${server}`;
    case 'disconnected':
      return `disconnected: ${event.error}; retrying in ${formatDuration(event.retryInMs)} (attempt ${event.attempt})`;
    case 'interrupted':
      return `interrupted by ${event.signal}; stopping tasks`;
    case 'refused':
    case 'rejected':
      return `${event.error}; stopping tasks`;
    case 'done': {
      const ended = `all tasks ended; exit code ${event.exitCode}`;
      const unheard = [...(event.unreported ?? [])].sort();
      if (unheard.length === 0) return ended;
      const named = unheard.length <= 5 ? unheard.join(', ') : `${unheard.slice(0, 5).join(', ')} and ${unheard.length - 5} more`;
      return `${ended}; the server could not be told how ${named} ended (a task it saw watched reads as lost once its lease runs out)`;
    }
    case 'progress':
      return `progress ${event.task}: ${event.text}`;
    case 'output':
    case 'answered':
      return undefined;
  }
}

/** Lines of a failed command's output printed below the screen when it ends. */
export const FAILED_OUTPUT_LINES = 10;

/**
 * Keeps the last lines of each task's output while the screen is drawn, which shows only a row's last line,
 * and returns the function that prints, once the screen is gone, those of every task that failed: a
 * traceback must not vanish with the screen. Prefixed and made printable as plain output is.
 */
export function keepFailedOutput(store: WorkStore, stderr: NodeJS.WritableStream): () => void {
  const tails = new Map<string, string[]>();
  const unsubscribe = store.subscribe((event) => {
    if (event.event !== 'output') return;
    let tail = tails.get(event.task);
    if (tail === undefined) tails.set(event.task, (tail = []));
    tail.push(event.line);
    if (tail.length > FAILED_OUTPUT_LINES) tail.shift();
  });
  return () => {
    unsubscribe();
    for (const task of store.state.tasks.values()) {
      const tail = tails.get(task.id);
      if (task.state !== 'failed' || tail === undefined) continue;
      const how = task.error ?? (task.signal ? `signal ${task.signal}` : `exit code ${task.exitCode}`);
      stderr.write(`${printable(task.id)} failed (${printable(how)}); the last ${tail.length === 1 ? 'line' : `${tail.length} lines`} of its output:\n`);
      for (const line of tail) stderr.write(`[${printable(task.id)}] ${printable(line, { keepTabs: true })}\n`);
    }
  };
}
