'use strict';
// The executable's main script (Node's single-executable "main", which must be CommonJS). The CLI bundle
// is ES modules (Ink's yoga-layout awaits at top level) and travels as SEA assets named by their paths
// in the bundle (taskctl.mjs, chunks/...): the module hooks below serve them from memory, under a URL
// beneath the executable's own path, so no file is ever written or read.
//
// Why not pkg's enhanced SEA mode: its bootstrap (a virtual file system patched into fs) cost ~25 ms on
// every start, about what Node's own start-up takes; this adds a few milliseconds.
const sea = require('node:sea');
const { registerHooks } = require('node:module');
const { pathToFileURL } = require('node:url');
const vm = require('node:vm');

// e.g. file:///usr/local/bin/taskctl/ : a stack trace names /usr/local/bin/taskctl/chunks/serve-run-….mjs.
// A drive-letter path on Windows, which createRequire() in the bundle needs.
const ROOT = `${pathToFileURL(process.execPath).href}/`;

registerHooks({
  resolve(specifier, context, nextResolve) {
    // The bundle imports its chunks by relative paths only.
    if (specifier.startsWith(ROOT)) return { url: specifier, format: 'module', shortCircuit: true };
    if (context.parentURL?.startsWith(ROOT) && (specifier.startsWith('./') || specifier.startsWith('../'))) {
      return { url: new URL(specifier, context.parentURL).href, format: 'module', shortCircuit: true };
    }
    return nextResolve(specifier, context);
  },
  load(url, context, nextLoad) {
    if (!url.startsWith(ROOT)) return nextLoad(url, context);
    return { format: 'module', source: sea.getAsset(decodeURIComponent(url.slice(ROOT.length)), 'utf8'), shortCircuit: true };
  },
});

// A main script's import() reaches only Node's built-ins; a script compiled with the main context's
// default loader imports like any module. Node warns once that this option is experimental: not the
// user's concern, so that warning is dropped and process.emitWarning put back.
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  const message = typeof warning === 'string' ? warning : warning?.message;
  if (!message?.includes('USE_MAIN_CONTEXT_DEFAULT_LOADER')) return emitWarning.call(this, warning, ...rest);
  process.emitWarning = emitWarning;
};
new vm.Script(`import(${JSON.stringify(`${ROOT}taskctl.mjs`)})`, {
  filename: 'taskctl-sea-main',
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
})
  .runInThisContext()
  .catch((error) => {
    // Only a bundle that cannot load gets here: the CLI reports its own errors.
    console.error(`taskctl: cannot start: ${error?.message ?? error}`);
    process.exitCode = 70;
  });
