// How many terminal cells text takes, and how to cut it to a number of cells. Strings are measured per
// grapheme (what a person sees as one character), because a terminal draws a CJK ideograph or an emoji in
// two cells and a combining accent in none: string.length would misplace every column after such a cell.

/**
 * East Asian Wide and Fullwidth ranges from Unicode's EastAsianWidth.txt, as inclusive pairs, leaving out the
 * emoji that EMOJI_PRESENTATION already covers. Ambiguous characters count as narrow, as on most terminals.
 */
const WIDE_RANGES: readonly number[] = [
  0x1100, 0x115f, 0x2329, 0x232a, 0x2630, 0x2637, 0x268a, 0x268f, 0x2e80, 0x2e99, 0x2e9b, 0x2ef3, 0x2f00, 0x2fd5,
  0x2ff0, 0x303e, 0x3041, 0x3096, 0x3099, 0x30ff, 0x3105, 0x312f, 0x3131, 0x318e, 0x3190, 0x31e5, 0x31ef, 0x321e,
  0x3220, 0x3247, 0x3250, 0xa48c, 0xa490, 0xa4c6, 0xa960, 0xa97c, 0xac00, 0xd7a3, 0xf900, 0xfaff, 0xfe10, 0xfe19,
  0xfe30, 0xfe52, 0xfe54, 0xfe66, 0xfe68, 0xfe6b, 0xff01, 0xff60, 0xffe0, 0xffe6, 0x16fe0, 0x16fe4, 0x16ff0, 0x16ff6,
  0x17000, 0x18cda, 0x18cff, 0x18d20, 0x18d80, 0x18df2, 0x18e00, 0x19191, 0x191a0, 0x191d2, 0x1aff0, 0x1aff3,
  0x1aff5, 0x1affb, 0x1affd, 0x1affe, 0x1b000, 0x1b128, 0x1b132, 0x1b132, 0x1b150, 0x1b152, 0x1b155, 0x1b155,
  0x1b164, 0x1b168, 0x1b170, 0x1b2fb, 0x1d300, 0x1d356, 0x1d360, 0x1d376, 0x1f1ae, 0x1f1ae, 0x1f200, 0x1f200,
  0x1f202, 0x1f202, 0x1f210, 0x1f219, 0x1f21b, 0x1f22e, 0x1f230, 0x1f231, 0x1f237, 0x1f237, 0x1f23b, 0x1f23b,
  0x1f240, 0x1f248, 0x1f260, 0x1f265, 0x1f6d9, 0x1f6d9, 0x1f7da, 0x1f7da, 0x1fa8b, 0x1fa8d, 0x1facc, 0x1facc,
  0x1fadd, 0x1fadd, 0x1faeb, 0x1faeb, 0x1faf9, 0x1fafa, 0x20000, 0x2fffd, 0x30000, 0x3fffd,
];

// A lone regional indicator (half a flag) is narrow; a pair is an RGI emoji.
const EMOJI_PRESENTATION = /(?![\u{1f1e6}-\u{1f1ff}])\p{Emoji_Presentation}/u;
// Marks and halfwidth forms (such as the sound mark in ｶﾞ) that take a cell of their own after the first.
const SPACING = /^[\p{Mc}\uff00-\uffef]$/u;
const RGI_EMOJI = /^\p{RGI_Emoji}$/v;
// What a terminal draws nothing for: controls, format characters, combining marks, default-ignorables.
const INVISIBLE = /^[\p{Cc}\p{Cf}\p{Mn}\p{Me}\p{Default_Ignorable_Code_Point}]$/u;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const segmenter = new Intl.Segmenter();

function isWideCodePoint(codePoint: number): boolean {
  let low = 0;
  let high = WIDE_RANGES.length / 2 - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (codePoint < WIDE_RANGES[middle * 2]!) high = middle - 1;
    else if (codePoint > WIDE_RANGES[middle * 2 + 1]!) low = middle + 1;
    else return true;
  }
  return false;
}

/** The cells one grapheme takes: 2 for wide characters and emoji, 0 for marks and controls, else 1. */
export function graphemeWidth(grapheme: string): number {
  if (RGI_EMOJI.test(grapheme)) return 2;
  // A cluster is as wide as its first visible character, plus the spacing marks after it; other marks sit
  // on top of it.
  let width = 0;
  for (const char of grapheme) {
    if (width === 0) {
      if (!INVISIBLE.test(char)) width = isWideCodePoint(char.codePointAt(0)!) || EMOJI_PRESENTATION.test(char) ? 2 : 1;
    } else if (SPACING.test(char)) {
      width += isWideCodePoint(char.codePointAt(0)!) ? 2 : 1;
    }
  }
  return width;
}

/** The graphemes of `text`, each with the cells it takes. */
export function graphemes(text: string): { readonly text: string; readonly width: number }[] {
  if (PRINTABLE_ASCII.test(text)) return Array.from(text, (char) => ({ text: char, width: 1 }));
  return Array.from(segmenter.segment(text), ({ segment }) => ({ text: segment, width: graphemeWidth(segment) }));
}

/** The number of terminal cells `text` takes on one line. `text` must hold no escape sequences. */
export function cellWidth(text: string): number {
  if (PRINTABLE_ASCII.test(text)) return text.length;
  let width = 0;
  for (const { segment } of segmenter.segment(text)) width += graphemeWidth(segment);
  return width;
}

const ELLIPSIS = '…';

/** `text` cut to at most `width` cells, ending in `…` when something was cut. Never splits a grapheme. */
export function truncateEnd(text: string, width: number): string {
  if (cellWidth(text) <= width) return text;
  if (width <= 0) return '';
  return takeCells(graphemes(text), width - 1) + ELLIPSIS;
}

/**
 * `text` cut to at most `width` cells by taking out its middle: `pipeline-…-name-12`. The end gets the larger
 * half, because that is where ids such as `step-11` and `step-12` differ.
 */
export function truncateMiddle(text: string, width: number): string {
  if (cellWidth(text) <= width) return text;
  if (width <= 0) return '';
  const all = graphemes(text);
  const room = width - 1;
  const tail = takeCells([...all].reverse(), Math.ceil(room / 2), true);
  const head = takeCells(all, room - cellWidth(tail));
  return head + ELLIPSIS + tail;
}

/** The leading graphemes that fit in `width` cells (trailing ones, joined in order, when `reversed`). */
function takeCells(parts: readonly { text: string; width: number }[], width: number, reversed = false): string {
  const taken: string[] = [];
  let used = 0;
  for (const part of parts) {
    if (used + part.width > width) break;
    taken.push(part.text);
    used += part.width;
  }
  return (reversed ? taken.reverse() : taken).join('');
}

/** `text` followed by spaces up to `width` cells (or preceded by them, for `align: 'right'`). */
export function pad(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const fill = ' '.repeat(Math.max(0, width - cellWidth(text)));
  return align === 'right' ? fill + text : text + fill;
}
