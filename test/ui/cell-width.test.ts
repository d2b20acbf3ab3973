import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { printable } from '../../src/core/printable.ts';
import { cellWidth, graphemes, truncateEnd, truncateMiddle } from '../../src/ui/cell-width.ts';
import { inkStringWidth } from './render-at.tsx';

test('cells, not string length: ASCII 1, CJK and emoji 2, combining marks 0', () => {
  assert.is(cellWidth('pipeline-step-12'), 16);
  assert.is(cellWidth('任务-42'), 7);
  assert.is(cellWidth('e\u0301te\u0301'), 3, 'é written as e + combining acute');
  assert.is(cellWidth('🚀'), 2);
  assert.is(cellWidth('👍🏽'), 2, 'emoji with a skin tone is one picture');
  assert.is(cellWidth('🇩🇪'), 2, 'a flag is one picture');
  assert.is(cellWidth('👨‍👩‍👧'), 2, 'a ZWJ family is one picture');
  assert.is(cellWidth('ｶﾞ'), 2, 'a halfwidth sound mark takes its own cell');
  assert.is(cellWidth('Ｆｕｌｌ'), 8);
  assert.is(cellWidth(''), 0);
});

test('control and format characters take no cell', () => {
  assert.is(cellWidth('a\u0007b'), 2, 'BEL');
  assert.is(cellWidth('a\tb'), 2, 'a tab is not expanded');
  assert.is(cellWidth('zero\u200bwidth'), 9, 'zero-width space');
  assert.is(cellWidth('\u0000\u001f\u007f'), 0);
});

test('graphemes: one entry per visible character, with its cells', () => {
  assert.equal(graphemes('ab'), [
    { text: 'a', width: 1 },
    { text: 'b', width: 1 },
  ]);
  assert.equal(graphemes('任e\u0301👨‍👩‍👧'), [
    { text: '任', width: 2 },
    { text: 'e\u0301', width: 1 },
    { text: '👨‍👩‍👧', width: 2 },
  ]);
});

test("agrees with the measure Ink lays out with, for every character printable() lets through (a pin of string-width drifted from Ink's would fail here)", () => {
  const disagree: string[] = [];
  for (let cp = 0x20; cp <= 0x3ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    // Planes 2 and 3 are ideographs throughout; every 64th is enough there.
    if (cp > 0x1ffff && cp % 64 !== 0) continue;
    const text = printable(String.fromCodePoint(cp));
    if (cellWidth(text) !== inkStringWidth(text)) disagree.push(`U+${cp.toString(16)}: ${cellWidth(text)} vs ${inkStringWidth(text)}`);
  }
  assert.equal(disagree.slice(0, 20), []);
  for (const text of ['क्षि', 'ก่', '각', '\u1100\u1161', 'a\u0308\u0301', '#️⃣', printable('👨‍👩‍👧'), printable('❤️')]) {
    assert.is(cellWidth(text), inkStringWidth(text), JSON.stringify(text));
  }
});

test('truncateEnd: at most the width, ending in an ellipsis, never half a wide character', () => {
  assert.is(truncateEnd('short', 10), 'short');
  assert.is(truncateEnd('a very long reason', 10), 'a very lo…');
  assert.is(truncateEnd('任务任务任务', 6), '任务…', 'a wide character that does not fit is left out whole');
  for (const text of ['任务-数据-管道-🚀-第七步', 'e\u0301'.repeat(30), 'x'.repeat(50)]) {
    for (let width = 0; width <= 40; width++) assert.ok(cellWidth(truncateEnd(text, width)) <= width, `${text} at ${width}`);
  }
});

test('truncateMiddle keeps the end that tells ids apart', () => {
  assert.is(truncateMiddle('pipeline-step-with-a-long-name-12', 18), 'pipeline…g-name-12');
  assert.is(truncateMiddle('pipeline-step-with-a-long-name-12', 33), 'pipeline-step-with-a-long-name-12');
  assert.is(truncateMiddle('abcdef', 1), '…');
  assert.is(truncateMiddle('abcdef', 0), '');
  const a = truncateMiddle('训练任务-数据管道-第七步-模型评估-第十一号', 16);
  const b = truncateMiddle('训练任务-数据管道-第七步-模型评估-第十二号', 16);
  assert.ok(a.endsWith('第十一号') && b.endsWith('第十二号'), `${a} / ${b}`);
  for (const text of ['训练任务-数据管道-第七步', '🚀-deploy-🔥-prod-🐳-0042', 'y'.repeat(64)]) {
    for (let width = 0; width <= 40; width++) {
      const cut = truncateMiddle(text, width);
      assert.ok(cellWidth(cut) <= width, `${text} at ${width}: ${cut}`);
      if (width >= 4 && cut !== text) assert.ok(cut.includes('…') && text.endsWith(cut.split('…')[1]!), cut);
    }
  }
});

test.run();
