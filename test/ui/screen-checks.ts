// What every screen promises, checked the same way on a component's frame and on a real terminal's
// capture-pane: no line wider than the terminal, no more lines than it has, the title first, every row
// one line (a row that wrapped or ran into the next column leaves a line these checks do not know), and
// the distinguishing end of every shortened id visible.
import * as assert from 'uvu/assert';
import { inkStringWidth } from './render-at.tsx';

export interface Size {
  readonly columns: number;
  readonly rows: number;
}

const STATE_LABELS = ['watching', 'running', 'cancelling', 'cancelled', 'timed out', 'exited 0', 'failed', 'stopped'];
const segmenter = new Intl.Segmenter();
const graphemes = (text: string) => Array.from(segmenter.segment(text), (s) => s.segment);

/** The last graphemes of `id` that fit in 6 cells: what a shortened id must still show. */
export function tailOf(id: string): string {
  let tail = '';
  for (const g of graphemes(id).reverse()) {
    if (inkStringWidth(g + tail) > 6) break;
    tail = g + tail;
  }
  return tail;
}

/** The part of `line` between cells `from` and `to`, as a terminal draws it. */
export function cellSlice(line: string, from: number, to: number): string {
  let at = 0;
  let out = '';
  for (const g of graphemes(line)) {
    if (at >= from && at < to) out += g;
    at += inkStringWidth(g);
  }
  return out;
}

/** `cell` shows `id`: whole, or shortened in the middle, keeping its first character and its end. */
export function showsId(cell: string, id: string): boolean {
  const text = cell.trimEnd();
  if (text === id) return true;
  return text.includes('…') && text.startsWith(graphemes(id)[0]!) && text.endsWith(tailOf(id)) && id.endsWith(text.split('…')[1]!);
}

/** The lines of a frame or capture, checked to fit `size`; a capture's blank rows below the frame are dropped. */
export function assertFits(text: string, { columns, rows }: Size, what: string): string[] {
  // capture-pane ends its last row with a newline; that is no extra line.
  const all = text
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => line.trimEnd());
  assert.ok(all.length <= rows, `${what}: ${all.length} lines on a ${rows}-row terminal`);
  for (const line of all) assert.ok(inkStringWidth(line) <= columns, `${what}: a line of ${inkStringWidth(line)} cells on ${columns} columns:\n${line}`);
  while (all.length > 0 && all.at(-1) === '') all.pop();
  return all;
}

/** Checks a work screen showing `taskCount` tasks and returns the id cells of its task rows. */
export function assertWorkScreen(text: string, size: Size, taskCount: number, what: string): string[] {
  const lines = assertFits(text, size, what);
  assert.ok(lines[0]!.startsWith('taskctl work · '), `${what}: title first, got:\n${text}`);
  assert.match(lines[0]!, '● connected', what);
  // Of all the tasks, those still watched (an ended task is not).
  assert.match(lines[1]!, new RegExp(`watching (\\d+ of )?${taskCount} tasks`), what);
  const header = lines[3]!;
  assert.match(header, /^TASK +STATE( +ELAPSED)?( +PID)? +DETAIL$/, `${what}: the column header fourth, got:\n${text}`);
  const stateAt = header.indexOf('STATE');
  assert.match(lines.at(-1)!, /q quit|done · exit code/, `${what}: key hints last, nothing after them:\n${text}`);
  const more = lines.at(-2)!.startsWith('… ') ? 1 : 0;
  const taskRows = lines.slice(4, lines.length - 1 - more);
  for (const row of taskRows) {
    const state = cellSlice(row, stateAt, stateAt + 10).trimEnd();
    assert.ok(STATE_LABELS.includes(state), `${what}: no state under STATE in\n${row}\n\nin\n${text}`);
    assert.ok(/\S/.test(cellSlice(row, 0, 1)), `${what}: a row starts with a space (a wrapped line?)\n${row}`);
  }
  if (more) assert.match(lines.at(-2)!, new RegExp(`^… ${taskCount - taskRows.length} more not shown`), what);
  else assert.is(taskRows.length, taskCount, `${what}: every task shown`);
  assert.is(text.split('taskctl work').length, 2, `${what}: one title, no leftover of an earlier frame`);
  return taskRows.map((row) => cellSlice(row, 0, stateAt - 2));
}

const CLOCK = /^\d\d:\d\d:\d\d {2}\S/;
const HEADING = /^(Recent cancels|Task states|Recent errors)( · \d+ more not shown)?$/;
const EMPTY_LIST = /^(none yet|no task watched yet|none)$/;

/**
 * Checks a serve screen and returns the id cells of the rows of its first two lists. `after` finds, in a
 * row, the column that follows the id (an address; a state).
 */
export function assertServeScreen(text: string, size: Size, after: { cancels: RegExp; changes: RegExp }, what: string): Record<string, string[]> {
  const lines = assertFits(text, size, what);
  assert.ok(lines[0]!.startsWith('taskctl serve · '), `${what}: title first, got:\n${text}`);
  assert.match(lines[0]!, /up \d/, `${what}: the uptime is not cut off the title`);
  assert.match(lines[1]!, /^open watches \d+ · .*lost \d+$/, `${what}: rates on one line`);
  assert.match(lines.at(-1)!, /^Ctrl-C stops the server/, `${what}: key hint last, nothing after it:\n${text}`);
  const sections: Record<string, string[]> = {};
  let section = '';
  for (const line of lines.slice(2, -1)) {
    if (line === '' || EMPTY_LIST.test(line)) continue;
    const heading = HEADING.exec(line);
    if (heading) section = heading[1]!;
    else if (CLOCK.test(line)) (sections[section] ??= []).push(line);
    else assert.unreachable(`${what}: a line that is no heading and no row:\n${line}\n\nin\n${text}`);
  }
  assert.is(text.split('taskctl serve').length, 2, `${what}: one title, no leftover of an earlier frame`);
  // The rows of a list are aligned: the column after the id starts at the same cell in each.
  const idCells = (list: readonly string[], next: RegExp) => {
    const starts = list.map((line) => {
      const match = next.exec(line);
      assert.ok(match, `${what}: no column after the id in\n${line}`);
      return inkStringWidth(line.slice(0, match.index));
    });
    assert.ok(
      starts.every((s) => s === starts[0]),
      `${what}: columns out of line:\n${list.join('\n')}`,
    );
    return list.map((line, i) => cellSlice(line, 10, starts[i]! - 2));
  };
  return {
    cancels: idCells(sections['Recent cancels'] ?? [], after.cancels),
    changes: idCells(sections['Task states'] ?? [], after.changes),
    errors: sections['Recent errors'] ?? [],
  };
}
