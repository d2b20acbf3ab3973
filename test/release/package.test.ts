// The npm package as people receive it: packed from a fresh clone, installed from the tarball elsewhere.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir } from '../helpers/server.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
// npm scripts run with the pinned Node first on PATH, as in the repository.
const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` };

const work = tempDir('taskctl-package-');
const clone = join(work.path, 'clone');
const consumer = join(work.path, 'consumer');
let tarball = '';
let packed: string[] = [];

test.before(() => {
  // A fresh clone: the files git would check out (nothing built, no dist/), with this repository's
  // node_modules standing in for `npm install`.
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    try {
      cpSync(join(root, file), join(clone, file));
    } catch (error) {
      // Deleted in the working tree but not yet in the index.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'));
  const pack = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', work.path], { cwd: clone, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  tarball = join(work.path, pack[0].filename);
  packed = pack[0].files.map((file: { path: string }) => file.path);

  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // The tarball's own dependencies come from npm's cache, or the registry for what is not cached.
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], {
    cwd: consumer,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
});
test.after(() => work.remove());

test('npm pack from a fresh clone ships the bundle and the type declarations, and nothing else', () => {
  assert.is(tarball, join(work.path, `taskctl-${version}.tgz`));
  for (const path of ['package.json', 'README.md', 'LICENSE', 'bin/taskctl', 'dist/taskctl.mjs', 'dist/index.mjs', 'dist/types/index.d.ts']) {
    assert.ok(packed.includes(path), `the tarball has ${path}`);
  }
  assert.ok(
    packed.some((path) => path.startsWith('dist/chunks/')),
    'the tarball has the bundle chunks',
  );
  // npm always adds LICENSE, which is as it should be: the licence travels with the code.
  assert.equal(packed.filter((path) => !/^(bin|dist)\//.test(path)).sort(), ['LICENSE', 'README.md', 'package.json']);
  assert.not.ok(
    packed.some((path) => path.startsWith('dist/.')),
    'no build scratch folders',
  );
});

test('a TypeScript program compiles against the installed tarball, and its mistakes are caught', () => {
  writeFileSync(
    join(consumer, 'use.ts'),
    [
      "import { cancelSignal, TaskCancelledError, TaskctlClient } from 'taskctl';",
      "const signal: AbortSignal = cancelSignal('1234', { server: 'http://taskctl:8080' });",
      'signal.addEventListener("abort", () => signal.reason instanceof TaskCancelledError);',
      "const wrong: number = new TaskctlClient({ server: 'http://taskctl:8080' }).server;",
    ].join('\n'),
  );
  // The consumer's own types are Node's; taskctl's come from node_modules/taskctl, not from this repository.
  const options = {
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    types: ['node'],
    typeRoots: [join(root, 'node_modules/@types')],
  };
  writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, files: ['use.ts'] }));
  const result = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', '.', '--traceResolution'], {
    cwd: consumer,
    encoding: 'utf8',
  });
  const resolved = /Module name 'taskctl' was successfully resolved to '([^']+)'/.exec(result.stdout)?.[1];
  assert.is(resolved, join(consumer, 'node_modules/taskctl/dist/types/index.d.ts'));
  // Exactly the one planted mistake: everything else type-checks against the shipped declarations.
  const errors = result.stdout.split('\n').filter((line) => /error TS/.test(line));
  assert.equal(errors, ["use.ts(4,7): error TS2322: Type 'string' is not assignable to type 'number'."]);
});

test('the installed tarball runs the CLI and the library', () => {
  const cli = spawnSync(join(consumer, 'node_modules/.bin/taskctl'), ['--version'], { cwd: consumer, env, encoding: 'utf8' });
  assert.is(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, new RegExp(`^${version.replace(/\./g, '\\.')} \\(`));
  const library = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', "import { TaskctlClient } from 'taskctl'; console.log(new TaskctlClient({ server: 'http://taskctl:8080' }).server)"],
    { cwd: consumer, encoding: 'utf8' },
  );
  assert.is(library.status, 0, library.stderr);
  assert.is(library.stdout, 'http://taskctl:8080\n');
});

test.run();
