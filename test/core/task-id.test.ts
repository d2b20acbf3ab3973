import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkTaskId, InvalidInputError, taskIdProblem } from '../../src/core/task-id.ts';

test('ordinary ids are accepted', () => {
  for (const id of [
    '1234',
    'build-42',
    'train.run_7',
    'ünïcødé-任务',
    'a'.repeat(256),
    '%00',
    'x:y@z',
    '...',
    '.hidden',
    'a..b',
    'job 🚀'.replace(' ', '-'),
    'a,b',
  ]) {
    assert.is(taskIdProblem(id), undefined, id);
  }
});

test('every printable ASCII character but the space and "/" is accepted (the fast path agrees with the rule)', () => {
  for (let code = 0x21; code <= 0x7e; code++) {
    const ch = String.fromCharCode(code);
    assert.is(
      taskIdProblem(`a${ch}b`),
      ch === '/' ? 'task id contains "/"; ids may not hold whitespace, control or invisible characters, or "/"' : undefined,
      ch,
    );
  }
});

test('ids outside the rules are refused with a reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['a'.repeat(257), /257 bytes/],
    ['任'.repeat(86), /258 bytes/],
    ['a b', /whitespace/],
    ['a\tb', /U\+0009/],
    ['a\nb', /U\+000A/],
    ['a\u0000b', /U\+0000/],
    ['a\u0085b', /U\+0085/],
    ['a\u007Fb', /U\+007F/],
    ['a/b', /"\/"/],
    ['\ud800', /UTF-8/],
    ['.', /cannot travel in a URL path/],
    ['..', /cannot travel in a URL path/],
    ['abc\u202Efdp', /U\+202E/],
    ['a\u200Bb', /U\+200B/],
    ['\uFEFFa', /U\+FEFF/],
    ['a\u2066b', /U\+2066/],
    ['a\u00ADb', /U\+00AD/],
    ['a\uFFFFb', /U\+FFFF/],
  ];
  for (const [id, reason] of cases) {
    const problem = taskIdProblem(id);
    assert.ok(problem && reason.test(problem), `${JSON.stringify(id)} -> ${problem}`);
  }
});

test('checkTaskId throws an InvalidInputError that quotes the id', () => {
  assert.is(checkTaskId('1234'), '1234');
  try {
    checkTaskId('bad id');
    assert.unreachable();
  } catch (error) {
    assert.instance(error, InvalidInputError);
    assert.match((error as Error).message, '"bad id"');
  }
  try {
    checkTaskId('a\u202Eb');
    assert.unreachable();
  } catch (error) {
    assert.match((error as Error).message, '"a<U+202E>b"', 'the quoted id cannot reorder the message around it');
  }
});

test.run();
