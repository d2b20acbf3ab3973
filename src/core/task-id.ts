/** The most bytes of UTF-8 a task id may take. */
export const MAX_TASK_ID_BYTES = 256;

// Whitespace (Unicode White_Space), C0/C1 controls, and the slash that would split a URL path.
const FORBIDDEN = /[\s\p{Cc}/]/u;

/** Returns why `id` is not a valid task id, or undefined when it is one. */
export function taskIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'task id is empty';
  if (!id.isWellFormed()) return 'task id is not valid UTF-8';
  const bytes = Buffer.byteLength(id, 'utf8');
  if (bytes > MAX_TASK_ID_BYTES) return `task id is ${bytes} bytes long; the limit is ${MAX_TASK_ID_BYTES}`;
  const bad = FORBIDDEN.exec(id);
  if (bad) return `task id contains ${describeChar(bad[0])}; ids may not hold whitespace, control characters or "/"`;
  return undefined;
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

/** A short, printable rendering of untrusted input for error messages. */
export function preview(input: string, maxChars = 40): string {
  const shown = JSON.stringify(input.length > maxChars ? `${input.slice(0, maxChars)}…` : input);
  return shown;
}
