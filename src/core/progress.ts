// A task's progress: the last line of its output (or what it reported with `::progress TEXT`), made fit
// to travel and to be shown anywhere. The worker cleans it before sending; the server cleans it again,
// since a worker's token is no reason to trust its bytes.

/** The most characters (code points) a progress text keeps. */
export const MAX_PROGRESS_CHARS = 200;

/** How often a worker sends a task's progress at most, and how often the server writes it down. */
export const PROGRESS_INTERVAL_MS = 2_000;

// An output line that reports progress explicitly: `::progress TEXT`. Such a line is not output.
const EXPLICIT = /^::progress(?:[ \t]([\s\S]*))?$/;

// Terminal escape sequences (CSI such as colours, OSC such as titles, and the two-character ones): dropped
// whole, so a coloured line reads as its words rather than as "[32m".
const ESCAPE_SEQUENCE = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])|\x9b[0-?]*[ -/]*[@-~]/g;
// Whatever is left that a terminal could act on or that hides text: C0 and C1 controls, DEL, format and
// default-ignorable characters. Tabs become spaces first.
const CONTROL = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\u2028\u2029]/gu;

/**
 * `line` as progress: escape sequences and control characters removed, runs of spaces kept as they are,
 * trimmed, and cut to MAX_PROGRESS_CHARS characters (ending in `…` when cut). Undefined when nothing is left.
 */
export function progressText(line: string): string | undefined {
  const clean = line.replace(ESCAPE_SEQUENCE, '').replace(/\t/g, ' ').replace(CONTROL, '').trim();
  if (clean === '') return undefined;
  const chars = Array.from(clean);
  return chars.length <= MAX_PROGRESS_CHARS
    ? clean
    : `${chars
        .slice(0, MAX_PROGRESS_CHARS - 1)
        .join('')
        .trimEnd()}…`;
}

/** The text of an explicit `::progress TEXT` line, or undefined when `line` is not one. */
export function explicitProgress(line: string): string | undefined {
  const match = EXPLICIT.exec(line);
  return match ? (match[1] ?? '') : undefined;
}

/** A task's last reported progress, as statuses keep it. */
export interface TaskProgress {
  readonly text: string;
  /** When the server received it. */
  readonly at: number;
}
