// Builds the web page (src/web/) into the files `taskctl serve` serves from memory: index.html, one script
// and one stylesheet, minified by the esbuild that builds everything else. The script and stylesheet carry
// their content's hash in their names, so a browser may keep them for good. Used by build.mjs, which puts
// the result in the CLI bundle, and by the tests and the bench, which serve it from a server in-process.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The page's files by the path they are served at: { '/': { type, body }, '/assets/page-HASH.js': ... }. */
export async function buildWebAssets(root) {
  const { build } = await import('esbuild');
  const common = { bundle: true, minify: true, write: false, legalComments: 'none', logLevel: 'warning', outdir: join(root, 'dist', 'web') };
  const [script, style] = await Promise.all([
    build({ ...common, entryPoints: [join(root, 'src/web/main.ts')], format: 'esm', platform: 'browser', target: ['chrome111', 'firefox111', 'safari16.4'] }),
    build({ ...common, entryPoints: [join(root, 'src/web/page.css')], target: ['chrome111', 'firefox111', 'safari16.4'] }),
  ]);
  const named = (output, ext) => {
    const body = output.outputFiles[0].text;
    return { path: `/assets/page-${createHash('sha256').update(body).digest('hex').slice(0, 12)}.${ext}`, body };
  };
  const js = named(script, 'js');
  const css = named(style, 'css');
  const html = readFileSync(join(root, 'src/web/index.html'), 'utf8').replace('{{script}}', js.path).replace('{{style}}', css.path);
  return {
    '/': { type: 'text/html; charset=utf-8', body: html },
    [js.path]: { type: 'text/javascript; charset=utf-8', body: js.body },
    [css.path]: { type: 'text/css; charset=utf-8', body: css.body },
  };
}
