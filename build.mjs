#!/usr/bin/env node
// Builds taskctl: esbuild bundles the CLI into dist/taskctl.mjs, then pkg (SEA mode) wraps it with a Node
// binary into dist/taskctl, one executable that needs nothing else installed.
//
//   node build.mjs                      bundle + executable for this machine
//   node build.mjs --bundle-only        bundle only (what `npm install` and `npm start` need)
//   node build.mjs --targets node24.21.0-linux-arm64,node24.21.0-macos-arm64   other targets (needs the internet)
//   node build.mjs --release DIR        release assets taskctl-<version>-<os>-<arch>[.exe] and SHA256SUMS in
//                                       DIR, for this machine's target plus any --targets
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const root = dirname(fileURLToPath(import.meta.url));

// pkg's SEA mode needs Node 22+. Run directly with an older node, hand over to the Node 24 that the
// `node` devDependency installs (npm scripts put it first on PATH already).
const pinnedNode = join(root, 'node_modules', 'node', 'bin', 'node');
if (Number(process.versions.node.split('.')[0]) < 22) {
  if (!existsSync(pinnedNode)) {
    console.error(`build.mjs needs Node 22 or newer (this is ${process.version}); run npm install, then npm run build`);
    process.exit(1);
  }
  const rerun = spawnSync(pinnedNode, process.argv.slice(1), { stdio: 'inherit' });
  process.exit(rerun.status ?? 1);
}
const dist = join(root, 'dist');
const pkgJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const NODE_VERSION = process.versions.node;

const { values: options } = parseArgs({
  options: {
    'bundle-only': { type: 'boolean', default: false },
    targets: { type: 'string' },
    output: { type: 'string' },
    release: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const log = (line) => options.quiet || console.log(line);

/** The commit being built, so `taskctl --version` can name it. */
function gitCommit() {
  if (process.env.TASKCTL_COMMIT) return process.env.TASKCTL_COMMIT;
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return 'unknown';
  }
}

async function bundle() {
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
    alias: { 'react-devtools-core': join(root, 'build/react-devtools-stub.mjs') },
    define: {
      __TASKCTL_VERSION__: JSON.stringify(pkgJson.version),
      __TASKCTL_COMMIT__: JSON.stringify(gitCommit()),
      'process.env.NODE_ENV': '"production"',
    },
  };
  // Split into chunks: the entry holds only yargs and the command list, so --help and --version parse
  // little; a command's code (and Ink, for the screens) is loaded when it runs.
  rmSync(join(dist, 'chunks'), { recursive: true, force: true });
  await esbuild.build({
    ...shared,
    entryPoints: { taskctl: join(root, 'src/cli/run.ts') },
    outdir: dist,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': '.mjs' },
  });
  if (existsSync(join(root, 'src/index.ts'))) {
    await esbuild.build({ ...shared, banner: {}, entryPoints: [join(root, 'src/index.ts')], outfile: join(dist, 'index.mjs'), packages: 'external' });
  }
  log(`bundled dist/taskctl.mjs`);
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

/** pkg's name for where this build runs, e.g. linux-x64. */
function hostTarget() {
  const os = { linux: 'linux', darwin: 'macos', win32: 'win' }[process.platform];
  return `node${NODE_VERSION}-${os}-${process.arch}`;
}

/**
 * pkg downloads the Node binary it wraps; offline that fails. When building for this machine with the Node
 * that runs this script (the `node` devDependency), put that binary in pkg's cache as if downloaded.
 */
function seedPkgCache(target) {
  if (target !== hostTarget() || process.platform === 'win32') return;
  const nodeOs = process.platform;
  const name = `node-v${NODE_VERSION}-${nodeOs}-${process.arch}`;
  const cacheDir = join(homedir(), '.pkg-cache', 'sea');
  const archive = join(cacheDir, `${name}.tar.gz`);
  if (existsSync(archive) && existsSync(`${archive}.ok`)) return;
  log(`seeding pkg's cache with ${process.execPath}`);
  const staging = join(dist, '.node-archive');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, name, 'bin'), { recursive: true });
  copyFileSync(process.execPath, join(staging, name, 'bin', 'node'));
  mkdirSync(cacheDir, { recursive: true });
  execFileSync('tar', ['-czf', archive, '-C', staging, name]);
  writeFileSync(`${archive}.ok`, '');
  rmSync(staging, { recursive: true, force: true });
}

async function executable(target, output) {
  seedPkgCache(target);
  // pkg walks a package from its package.json; give it one that holds only the bundle.
  const stage = join(dist, '.pkg-stage');
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  cpSync(join(dist, 'taskctl.mjs'), join(stage, 'taskctl.mjs'));
  cpSync(join(dist, 'chunks'), join(stage, 'chunks'), { recursive: true });
  writeFileSync(join(stage, 'package.json'), JSON.stringify({ name: 'taskctl', version: pkgJson.version, type: 'module', bin: 'taskctl.mjs' }));
  const pkgBin = join(root, 'node_modules/@yao-pkg/pkg/lib-es5/bin.js');
  const result = spawnSync(process.execPath, [pkgBin, stage, '--sea', '--targets', target, '--output', output], {
    stdio: options.quiet ? 'pipe' : 'inherit',
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    if (options.quiet) process.stderr.write(`${result.stdout}${result.stderr}`);
    throw new Error(`pkg failed for ${target} (exit ${result.status})`);
  }
  rmSync(stage, { recursive: true, force: true });
  log(`built ${output.replace(root + '/', '')} (${target})`);
}

/** The asset name a release uses for `target`: taskctl-<version>-<os>-<arch>[.exe]. */
function assetName(target) {
  const [, os, arch] = /^node[\d.]+-(\w+)-(\w+)$/.exec(target) ?? [];
  if (!os) throw new Error(`not a pkg target: ${target}`);
  return `taskctl-${pkgJson.version}-${os}-${arch}${os === 'win' ? '.exe' : ''}`;
}

function sha256(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

await bundle();
if (!options['bundle-only']) declarations();
if (options.release) {
  const dir = resolve(options.release);
  mkdirSync(dir, { recursive: true });
  const targets = [...new Set([hostTarget(), ...(options.targets ? options.targets.split(',') : [])])];
  for (const target of targets) await executable(target, join(dir, assetName(target)));
  const sums = readdirSync(dir)
    .filter((name) => name.startsWith(`taskctl-${pkgJson.version}-`))
    .sort()
    .map((name) => `${sha256(join(dir, name))}  ${name}\n`)
    .join('');
  writeFileSync(join(dir, 'SHA256SUMS'), sums);
  log(`wrote ${targets.length} asset(s) and SHA256SUMS to ${dir}`);
} else if (!options['bundle-only']) {
  const targets = options.targets ? options.targets.split(',') : [hostTarget()];
  for (const target of targets) {
    const suffix = target.includes('-win-') ? '.exe' : '';
    const output = options.output ?? (targets.length === 1 ? join(dist, `taskctl${suffix}`) : join(dist, `taskctl-${target.replace(/^node[\d.]+-/, '')}${suffix}`));
    await executable(target, output);
  }
}
