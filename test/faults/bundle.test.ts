// The suite builds the bundle only when it must: a build rewrites dist/, under whatever else (tests, a
// server) runs from this checkout at the time.
import { statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bundleOutOfDate, taskctlCommand } from '../../bench/faults/processes.ts';

const bundle = join(fileURLToPath(new URL('../..', import.meta.url)), 'dist', 'taskctl.mjs');

test('an up-to-date bundle is used as it is: dist/ is not rewritten', () => {
  taskctlCommand();
  const built = statSync(bundle);
  assert.is(bundleOutOfDate(), undefined);
  const command = taskctlCommand();
  assert.is(command.at(-1), join(bundle, '..', '..', 'bin', 'taskctl'));
  const after = statSync(bundle);
  assert.is(after.mtimeMs, built.mtimeMs, 'not written again');
  assert.is(after.ino, built.ino);
});

test('a bundle older than a source file is out of date, and the file is named', () => {
  const { atime, mtime } = statSync(bundle);
  utimesSync(bundle, atime, new Date(0));
  try {
    assert.match(bundleOutOfDate() ?? '', /^(src|build|package)[^ ]* (and \d+ more )?changed since dist\/taskctl\.mjs was built$/);
  } finally {
    utimesSync(bundle, atime, mtime);
  }
  assert.is(bundleOutOfDate(), undefined);
});

test.run();
