// Wraps a CLI bundle with Node into one executable through pkg's SEA pipeline in its simple mode: Node's
// own single-executable format, with build/sea-main.cjs as the main script and every file of the bundle
// as an asset. pkg fetches (or finds in its cache) the Node binary for the target, has the pinned Node
// write the SEA blob, injects it, and signs macOS executables.
//
//   node build/sea-executable.mjs <bundle dir> <pkg target> <output>
//
// pkg's command line offers the simple mode for a lone script only, with no assets; this calls the same
// function with them. Run by build.mjs with the pinned Node, in a process of its own (pkg keeps state).
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';

const [bundleDir, target, output] = process.argv.slice(2);
if (!bundleDir || !target || !output) {
  console.error('usage: node build/sea-executable.mjs <bundle dir> <pkg target> <output>');
  process.exit(2);
}
const require = createRequire(import.meta.url);
const { default: sea } = require('@yao-pkg/pkg/lib-es5/sea.js');
const { parseTargets } = require('@yao-pkg/pkg/lib-es5/config.js');

/** Every file under `dir`, by its path in the bundle with forward slashes (what the bundle's imports name). */
function files(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}
const assets = Object.fromEntries(files(bundleDir).map((path) => [relative(bundleDir, path).split(sep).join('/'), path]));
if (!assets['taskctl.mjs']) {
  console.error(`${bundleDir} holds no taskctl.mjs`);
  process.exit(1);
}

await sea(join(import.meta.dirname, 'sea-main.cjs'), {
  targets: parseTargets([target]).map((parsed) => ({ ...parsed, output })),
  // As pkg's command line does by default: a macOS executable is signed ad hoc (arm64 runs nothing unsigned).
  signature: true,
  // The main script is a page of code: a code cache would save nothing and ties the blob to the
  // building machine's architecture.
  seaConfig: { useCodeCache: false, assets },
});
