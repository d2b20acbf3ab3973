// The web page's files, built by build.mjs (build/web-assets.mjs bundles src/web/) and put in the CLI
// bundle as a constant, so the single binary and the npm package serve them from memory.

/** One file of the page: its content type and text. */
export interface WebAsset {
  readonly type: string;
  readonly body: string;
}

/** The page's files by the path they are served at: `/` and `/assets/<name>`. */
export type WebAssets = Readonly<Record<string, WebAsset>>;

// Filled in by build.mjs (esbuild `define`); running from source there is none.
declare const __TASKCTL_WEB_ASSETS__: WebAssets | undefined;

/** The page this build carries, or undefined when running from source (then `/` is a 404). */
export function bundledWebAssets(): WebAssets | undefined {
  return typeof __TASKCTL_WEB_ASSETS__ === 'object' ? __TASKCTL_WEB_ASSETS__ : undefined;
}
