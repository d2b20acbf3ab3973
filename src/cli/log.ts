import { type Clock, systemClock, type TimerHandle } from '../core/clock.ts';
import { printable, terminalSafeJson } from '../core/printable.ts';

/** One-line log records: plain text for people, NDJSON with --json. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** Writes the pending summaries of repeated errors and the lines gathered, and stops the timers. */
  close(): void;
}

/** How long an error repeats silently before a summary line says how often. */
export const REPEAT_WINDOW_MS = 60_000;

/**
 * How long info lines that follow a written line are gathered, to be written together. A busy server logs
 * a line per cancel, and each write of its own is a system call that wakes the log's reader: about a
 * seventh of a cancel's CPU at 5,000 held watches (bench/cancel-cost.ts), for a line nobody reads at once.
 */
export const GATHER_MS = 10;
// Gathered lines are written before they reach this size, whatever the time.
const GATHER_MAX_CHARS = 64 * 1024;
/**
 * Kinds of error counted at once: past this many in a window (a stranger's refusals from as many
 * addresses), a new kind is only counted, in one line per window, so the counting itself stays bounded.
 */
export const MAX_REPEAT_KINDS = 1_000;

interface Repeats {
  readonly message: string;
  readonly fields: Record<string, unknown>;
  count: number;
}

/**
 * A logger whose error lines do not flood: the first of a kind (same message and fields) is written at
 * once; the same error again within the window is only counted, and one summary line per window says
 * "repeated N times in the last minute". Text from clients and stores is made printable. A line after a
 * quiet spell is written at once; info lines that follow it within GATHER_MS are written together at the
 * end of that time (an error line at once, after them), and close() writes what is gathered.
 */
export function createLogger(stream: NodeJS.WritableStream, format: 'plain' | 'json', clock: Clock = systemClock): Logger {
  let gathered = '';
  let gathering: TimerHandle | undefined;
  const writeGathered = () => {
    if (gathered === '') return;
    stream.write(gathered);
    gathered = '';
  };
  // Every write opens a window of GATHER_MS; one that gathered nothing closes.
  const windowEnded = () => {
    gathering = undefined;
    if (gathered === '') return;
    writeGathered();
    gathering = clock.setTimeout(windowEnded, GATHER_MS);
  };
  const out = (level: 'info' | 'error', line: string) => {
    if (gathering !== undefined && level === 'info') {
      gathered += line;
      if (gathered.length >= GATHER_MAX_CHARS) writeGathered();
      return;
    }
    if (gathered !== '') {
      line = gathered + line;
      gathered = '';
    }
    stream.write(line);
    gathering ??= clock.setTimeout(windowEnded, GATHER_MS);
  };

  const write = (level: 'info' | 'error', message: string, fields: Record<string, unknown> = {}) => {
    const ts = new Date(clock.now()).toISOString();
    if (format === 'json') {
      out(level, `${terminalSafeJson({ ts, level, msg: message, ...fields })}\n`);
      return;
    }
    const extra = Object.entries(fields)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? printable(value) : printable(JSON.stringify(value))}`)
      .join(' ');
    out(level, `${ts} ${level.padEnd(5)} ${printable(message)}${extra ? ` ${extra}` : ''}\n`);
  };

  const repeats = new Map<string, Repeats>();
  let unlisted = 0;
  let timer: TimerHandle | undefined;
  const summarize = () => {
    if (unlisted > 0) write('error', `${unlisted} more error${unlisted === 1 ? '' : 's'} of other kinds in the last minute, not written one by one`);
    unlisted = 0;
    for (const [key, entry] of repeats) {
      if (entry.count === 0) {
        // Quiet for a whole window: the next one is news again.
        repeats.delete(key);
        continue;
      }
      write('error', `${entry.message} (repeated ${entry.count} time${entry.count === 1 ? '' : 's'} in the last minute)`, entry.fields);
      entry.count = 0;
    }
    if (repeats.size === 0 && timer !== undefined) {
      clock.clearTimer(timer);
      timer = undefined;
    }
  };

  return {
    info: (message, fields) => write('info', message, fields),
    error: (message, fields = {}) => {
      const key = JSON.stringify([message, fields]);
      const seen = repeats.get(key);
      if (seen) {
        seen.count++;
        return;
      }
      if (repeats.size >= MAX_REPEAT_KINDS) {
        unlisted++;
        return;
      }
      repeats.set(key, { message, fields, count: 0 });
      timer ??= clock.setInterval(summarize, REPEAT_WINDOW_MS);
      write('error', message, fields);
    },
    close: () => {
      summarize();
      if (timer !== undefined) clock.clearTimer(timer);
      timer = undefined;
      writeGathered();
      if (gathering !== undefined) clock.clearTimer(gathering);
      gathering = undefined;
    },
  };
}

/** Client addresses a minute that refused requests are logged under by name; the rest under "other addresses". */
export const NAMED_REFUSERS = 10;

/**
 * What logs a refused request (401, 403): `request refused status=… from=ADDRESS error=…`, thinned by the
 * logger like any error (once, then a summary a minute). Only the first NAMED_REFUSERS addresses in a minute
 * are named: past them, a stranger knocking from many addresses is one more kind of line, "other addresses",
 * so that it cannot fill the log.
 */
export function refusalLog(log: Logger, clock: Clock = systemClock): (refusal: { status: number; message: string; address: string }) => void {
  let windowStart = clock.now();
  const named = new Set<string>();
  return ({ status, message, address }) => {
    if (clock.now() - windowStart >= REPEAT_WINDOW_MS) {
      windowStart = clock.now();
      named.clear();
    }
    if (!named.has(address) && named.size < NAMED_REFUSERS) named.add(address);
    log.error('request refused', { status, from: named.has(address) ? address : 'other addresses', error: message });
  };
}
