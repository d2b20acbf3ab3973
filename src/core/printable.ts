// Text that came from elsewhere (a server's error message, a cancel reason, a task's output) is shown on
// terminals. Raw control characters there would move the cursor, recolour the screen, retitle the window
// or forge extra lines, so every such text passes through printable() on its way to a person.

// C0 controls, DEL, C1 controls, and the invisible characters that reorder or hide text (bidi overrides
// and isolates, zero-width characters, other default-ignorables).
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\u2028\u2029]/gu;
const UNPRINTABLE_KEEP_TAB = /[\0-\x08\n-\x1f\x7f\x80-\x9f\p{Cf}\p{Default_Ignorable_Code_Point}\u2028\u2029]/gu;

/** Whether `text` holds anything printable() would change. */
export function isPrintable(text: string): boolean {
  UNPRINTABLE.lastIndex = 0;
  return !UNPRINTABLE.test(text);
}

/**
 * `text` made safe for a terminal: each control or invisible character becomes visible instead of acting.
 * C0 controls and DEL become their Unicode control pictures (ESC shows as ␛, a newline as ␊); every other
 * such character shows as `<U+XXXX>`. With `keepTabs`, tabs pass through (fine in a log line, not in a table).
 */
export function printable(text: string, options: { keepTabs?: boolean } = {}): string {
  const pattern = options.keepTabs ? UNPRINTABLE_KEEP_TAB : UNPRINTABLE;
  return text.replace(pattern, describe);
}

function describe(ch: string): string {
  const code = ch.codePointAt(0)!;
  if (code < 0x20) return String.fromCodePoint(0x2400 + code);
  if (code === 0x7f) return '\u2421';
  return `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
}

// What JSON.stringify leaves raw but a terminal may act on or hide: DEL, C1 controls, invisible characters.
const JSON_UNSAFE = /[\x7f-\x9f\p{Cf}\p{Default_Ignorable_Code_Point}\u2028\u2029]/gu;

/**
 * JSON.stringify, with every character a terminal could act on written as a \u escape: the same value for
 * any JSON reader, and safe to print. (JSON.stringify already escapes C0 controls.)
 */
export function terminalSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(JSON_UNSAFE, (ch) => [...ch].map((unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''));
}
