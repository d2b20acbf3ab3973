import { printable } from './printable.ts';

/** The most bytes of UTF-8 a task id may take. */
export const MAX_TASK_ID_BYTES = 256;

// Whitespace (Unicode White_Space), C0/C1 controls, the slash that would split a URL path, and every
// character that is invisible or reorders text (bidi overrides, zero-width characters, other format and
// default-ignorable characters, noncharacters): such an id could pass itself off as another in a listing.
const FORBIDDEN = /[\s\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}/]/u;
// Printable ASCII but the space and "/": most ids, which need neither the Unicode tables nor a byte count
// (each is one byte). Every watch and cancel checks its ids, so this is on the hot path.
const PLAIN = /^[!-.0-~]+$/;

/**
 * Returns why `id` is not a valid task id, or undefined when it is one. The one rule for server, client and
 * CLI: 1 to 256 bytes of well-formed UTF-8 that travel unchanged in a URL path and cannot disguise
 * themselves (no whitespace, control, format or other invisible characters, no "/", not "." or "..").
 */
export function taskIdProblem(id: string): string | undefined {
  if (id.length <= MAX_TASK_ID_BYTES && PLAIN.test(id)) return id === '.' || id === '..' ? dotted(id) : undefined;
  if (id.length === 0) return 'task id is empty';
  if (!id.isWellFormed()) return 'task id is not valid UTF-8';
  const bytes = Buffer.byteLength(id, 'utf8');
  if (bytes > MAX_TASK_ID_BYTES) return `task id is ${bytes} bytes long; the limit is ${MAX_TASK_ID_BYTES}`;
  const bad = FORBIDDEN.exec(id);
  if (bad) return `task id contains ${describeChar(bad[0])}; ids may not hold whitespace, control or invisible characters, or "/"`;
  return undefined;
}

// URL parsers resolve these as path segments ("/v1/tasks/.." is "/v1"), so they cannot reach the server.
function dotted(id: string): string {
  return `task id ${JSON.stringify(id)} cannot travel in a URL path`;
}

/** Thrown when input breaks one of taskctl's rules; its message is fit to show a user as is. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
}

/** Returns `id` when it is a valid task id; throws InvalidInputError otherwise. */
export function checkTaskId(id: string): string {
  const problem = taskIdProblem(id);
  if (problem) throw new InvalidInputError(`${problem}: ${preview(id)}`);
  return id;
}

function describeChar(ch: string): string {
  if (ch === '/') return '"/"';
  const code = ch.codePointAt(0)!;
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** A short, quoted, printable rendering of untrusted input for error messages. */
export function preview(input: string, maxChars = 40): string {
  return JSON.stringify(printable(input.length > maxChars ? `${input.slice(0, maxChars)}…` : input));
}
