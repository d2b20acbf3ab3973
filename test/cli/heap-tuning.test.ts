// When serve lets V8's young generation grow: while few watches are held, not once many are.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MANY_HELD, youngGenerationByHeld } from '../../src/cli/heap-tuning.ts';

function policy(env: NodeJS.ProcessEnv = {}, execArgv: string[] = []) {
  const flags: string[] = [];
  const tell = youngGenerationByHeld(env, execArgv, (f) => flags.push(f));
  return { tell, flags };
}

test('growth stops at many held watches, and resumes only below half of them', () => {
  const { tell, flags } = policy();
  for (let open = 0; open < MANY_HELD; open++) tell!(open);
  assert.equal(flags, [], 'few watches: V8 sizes the young generation as it likes');
  tell!(MANY_HELD);
  tell!(MANY_HELD + 1);
  assert.equal(flags, ['--semi-space-growth-factor=1'], 'told once');
  // A count wavering around the line changes nothing.
  for (const open of [MANY_HELD - 1, MANY_HELD, MANY_HELD / 2]) tell!(open);
  assert.is(flags.length, 1);
  tell!(MANY_HELD / 2 - 1);
  assert.equal(flags, ['--semi-space-growth-factor=1', '--semi-space-growth-factor=2'], "back to V8's default");
  tell!(MANY_HELD);
  assert.is(flags.at(-1), '--semi-space-growth-factor=1');
});

test('no tuning when turned off, or when the user sized the young generation', () => {
  assert.is(policy({ TASKCTL_NO_HEAP_TUNING: '1' }).tell, undefined);
  assert.is(policy({ NODE_OPTIONS: '--max-semi-space-size=8' }).tell, undefined);
  assert.is(policy({}, ['--min-semi-space-size=4']).tell, undefined);
  assert.is(policy({}, ['--semi-space-growth-factor=3']).tell, undefined);
  assert.ok(policy({ NODE_OPTIONS: '--max-old-space-size=512' }).tell, 'other heap options leave it on');
});

test.run();
