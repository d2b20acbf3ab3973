// How many terminal cells text takes, and how to cut it to a number of cells. Strings are measured per
// grapheme (what a person sees as one character), because a terminal draws a CJK ideograph or an emoji in
// two cells and a combining accent in none: string.length would misplace every column after such a cell.
// The widths are string-width's, the measure Ink lays out with, so a row we cut to fit is one Ink does not
// wrap. The bundle loads string-width only when a string is not plain ASCII (build/string-width-lazy.mjs),
// so plain output and --help do not pay its set-up at start.
import stringWidth from 'string-width';

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
let segmenter: Intl.Segmenter | undefined;

/** The graphemes of `text`, each with the cells it takes: 2 for wide characters and emoji, 0 for marks and controls, else 1. */
export function graphemes(text: string): { readonly text: string; readonly width: number }[] {
  if (PRINTABLE_ASCII.test(text)) return Array.from(text, (char) => ({ text: char, width: 1 }));
  segmenter ??= new Intl.Segmenter();
  return Array.from(segmenter.segment(text), ({ segment }) => ({ text: segment, width: stringWidth(segment) }));
}

/** The number of terminal cells `text` takes on one line. `text` must hold no escape sequences. */
export function cellWidth(text: string): number {
  return stringWidth(text);
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
