// The table every screen draws its rows with. A screen (work, serve, top) does the same few things:
//   - takes { columns, rows } as props, from one useWindowSize() in its app component;
//   - returns <TooSmall> when isTooSmall(size), and draws at most frameHeight(rows) lines, choosing which
//     rows to show itself (live ones first; shareRows() when several lists share the height);
//   - draws title and status lines with <StatusLine segments width>, and rows with
//       <Table columns={COLUMNS} rows={[{ key, cells: [id, { text: state, color }, …] }]} width={columns} />
//     where each column says its minWidth, and as needed preferredWidth, flex, cut: 'middle' (ids) and
//     dropRank (low-value columns); see table-layout.ts for how they narrow;
//   - is drawn with draw() (draw.ts): Ink's render(), erasing the screen when the terminal narrows.
// Cell and segment texts may come from anywhere: they pass through printable() here, once.

import { Box, Text } from 'ink';
import { Fragment } from 'react';
import { fitTable, type TableColumn, type TableOptions } from './table-layout.ts';

export type { TableColumn } from './table-layout.ts';

/** How a cell is drawn; its text may come from anywhere (the table makes it printable). */
export interface CellStyle {
  readonly color?: string | undefined;
  readonly dimColor?: boolean;
  readonly bold?: boolean;
  /** Drawn in reverse video: the selected row. */
  readonly inverse?: boolean;
}

export type TableCell = string | (CellStyle & { readonly text: string });

export interface TableRow {
  readonly key: string;
  /** One cell per column, in the columns' order. */
  readonly cells: readonly TableCell[];
}

export interface TableProps extends TableOptions {
  readonly columns: readonly TableColumn[];
  readonly rows: readonly TableRow[];
  /** Terminal cells the table may take; no line is wider. */
  readonly width: number;
}

const textOf = (cell: TableCell | undefined) => (cell === undefined ? '' : typeof cell === 'string' ? cell : cell.text);
const styleOf = (cell: TableCell | undefined): CellStyle => (cell === undefined || typeof cell === 'string' ? {} : cell);

/** Rows of cells in columns that narrow together (see table-layout.ts); every row is one line. */
export function Table({ columns, rows, width, ...options }: TableProps) {
  const fitted = fitTable(
    columns,
    rows.map((row) => row.cells.map(textOf)),
    width,
    options,
  );
  const { shown, gap } = fitted.layout;
  return (
    <Box flexDirection="column">
      {options.header !== false && <TableLine cells={fitted.header} styles={shown.map(() => ({ bold: true }))} gap={gap} />}
      {fitted.rows.map((cells, r) => (
        <TableLine key={rows[r]!.key} cells={cells} styles={shown.map((i) => styleOf(rows[r]!.cells[i]))} gap={gap} />
      ))}
    </Box>
  );
}

interface TableLineProps {
  readonly cells: readonly string[];
  readonly styles: readonly CellStyle[];
  readonly gap: number;
}

function TableLine({ cells, styles, gap }: TableLineProps) {
  const space = ' '.repeat(gap);
  return (
    // The cells already fit; truncating here only guards against a terminal that measures differently.
    <Text wrap="truncate-end">
      {cells.map((cell, k) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: a row's cells are positional (column k) and never reorder
        <Fragment key={k}>
          {k > 0 && space}
          <Text {...styles[k]}>{cell}</Text>
        </Fragment>
      ))}
    </Text>
  );
}
