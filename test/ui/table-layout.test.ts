import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fitTable, layoutTable, type TableColumn } from '../../src/ui/table-layout.ts';
import { inkStringWidth } from './render-at.tsx';

const ID: TableColumn = { header: 'TASK', minWidth: 16, cut: 'middle' };
const STATE: TableColumn = { header: 'STATE', minWidth: 10, preferredWidth: 10 };
const ELAPSED: TableColumn = { header: 'ELAPSED', minWidth: 7, dropRank: 1 };
const PID: TableColumn = { header: 'PID', minWidth: 3, dropRank: 2 };
const DETAIL: TableColumn = { header: 'DETAIL', minWidth: 20, flex: true };
const COLUMNS = [ID, STATE, ELAPSED, PID, DETAIL];

const LONG_ID = 'pipeline-step-with-a-long-name-12';
const row = (id: string, detail = 'working on it, step 3 of 10') => [id, 'running', '4s', '10502', detail];
const headers = (width: number, rows = [row(LONG_ID)]) => {
  const layout = layoutTable(COLUMNS, rows, width);
  return Object.fromEntries(layout.shown.map((i, k) => [COLUMNS[i]!.header, layout.widths[k]!]));
};

test('with room, every column is as wide as its content (or its preferred width), two spaces apart', () => {
  const rows = [row('a'), row(LONG_ID)];
  const table = fitTable(COLUMNS, rows, 200);
  assert.equal(headers(200, rows), { TASK: 33, STATE: 10, ELAPSED: 7, PID: 5, DETAIL: 27 });
  assert.is(table.rows[1]!.join('  '), `${LONG_ID}  running     4s       10502  working on it, step 3 of 10`);
  assert.is(table.header.join('  '), 'TASK                               STATE       ELAPSED  PID    DETAIL');
});

test('narrowing: the detail gives way first, then ids are shortened in the middle, then pid and elapsed leave', () => {
  // 33 + 10 + 7 + 5 + 27 + 4 gaps of 2 = 90.
  assert.equal(headers(90), { TASK: 33, STATE: 10, ELAPSED: 7, PID: 5, DETAIL: 27 });
  assert.equal(headers(83), { TASK: 33, STATE: 10, ELAPSED: 7, PID: 5, DETAIL: 20 }, 'detail down to its minimum, id untouched');
  assert.equal(headers(80), { TASK: 30, STATE: 10, ELAPSED: 7, PID: 5, DETAIL: 20 }, 'then the id shortens');
  assert.equal(headers(64), { TASK: 16, STATE: 10, ELAPSED: 7, PID: 3, DETAIL: 20 }, 'every column at its minimum');
  assert.equal(headers(63), { TASK: 20, STATE: 10, ELAPSED: 7, DETAIL: 20 }, 'pid leaves first, and the id gets its room');
  assert.equal(headers(58), { TASK: 24, STATE: 10, DETAIL: 20 }, '…then elapsed');
  assert.is(fitTable(COLUMNS, [row(LONG_ID)], 80).rows[0]![0], 'pipeline-step-…-a-long-name-12');
});

test('a column held wide by its preferredWidth gives back its padding before any text is cut', () => {
  const columns: TableColumn[] = [ID, { header: 'FROM', minWidth: 9, preferredWidth: 15 }, DETAIL];
  const rows = [[LONG_ID, '127.0.0.1', 'wrong dataset: the run picked up']];
  assert.equal(layoutTable(columns, rows, 200).widths, [33, 15, 32]);
  assert.equal(layoutTable(columns, rows, 78).widths, [33, 9, 32]);
  assert.equal(layoutTable(columns, rows, 70).widths, [33, 9, 24]);
});

test('the widest column shortens first, so short ids keep their full text', () => {
  const columns: TableColumn[] = [ID, { ...ID, header: 'PARENT' }, DETAIL];
  const layout = layoutTable(columns, [['x'.repeat(60), 'short-parent-id-1', 'detail']], 70);
  assert.equal(layout.widths, [43, 17, 6]);
});

test('no line is ever wider than the width, at any width, whatever the cells hold', () => {
  const rows = [
    row('x'),
    row('训练任务-数据管道-第七步-模型评估-第十二号'),
    row('🚀-deploy-🔥-prod-eu-west-1-🐳-build-0042'),
    row('y'.repeat(64), 'a reason '.repeat(120)),
    row('e\u0301'.repeat(40), '全角の説明文'.repeat(30)),
  ];
  for (let width = 1; width <= 220; width++) {
    const table = fitTable(COLUMNS, rows, width);
    for (const line of [table.header, ...table.rows]) {
      const text = line.join(' '.repeat(table.layout.gap));
      assert.ok(inkStringWidth(text) <= width, `${inkStringWidth(text)} > ${width}: ${text}`);
      assert.not.match(text, /\n/);
    }
  }
});

test('cells are made printable before they are measured: escapes and newlines cannot act or add lines', () => {
  const table = fitTable(COLUMNS, [row('job\x1b[2J', 'line one\nline two\x1b]0;title\x07')], 120);
  const text = table.rows[0]!.join('  ');
  assert.not.match(text, /[\x00-\x1f\x7f]/);
  assert.match(text, 'job␛[2J');
  assert.match(text, 'line one␊line two␛]0;title␇');
});

test('right-aligned columns pad on the left; the last column is not padded', () => {
  const columns: TableColumn[] = [
    { header: 'N', minWidth: 5, preferredWidth: 5, align: 'right' },
    { header: 'NAME', minWidth: 4 },
  ];
  assert.equal(fitTable(columns, [['42', 'a']], 40).rows[0], ['   42', 'a']);
});

test('without headers, only the cells count towards the widths', () => {
  const columns: TableColumn[] = [
    { header: 'A LONG HEADER', minWidth: 1 },
    { header: 'B', minWidth: 1 },
  ];
  const table = fitTable(columns, [['a', 'b']], 40, { header: false });
  assert.equal(table.layout.widths, [1, 1]);
  assert.equal(table.header, []);
});

test.run();
