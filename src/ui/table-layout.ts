// The one table layout every screen uses (work, serve, top). It is a pure function of the terminal width
// and the cells to show, so how a table narrows is decided and tested here, and components only draw it.
//
// Narrowing, in order, until the row fits the width:
//   0. columns held wider than their content (by a preferredWidth) give back the cells they do not use;
//   1. the flexible column (detail, reason, last line) gives way, down to its minimum;
//   2. the other columns give way, widest first, down to their minimums: long ids are shortened in the
//      middle (`pipeline-…-name-12`), keeping the end that tells ids apart;
//   3. columns with a `dropRank` (pid, elapsed) leave the table, highest rank first, and the rest lay out
//      again with the room they left;
//   4. if even that is too wide, columns are cut from the right; one left too narrow to say anything leaves.
// A cell is never wider than its column, so no row is ever taller than one line.

import { printable } from '../core/printable.ts';
import { cellWidth, pad, truncateEnd, truncateMiddle } from './cell-width.ts';

export interface TableColumn {
  readonly header: string;
  /**
   * The fewest cells this column is squeezed to before it drops out (or, lacking a dropRank, is cut). A
   * column that wants less (its content, or its preferredWidth, is narrower) is never squeezed at all.
   */
  readonly minWidth: number;
  /** The width it takes when there is room, whatever its content (so it does not move). Unset: its content's. */
  readonly preferredWidth?: number;
  /** The column that gives way first, and takes the room its content needs out of what is left. */
  readonly flex?: boolean;
  /** How text too long for the column is cut: at the end (default), or in the middle (ids, addresses). */
  readonly cut?: 'end' | 'middle';
  /** Columns of low value leave a narrow table, the highest rank first. Unset: the column stays. */
  readonly dropRank?: number;
  readonly align?: 'left' | 'right';
}

// A column cut narrower than this in the last step says too little to be worth its gap.
const MIN_CUT_WIDTH = 4;

export interface TableLayout {
  /** Indexes (into the given columns) of the columns shown, left to right. */
  readonly shown: readonly number[];
  /** The cells given to each shown column. */
  readonly widths: readonly number[];
  /** Spaces between two columns. */
  readonly gap: number;
}

/**
 * Column widths for `cells` (one array of cell texts per row, already printable) in `width` terminal
 * cells. The widths and gaps of the shown columns never add up to more than `width`.
 */
export function layoutTable(columns: readonly TableColumn[], cells: readonly (readonly string[])[], width: number, gap = 2): TableLayout {
  const natural = columns.map((column, i) => cells.reduce((widest, row) => Math.max(widest, cellWidth(row[i] ?? '')), cellWidth(column.header)));
  const wanted = columns.map((column, i) => column.preferredWidth ?? natural[i]!);
  const floors = columns.map((column, i) => Math.min(column.minWidth, wanted[i]!));
  const droppable = columns
    .map((column, i) => ({ i, rank: column.dropRank }))
    .filter((c): c is { i: number; rank: number } => c.rank !== undefined)
    .sort((a, b) => b.rank - a.rank);
  let shown = columns.map((_, i) => i);
  for (const next of droppable) {
    if (
      sumWithGaps(
        shown.map((i) => floors[i]!),
        gap,
      ) <= width
    )
      break;
    shown = shown.filter((i) => i !== next.i);
  }
  const widths = narrow(
    shown.map((i) => ({ ...columns[i]!, natural: natural[i]!, wanted: wanted[i]!, floor: floors[i]! })),
    width,
    gap,
  );
  // Columns cut below a few cells (an ellipsis and little else) leave, with their gaps.
  const keep = widths.map((w, k) => w >= Math.min(MIN_CUT_WIDTH, floors[shown[k]!]!) && w > 0);
  return { shown: shown.filter((_, k) => keep[k]), widths: widths.filter((_, k) => keep[k]), gap };
}

function narrow(columns: readonly (TableColumn & { natural: number; wanted: number; floor: number })[], width: number, gap: number): number[] {
  const widths = columns.map((c) => c.wanted);
  let excess = sumWithGaps(widths, gap) - width;
  const giveWay = (i: number, downTo: number) => {
    const give = Math.max(0, Math.min(excess, widths[i]! - downTo));
    widths[i]! -= give;
    excess -= give;
  };
  // 0. Padding goes before any text is cut.
  columns.forEach((column, i) => giveWay(i, Math.max(column.natural, column.floor)));
  // 1. The flexible column gives way.
  columns.forEach((column, i) => {
    if (column.flex) giveWay(i, column.floor);
  });
  // 2. The others give way one cell at a time, the widest first, so long ids shorten before short ones.
  while (excess > 0) {
    let widest = -1;
    columns.forEach((column, i) => {
      if (widths[i]! > column.floor && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
    });
    if (widest < 0) break;
    widths[widest]! -= 1;
    excess -= 1;
  }
  // 4. Still too wide: cut from the right.
  for (let i = widths.length - 1; i >= 0 && excess > 0; i--) {
    const give = Math.min(excess, widths[i]!);
    widths[i]! -= give;
    excess -= give;
  }
  return widths;
}

function sumWithGaps(widths: readonly number[], gap: number): number {
  return widths.reduce((sum, w) => sum + w, 0) + gap * Math.max(0, widths.length - 1);
}

/** `text` cut (as its column says) and padded to exactly `width` cells. */
export function fitCell(text: string, width: number, column: Pick<TableColumn, 'cut' | 'align'>): string {
  const cut = column.cut === 'middle' ? truncateMiddle(text, width) : truncateEnd(text, width);
  return pad(cut, width, column.align);
}

/** A table ready to draw: each line's cells fitted to their columns. */
export interface FittedTable {
  readonly layout: TableLayout;
  /** The header's cells, fitted. */
  readonly header: readonly string[];
  /** Each row's cells, fitted, in the shown columns' order. */
  readonly rows: readonly (readonly string[])[];
}

export interface TableOptions {
  /** Spaces between columns (at least 1). Default 2. */
  readonly gap?: number;
  /** Whether the column headers are drawn, and so count towards the widths. Default true. */
  readonly header?: boolean;
}

/**
 * Lays out and fits a table: every cell passes through printable() (ids, reasons and output lines come
 * from elsewhere and must not act on the terminal), is measured in cells, and is cut and padded to its
 * column; the last column is not padded. Every line is at most `width` cells wide.
 */
export function fitTable(columns: readonly TableColumn[], rows: readonly (readonly string[])[], width: number, options: TableOptions = {}): FittedTable {
  const safe = rows.map((row) => row.map((text) => printable(text)));
  const withHeader = options.header ?? true;
  const measured = withHeader ? columns : columns.map((c) => ({ ...c, header: '' }));
  const layout = layoutTable(measured, safe, width, Math.max(1, options.gap ?? 2));
  const last = layout.shown.length - 1;
  const fit = (row: readonly string[]) =>
    layout.shown.map((i, k) => {
      const cell = fitCell(row[i] ?? '', layout.widths[k]!, columns[i]!);
      return k === last ? cell.trimEnd() : cell;
    });
  return { layout, header: withHeader ? fit(columns.map((c) => c.header)) : [], rows: safe.map(fit) };
}
