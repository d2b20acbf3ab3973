import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isPrintable, printable, terminalSafeJson } from '../../src/core/printable.ts';

test('escape sequences, newlines and OSC titles become visible, never act', () => {
  const hostile = '\x1b[31mred\x1b[0m\n\x1b]0;pwned\x07\rdone\x7f\x9b2J';
  const shown = printable(hostile);
  assert.not.match(shown, /[\x00-\x1f\x7f-\x9f]/);
  assert.is(shown, '␛[31mred␛[0m␊␛]0;pwned␇␍done␡<U+009B>2J');
  assert.not.ok(isPrintable(hostile));
  assert.ok(isPrintable(shown));
});

test('bidi overrides and zero-width characters are shown as code points', () => {
  assert.is(printable('abc\u202Efdp.exe'), 'abc<U+202E>fdp.exe');
  assert.is(printable('a\u200Bb\uFEFFc'), 'a<U+200B>b<U+FEFF>c');
});

test('ordinary text, wide characters and emoji pass unchanged; tabs only when asked', () => {
  for (const text of ['plain', 'naïve café', '任务-42', 'job 🚀 done']) assert.is(printable(text), text);
  assert.is(printable('a\tb'), 'a␉b');
  assert.is(printable('a\tb\x1b', { keepTabs: true }), 'a\tb␛');
});

test('terminalSafeJson escapes what a terminal could act on, and reads back as the same value', () => {
  const value = { reason: 'a\x1b[2Jb\u009bc\u202Ed\u200Be', id: '任务-🚀' };
  const json = terminalSafeJson(value);
  assert.not.match(json, /[\x00-\x1f\x7f-\x9f\u202E\u200B]/);
  assert.match(json, '任务-🚀');
  assert.equal(JSON.parse(json), value);
});

test.run();
