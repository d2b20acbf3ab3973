import type { WebAssets } from '../src/server/web-assets.ts';

/** The web page's files by the path they are served at (see web-assets.mjs). */
export function buildWebAssets(root: string): Promise<WebAssets>;
