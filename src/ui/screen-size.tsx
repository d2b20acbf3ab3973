import { segment } from './line-layout.ts';
import { StatusLine } from './status-line.tsx';

/** A terminal's size in cells. */
export interface ScreenSize {
  readonly columns: number;
  readonly rows: number;
}

/** Below this, no screen can show its title, header and a row legibly. */
export const MIN_SIZE: ScreenSize = { columns: 40, rows: 10 };

/** Whether a terminal of this size gets the one-line notice instead of a screen. */
export function isTooSmall({ columns, rows }: ScreenSize): boolean {
  return columns < MIN_SIZE.columns || rows < MIN_SIZE.rows;
}

/**
 * The lines a screen may draw on a terminal of `rows`. One row stays free: a frame as tall as the terminal
 * leaves the cursor no line below it, and Ink then wipes it on exit instead of leaving it in place.
 */
export function frameHeight(rows: number): number {
  return rows - 1;
}

/** The one line shown instead of a screen on a terminal too small for it. */
export function TooSmall({ columns, rows }: ScreenSize) {
  const need = `needs ${MIN_SIZE.columns}x${MIN_SIZE.rows}`;
  return (
    <StatusLine
      width={Math.max(1, columns)}
      segments={[segment(`terminal too small: ${columns}x${rows}`, { short: [{ text: 'too small' }] }), segment(need)]}
    />
  );
}

/**
 * `budget` lines shared out among lists that want `wants[i]` each, one line at a time in turn, so a long
 * list cannot crowd out a short one. No list gets more than it wants.
 */
export function shareRows(budget: number, wants: readonly number[]): number[] {
  const given = wants.map(() => 0);
  let left = Math.max(0, budget);
  while (left > 0) {
    let gave = false;
    for (let i = 0; i < wants.length && left > 0; i++) {
      if (given[i]! < wants[i]!) {
        given[i]! += 1;
        left -= 1;
        gave = true;
      }
    }
    if (!gave) break;
  }
  return given;
}
