import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { tempDir } from '../helpers/server.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
const hostPlatform = `${{ linux: 'linux', darwin: 'macos' }[process.platform as 'linux']}-${process.arch}`;
const hostAsset = `taskctl-${version}-${hostPlatform}`;
const pinnedNode = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies.node as string;

const releaseDir = tempDir('taskctl-release-');
let server: Server;
let baseUrl = '';
/** Files served instead of the real ones, to play a corrupted download. */
const overrides = new Map<string, Buffer>();

test.before(async () => {
  // This machine's target named the way pkg does: --release builds it anyway, and once.
  const hostTarget = `node${pinnedNode}-${hostPlatform}`;
  execFileSync(process.execPath, [join(root, 'build.mjs'), '--release', releaseDir.path, '--targets', hostTarget, '--quiet'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').slice(1));
    const path = join(releaseDir.path, name);
    if (name.includes('/') || !existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200).end(overrides.get(name) ?? readFileSync(path));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
test.after(async () => {
  await new Promise((resolve) => server.close(resolve));
  releaseDir.remove();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs install.sh as a user would: `sh install.sh ARGS`, or with `piped`, `curl ... | sh -s -- ARGS`. */
function install(args: readonly string[], options: { piped?: boolean; home?: string } = {}): Promise<Run> {
  // Asynchronous on purpose: the download server runs in this very process.
  return new Promise((resolve) => {
    const script = join(root, 'install.sh');
    const child = spawn('sh', options.piped ? ['-s', '--', ...args] : [script, ...args], {
      env: { PATH: '/usr/bin:/bin', HOME: options.home ?? '/nonexistent', TASKCTL_DOWNLOAD_URL: baseUrl },
      stdio: [options.piped ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    if (options.piped) child.stdin!.end(readFileSync(script));
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => (stdout += chunk));
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('build.mjs --release writes the asset for this machine and a SHA256SUMS that matches it', () => {
  const files = readdirSync(releaseDir.path).sort();
  assert.equal(files, ['SHA256SUMS', hostAsset]);
  const sums = readFileSync(join(releaseDir.path, 'SHA256SUMS'), 'utf8');
  const digest = createHash('sha256')
    .update(readFileSync(join(releaseDir.path, hostAsset)))
    .digest('hex');
  assert.is(sums, `${digest}  ${hostAsset}\n`);
});

test('build.mjs refuses unknown targets and other Node versions before building anything', () => {
  for (const [target, message] of [
    ['plan9-mips', 'unknown target "plan9-mips"; one of linux-x64, linux-arm64, macos-x64, macos-arm64, win-x64'],
    ['node22.1.0-linux-arm64', `target node22.1.0-linux-arm64 names Node 22.1.0, but every executable wraps the pinned Node ${pinnedNode}`],
  ]) {
    const output = tempDir('taskctl-release-');
    try {
      const result = spawnSync(process.execPath, [join(root, 'build.mjs'), '--release', output.path, '--targets', `linux-arm64,${target}`], {
        cwd: root,
        encoding: 'utf8',
      });
      assert.is(result.status, 1);
      assert.match(result.stderr, message!);
      assert.equal(readdirSync(output.path), []);
    } finally {
      output.remove();
    }
  }
});

test('install.sh installs a taskctl that runs serve with nothing else installed', async () => {
  const target = tempDir('taskctl-install-');
  try {
    const result = await install(['--dir', `${target.path}/bin`]);
    assert.is(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^${version.replace(/\./g, '\\.')} \\(`));
    const binary = `${target.path}/bin/taskctl`;
    const serve = spawn(binary, ['serve', '--port', '0', '--store', `sqlite:${target.path}/db.sqlite`, '--json'], {
      env: { PATH: '/nonexistent', HOME: target.path },
    });
    let output = '';
    serve.stdout.on('data', (chunk) => (output += chunk));
    const deadline = Date.now() + 10_000;
    while (!/"url":"([^"]+)"/.test(output) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const url = /"url":"([^"]+)"/.exec(output)?.[1];
    assert.ok(url, `serve did not start: ${output}`);
    assert.equal(await (await fetch(`${url}/ping`)).json(), { message: 'pong' });
    serve.kill('SIGTERM');
    await new Promise((resolve) => serve.once('close', resolve));
  } finally {
    target.remove();
  }
});

test('install.sh refuses a corrupted download and installs nothing', async () => {
  const target = tempDir('taskctl-install-');
  const original = readFileSync(join(releaseDir.path, hostAsset));
  const corrupted = Buffer.from(original);
  const at = corrupted.length - 100;
  corrupted[at] = corrupted[at]! ^ 0xff;
  overrides.set(hostAsset, corrupted);
  try {
    const result = await install(['--dir', `${target.path}/bin`]);
    assert.is.not(result.code, 0);
    assert.match(result.stderr, /checksum mismatch for taskctl-.*; nothing was installed/);
    assert.not.ok(existsSync(`${target.path}/bin/taskctl`));
  } finally {
    overrides.clear();
    target.remove();
  }
});

test('install.sh says so when the release has nothing for this platform', async () => {
  const target = tempDir('taskctl-install-');
  overrides.set('SHA256SUMS', Buffer.from(`${'0'.repeat(64)}  taskctl-${version}-plan9-mips\n`));
  try {
    const result = await install(['--dir', `${target.path}/bin`]);
    assert.is(result.code, 1);
    assert.match(result.stderr, /has no taskctl for/);
  } finally {
    overrides.clear();
    target.remove();
  }
});

test('install.sh --help prints its usage when piped to sh, as when run from a file', async () => {
  const piped = await install(['--help'], { piped: true });
  assert.is(piped.code, 0, piped.stderr);
  assert.match(piped.stdout, '| sh -s -- --dir DIR --version X.Y.Z');
  assert.match(piped.stdout, 'TASKCTL_DOWNLOAD_URL');
  assert.is((await install(['--help'])).stdout, piped.stdout);
});

test('install.sh --version with a mirror installs that version, and stops when the mirror lacks it', async () => {
  const target = tempDir('taskctl-install-');
  try {
    const missing = await install(['--dir', `${target.path}/bin`, '--version', '9.9.9'], { piped: true });
    assert.is(missing.code, 1);
    assert.match(missing.stderr, `has no taskctl 9.9.9 for ${hostPlatform}`);
    assert.not.ok(existsSync(`${target.path}/bin/taskctl`));

    const named = await install(['--dir', `${target.path}/bin`, '--version', `v${version}`], { piped: true });
    assert.is(named.code, 0, named.stderr);
    assert.match(named.stdout, new RegExp(`^${version.replace(/\./g, '\\.')} \\(`));
  } finally {
    target.remove();
  }
});

test('install.sh asks for --version when a mirror holds several versions', async () => {
  const target = tempDir('taskctl-install-');
  const sums = readFileSync(join(releaseDir.path, 'SHA256SUMS'), 'utf8');
  overrides.set('SHA256SUMS', Buffer.from(`${'0'.repeat(64)}  taskctl-0.0.9-${hostPlatform}\n${sums}`));
  try {
    const unnamed = await install(['--dir', `${target.path}/bin`]);
    assert.is(unnamed.code, 1);
    assert.match(unnamed.stderr, `holds several versions (0.0.9 ${version}); choose one with --version`);
    assert.not.ok(existsSync(`${target.path}/bin/taskctl`));

    const named = await install(['--dir', `${target.path}/bin`, '--version', version]);
    assert.is(named.code, 0, named.stderr);
    assert.ok(existsSync(`${target.path}/bin/taskctl`));
  } finally {
    overrides.clear();
    target.remove();
  }
});

test('install.sh is POSIX sh and shellcheck-clean', () => {
  const shellcheck = spawnSync('shellcheck', ['--shell=sh', join(root, 'install.sh')], { encoding: 'utf8' });
  if (shellcheck.error) {
    if (process.env.CI) assert.unreachable('shellcheck is not installed, and CI must run it');
    console.warn('SKIPPED: shellcheck is not installed');
    return;
  }
  assert.is(shellcheck.status, 0, shellcheck.stdout);
  assert.is(readFileSync(join(root, 'install.sh'), 'utf8').split('\n')[0], '#!/bin/sh');
});

test('the release workflow builds every asset where this repository can build it, and runs each before publishing', () => {
  const workflow = parse(readFileSync(join(root, '.github/workflows/release.yml'), 'utf8'));
  assert.equal(workflow.on.push.tags, ['v*']);
  type Build = { runner: string; assets: string; targets: string; install: string };
  const builds: Build[] = workflow.jobs.build.strategy.matrix.include;
  assert.equal(builds.flatMap((build) => build.assets.split(' ')).sort(), ['linux-arm64', 'linux-x64', 'macos-arm64', 'macos-x64', 'win-x64']);
  // The Linux runner builds exactly what cross.test.ts builds and checks on this machine.
  const linux = builds.find((build) => build.runner.startsWith('ubuntu-'));
  assert.equal(linux, { runner: 'ubuntu-latest', assets: 'linux-x64 linux-arm64 win-x64', targets: '--targets linux-arm64,win-x64', install: 'npm ci' });
  // npm publishes no macOS Node package at the pinned version: macOS runners build their own asset, with
  // Node from setup-node, and skip the `node` devDependency's install script, which would look for one.
  for (const build of builds.filter((b) => b.assets.startsWith('macos-'))) {
    assert.ok(build.runner.startsWith('macos-'), `${build.assets} is built on ${build.runner}`);
    assert.is(build.targets, '');
    assert.is(build.install, 'npm ci --ignore-scripts');
  }
  const steps: { uses?: string; run?: string; with?: Record<string, unknown> }[] = workflow.jobs.build.steps;
  assert.is(String(steps.find((step) => step.uses?.startsWith('actions/setup-node'))?.with?.['node-version']), pinnedNode);
  const runs = steps.map((step) => step.run ?? '').join('\n');
  assert.match(runs, 'node build.mjs --release release ${{ matrix.targets }}');
  assert.match(runs, 'npm pack --pack-destination release');
  // The cross-built assets run on their own platforms before anything is published.
  const checks: { runner: string; asset: string }[] = workflow.jobs.check.strategy.matrix.include;
  assert.equal(checks.map((check) => check.asset).sort(), ['linux-arm64', 'win-x64']);
  assert.ok(checks.find((check) => check.asset === 'linux-arm64')?.runner.includes('arm'));
  assert.ok(checks.find((check) => check.asset === 'win-x64')?.runner.startsWith('windows-'));
  assert.equal(workflow.jobs.publish.needs, ['build', 'check']);
  const publish = workflow.jobs.publish.steps.map((step: { run?: string }) => step.run ?? '').join('\n');
  assert.match(publish, 'sha256sum taskctl-* > SHA256SUMS');
  assert.match(publish, 'gh release create');
});

test.run();
