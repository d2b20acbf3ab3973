import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fitSegments, segment, type Segment, type Span } from '../../src/ui/line-layout.ts';
import { shareRows } from '../../src/ui/screen-size.tsx';
import { inkStringWidth } from './render-at.tsx';

const text = (spans: readonly Span[]) => spans.map((s) => s.text).join('');
const TITLE: Segment[] = [
  segment({ text: 'taskctl serve', bold: true }),
  { spans: [{ text: 'listening on ' }, { text: 'http://127.0.0.1:8080' }], short: [{ text: 'http://127.0.0.1:8080' }], minWidth: 12 },
  segment('up 1m30s'),
  segment('store sqlite:/var/lib/taskctl/taskctl.db', { minWidth: 16, optional: true }),
];

test('a line that fits is drawn as given, joined by " · "', () => {
  assert.is(text(fitSegments(TITLE, 120)), 'taskctl serve · listening on http://127.0.0.1:8080 · up 1m30s · store sqlite:/var/lib/taskctl/taskctl.db');
});

test('too wide: short forms, then optional paths squeezed, then optional parts leave, then other addresses squeezed, then the end is cut', () => {
  assert.is(text(fitSegments(TITLE, 95)), 'taskctl serve · http://127.0.0.1:8080 · up 1m30s · store sqlite:/var/lib/taskctl/taskctl.db');
  assert.is(text(fitSegments(TITLE, 80)), 'taskctl serve · http://127.0.0.1:8080 · up 1m30s · store sqlite:/…ctl/taskctl.db');
  assert.is(text(fitSegments(TITLE, 60)), 'taskctl serve · http://127.0.0.1:8080 · up 1m30s', 'the store leaves rather than the address being cut');
  assert.is(text(fitSegments(TITLE, 40)), 'taskctl serve · http:/…1:8080 · up 1m30s');
  assert.is(text(fitSegments(TITLE, 20)), 'taskctl serve · htt…');
});

test('styles stay on their spans; untrusted text is made printable', () => {
  const spans = fitSegments([segment({ text: 'lost', color: 'red' }), segment('reason: \x1b[2Jgone\n')], 80);
  assert.equal(spans[0], { text: 'lost', color: 'red' });
  assert.is(text(spans), 'lost · reason: ␛[2Jgone␊');
});

test('never wider than the width', () => {
  const segments = [...TITLE, segment('训练任务-数据管道-第七步', { minWidth: 8 }), segment('🚀'.repeat(30))];
  for (let width = 0; width <= 200; width++) {
    const line = text(fitSegments(segments, width));
    assert.ok(inkStringWidth(line) <= width, `${width}: ${line}`);
  }
});

test('shareRows: lines shared in turn, none more than it wants', () => {
  assert.equal(shareRows(13, [10, 10, 1]), [6, 6, 1]);
  assert.equal(shareRows(3, [10, 10, 10]), [1, 1, 1]);
  assert.equal(shareRows(100, [10, 2, 5]), [10, 2, 5]);
  assert.equal(shareRows(0, [1, 1]), [0, 0]);
});

test.run();
