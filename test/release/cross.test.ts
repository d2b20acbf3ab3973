// The assets this Linux x64 machine builds for other platforms: linux-arm64 runs here under qemu, win-x64 is
// checked by its structure (Debian's Wine 8 cannot start Node 24: see docs/install.md).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/server.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
const arm64Asset = `taskctl-${version}-linux-arm64`;
const winAsset = `taskctl-${version}-win-x64.exe`;
// Built into --version, so the assets are known to hold this very build.
const commit = `cross-${randomBytes(4).toString('hex')}`;
// Node's SEA fuse: postject flips the trailing 0 to 1 when it injects the blob.
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:';

// qemu-user runs one arm64 program; the arm64 C libraries it loads come from Debian's libc6-arm64-cross.
const QEMU = ['qemu-aarch64-static', 'qemu-aarch64'].find((name) => spawnSync(name, ['--version']).status === 0);
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';
const HAS_QEMU = QEMU !== undefined && existsSync(join(ARM64_SYSROOT, 'lib', 'ld-linux-aarch64.so.1'));

const releaseDir = tempDir('taskctl-cross-');

test.before(() => {
  execFileSync(process.execPath, [join(root, 'build.mjs'), '--release', releaseDir.path, '--targets', 'linux-arm64,win-x64', '--quiet'], {
    cwd: root,
    env: { ...process.env, TASKCTL_COMMIT: commit },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
});
test.after(() => releaseDir.remove());

test('--release with --targets linux-arm64,win-x64 writes three assets and a SHA256SUMS over all of them', () => {
  const assets = [arm64Asset, `taskctl-${version}-linux-x64`, winAsset];
  assert.equal(readdirSync(releaseDir.path).sort(), ['SHA256SUMS', ...assets].sort());
  const expected = assets
    .map(
      (name) =>
        `${createHash('sha256')
          .update(readFileSync(join(releaseDir.path, name)))
          .digest('hex')}  ${name}\n`,
    )
    .join('');
  assert.is(readFileSync(join(releaseDir.path, 'SHA256SUMS'), 'utf8'), expected);
});

test('the linux-arm64 asset is an arm64 executable carrying the SEA blob', () => {
  const file = readFileSync(join(releaseDir.path, arm64Asset));
  assert.is(file.toString('latin1', 0, 4), '\x7fELF');
  assert.is(file[4], 2, 'a 64-bit ELF');
  assert.is(file.readUInt16LE(18), 0xb7, 'e_machine is EM_AARCH64');
  assert.ok(file.includes(`${SEA_FUSE}1`), 'the SEA fuse is flipped');
  assert.ok(file.includes(commit), 'holds the bundle of this build');
});

test('under qemu, the linux-arm64 asset serves, cancels, and a worker hears the cancel', async () => {
  if (!HAS_QEMU) {
    if (process.env.CI) assert.unreachable('qemu-user-static and libc6-arm64-cross are not installed, and CI must run this test');
    console.warn('SKIPPED: qemu-aarch64-static or the arm64 libraries (libc6-arm64-cross) are not installed');
    return;
  }
  const asset = join(releaseDir.path, arm64Asset);
  const env: NodeJS.ProcessEnv = { QEMU_LD_PREFIX: ARM64_SYSROOT };
  const arm64 = (args: string[]) => ({ args: [asset, ...args], options: { binary: QEMU!, env } });
  const store = tempDir('taskctl-cross-store-');
  let serve: CliProcess | undefined;
  let work: CliProcess | undefined;
  try {
    const started = Date.now();
    const versionRun = arm64(['--version']);
    const shown = await runCli(versionRun.args, versionRun.options);
    assert.is(shown.code, 0, shown.stderr);
    assert.is(shown.stdout, `${version} (${commit})\n`);

    const serveRun = arm64(['serve', '--port', '0', '--store', `sqlite:${store.path}/cancels.db`, '--json']);
    serve = new CliProcess(serveRun.args, serveRun.options);
    const url = (await serve.waitFor(/"url":"([^"]+)"/, 60_000))[1]!;

    const workRun = arm64(['work', '5678', '--json', '--server', url]);
    work = new CliProcess(workRun.args, workRun.options);
    await work.waitFor(/"event":"connected"/, 60_000);

    const cancelRun = arm64(['cancel', '5678', '--server', url, '--reason', 'emulated']);
    const cancel = await runCli(cancelRun.args, cancelRun.options);
    assert.is(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, 'cancelled 5678');

    const heard = await work.exited;
    assert.is(heard.code, 0, heard.stdout + heard.stderr);
    assert.match(heard.stdout, /"event":"cancelled","ts":"[^"]+","task":"5678","reason":"emulated"/);
    console.log(`emulated arm64 scenario: ${((Date.now() - started) / 1000).toFixed(1)}s`);
  } finally {
    work?.kill('SIGKILL');
    if (serve) {
      serve.kill('SIGTERM');
      await serve.exited;
    }
    store.remove();
  }
});

/** The resource Windows' FindResource(NULL, name, RT_RCDATA) returns from a PE file, if there is one. */
function rcdataResource(file: Buffer, name: string): Buffer | undefined {
  const pe = file.readUInt32LE(0x3c);
  const optional = pe + 24;
  const sections = optional + file.readUInt16LE(pe + 20);
  const toOffset = (rva: number): number => {
    for (let i = 0; i < file.readUInt16LE(pe + 6); i++) {
      const section = sections + i * 40;
      const [virtualSize, virtualAddress, rawSize, rawPointer] = [8, 12, 16, 20].map((at) => file.readUInt32LE(section + at)) as [
        number,
        number,
        number,
        number,
      ];
      if (rva >= virtualAddress && rva < virtualAddress + Math.max(virtualSize, rawSize)) return rawPointer + rva - virtualAddress;
    }
    throw new Error(`RVA ${rva} is in no section`);
  };
  // Data directory 2 (resources) of a PE32+ optional header.
  const resources = toOffset(file.readUInt32LE(optional + 112 + 2 * 8));
  const entries = (directory: number) =>
    Array.from({ length: file.readUInt16LE(directory + 12) + file.readUInt16LE(directory + 14) }, (_, i) => {
      const id = file.readUInt32LE(directory + 16 + i * 8);
      const target = file.readUInt32LE(directory + 20 + i * 8);
      const named = id & 0x80000000 ? resources + (id & 0x7fffffff) : undefined;
      return {
        key: named === undefined ? id : file.toString('utf16le', named + 2, named + 2 + file.readUInt16LE(named) * 2),
        at: resources + (target & 0x7fffffff),
      };
    });
  const RT_RCDATA = 10;
  const byType = entries(resources).find((entry) => entry.key === RT_RCDATA);
  const byName = byType && entries(byType.at).find((entry) => entry.key === name);
  const language = byName && entries(byName.at)[0];
  if (!language) return undefined;
  const start = toOffset(file.readUInt32LE(language.at));
  return file.subarray(start, start + file.readUInt32LE(language.at + 4));
}

test('the win-x64 asset is an x64 Windows console executable with taskctl as its SEA blob', () => {
  const file = readFileSync(join(releaseDir.path, winAsset));
  assert.is(file.toString('latin1', 0, 2), 'MZ');
  const pe = file.readUInt32LE(0x3c);
  assert.is(file.toString('latin1', pe, pe + 4), 'PE\0\0');
  assert.is(file.readUInt16LE(pe + 4), 0x8664, 'machine is IMAGE_FILE_MACHINE_AMD64');
  assert.is(file.readUInt16LE(pe + 24), 0x20b, 'a PE32+ optional header');
  assert.is(file.readUInt16LE(pe + 24 + 68), 3, 'subsystem is the Windows console');
  assert.ok(file.includes(`${SEA_FUSE}1`), 'the SEA fuse is flipped');
  const blob = rcdataResource(file, 'NODE_SEA_BLOB');
  assert.ok(blob, 'has a NODE_SEA_BLOB resource');
  assert.is(blob.readUInt32LE(0), 0x143da20, "starts with Node's SEA magic");
  assert.ok(blob.includes(commit), 'holds the bundle of this build');
});

test.run();
