// Title and status lines: a few segments joined by " · " that must stay on one line at any width. A line
// too wide for the terminal first switches segments to their short forms (first segment first), then
// shortens optional addresses and paths in their middle; if it is still too wide it leaves out optional
// segments (last first) and tries again; with none left, it shortens the other addresses in their middle,
// and only then is it cut at its end.

import { printable } from '../core/printable.ts';
import { cellWidth, graphemes, truncateMiddle } from './cell-width.ts';

export interface Span {
  readonly text: string;
  readonly color?: string | undefined;
  readonly dimColor?: boolean;
  readonly bold?: boolean;
}

export interface Segment {
  readonly spans: readonly Span[];
  /** What the segment says when the line is too wide, e.g. `answered/s 2.5` for `watches answered/s 2.5`. */
  readonly short?: readonly Span[];
  /** Left out when even the short forms do not fit. */
  readonly optional?: boolean;
  /** Set for addresses and paths: the segment's last span may be shortened in its middle down to this. */
  readonly minWidth?: number;
}

export const SEPARATOR = ' · ';

/** A segment of one span; a plain string is a plain span. */
export function segment(text: string | Span, more: Omit<Segment, 'spans'> = {}): Segment {
  return { spans: [typeof text === 'string' ? { text } : text], ...more };
}

/**
 * The spans to draw for `segments` in `width` cells, separators included. Every text passes through
 * printable() (addresses and error messages come from elsewhere); the result is at most `width` cells.
 */
export function fitSegments(segments: readonly Segment[], width: number, separator = SEPARATOR): Span[] {
  let kept = segments.map((s) => ({ ...s, spans: safe(s.spans), short: s.short && safe(s.short) }));
  // While optional segments remain, only they are squeezed: an address is not cut to keep a store path.
  let line = shorten(
    kept,
    width,
    separator,
    kept.some((s) => s.optional),
  );
  for (let i = kept.length - 1; i >= 0 && spansWidth(line) > width; i--) {
    if (!kept[i]!.optional) continue;
    kept = kept.filter((_, k) => k !== i);
    line = shorten(
      kept,
      width,
      separator,
      kept.some((s) => s.optional),
    );
  }
  return cutSpans(line, width);
}

/** The line with short forms (first segment first), then segments squeezed (last first), until it fits. */
function shorten(segments: readonly Segment[], width: number, separator: string, squeezeOnlyOptional: boolean): Span[] {
  const current = [...segments];
  const join = () => current.flatMap((s, i) => (i === 0 ? s.spans : [{ text: separator }, ...s.spans]));
  for (let i = 0; i < current.length && spansWidth(join()) > width; i++) {
    const short = current[i]!.short;
    if (short) current[i] = { ...current[i]!, spans: short };
  }
  for (let i = current.length - 1; i >= 0 && spansWidth(join()) > width; i--) {
    const { spans, minWidth, optional } = current[i]!;
    const last = spans.at(-1);
    if (minWidth === undefined || !last || (squeezeOnlyOptional && !optional)) continue;
    const excess = spansWidth(join()) - width;
    const room = Math.max(minWidth - spansWidth(spans.slice(0, -1)), cellWidth(last.text) - excess);
    current[i] = { ...current[i]!, spans: [...spans.slice(0, -1), { ...last, text: truncateMiddle(last.text, room) }] };
  }
  return join();
}

/**
 * The fewest cells `segments` take on one line once squeezed as fitSegments squeezes: an address or a path
 * down to its minWidth, everything else whole.
 */
export function leastWidth(segments: readonly Segment[], separator = SEPARATOR): number {
  return segments.reduce((sum, s, i) => {
    const whole = spansWidth(safe(s.spans));
    return sum + (i === 0 ? 0 : cellWidth(separator)) + (s.minWidth === undefined ? whole : Math.min(whole, s.minWidth));
  }, 0);
}

/** `segments` in order over as few lines of `width` cells as they fill, none of them split. */
export function wrapSegments(segments: readonly Segment[], width: number, separator = SEPARATOR): Segment[][] {
  const lines: Segment[][] = [];
  for (const s of segments) {
    const line = lines.at(-1);
    if (line !== undefined && leastWidth([...line, s], separator) <= width) line.push(s);
    else lines.push([s]);
  }
  return lines;
}

const safe = (spans: readonly Span[]) => spans.map((span) => ({ ...span, text: printable(span.text) }));
const spansWidth = (spans: readonly Span[]) => spans.reduce((sum, span) => sum + cellWidth(span.text), 0);

/** `spans` cut to `width` cells, the last one kept ending in `…` when something was cut. */
export function cutSpans(spans: readonly Span[], width: number): Span[] {
  if (spansWidth(spans) <= width) return [...spans];
  const out: Span[] = [];
  let room = Math.max(0, width - 1);
  for (const span of spans) {
    if (cellWidth(span.text) <= room) {
      out.push(span);
      room -= cellWidth(span.text);
      continue;
    }
    let text = '';
    for (const g of graphemes(span.text)) {
      if (g.width > room) break;
      text += g.text;
      room -= g.width;
    }
    out.push({ ...span, text: `${text}…` });
    break;
  }
  return width > 0 ? out : [];
}
