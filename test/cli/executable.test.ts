// The built executable carries its bundle inside (as SEA assets served from memory by build/sea-main.cjs):
// it runs with no Node on PATH and unpacks nothing (only Node's compile cache goes to the temporary folder,
// as it does for the bundle run by node), and says nothing on stderr that the user did not cause (Node's
// experimental-feature warning for the loader it uses).
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureBinary } from '../helpers/binary.ts';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/server.ts';

let binary: string;
const dir = tempDir();
const home = join(dir.path, 'home');
const tmp = join(dir.path, 'tmp');
const cwd = join(dir.path, 'cwd');
// Nothing to find on PATH, and fresh folders for anything the executable might unpack.
const env = { PATH: '/nonexistent', HOME: home, TMPDIR: tmp, XDG_CACHE_HOME: join(home, '.cache') };

test.before(() => {
  binary = ensureBinary();
  for (const path of [home, tmp, cwd]) mkdirSync(path);
});
test.after(() => dir.remove());

const nothingWritten = () => {
  assert.equal(
    [home, cwd].map((path) => readdirSync(path)),
    [[], []],
    'nothing written to home or the working folder',
  );
  assert.ok(
    readdirSync(tmp).every((name) => name === 'node-compile-cache'),
    'nothing but the compile cache in the temporary folder',
  );
};

test('--version and --help run from the executable alone, with nothing on stderr', async () => {
  const version = await runCli(['--version'], { binary, env, cwd });
  assert.is(version.code, 0, version.stderr);
  assert.match(version.stdout, /^\d+\.\d+\.\d+ \([0-9a-f]{12}(-dirty)?\)\n$/);
  assert.is(version.stderr, '');
  const help = await runCli(['--help'], { binary, env, cwd });
  assert.is(help.code, 0, help.stderr);
  assert.match(help.stdout, /taskctl serve/);
  assert.is(help.stderr, '');
  nothingWritten();
});

test('a command loaded on demand fails as the CLI says it does: one line, its exit code, no stack, no warning', async () => {
  // `cancel` lives in a chunk of its own, loaded from the executable when it runs.
  const result = await runCli(['cancel', 'build-1', '--server', 'http://127.0.0.1:1'], { binary, env, cwd });
  assert.is(result.code, 3, result.stderr);
  assert.is(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.not.match(result.stderr, /ExperimentalWarning|\n\s+at /);
  nothingWritten();
});

test('serve (memory store, no screen) answers, and stops on SIGTERM', async () => {
  const serve = new CliProcess(['serve', '--port', '0', '--store', 'memory', '--no-tui'], { binary, env, cwd });
  const url = (await serve.waitFor(/listening url=(\S+)/))[1]!;
  assert.equal(await (await fetch(`${url}/ping`)).json(), { message: 'pong' });
  serve.kill('SIGTERM');
  const exited = await serve.exited;
  assert.is(exited.code, 0, exited.stderr);
  assert.not.match(exited.stderr, /ExperimentalWarning/);
  nothingWritten();
});

test.run();
