import { HttpError } from '../../protocol/errors.ts';
import { sendText } from '../http-io.ts';
import type { Route } from '../router.ts';
import type { WebAssets } from '../web-assets.ts';

/**
 * What every answer for the page carries. Scripts and styles come only from this server's own files (no
 * inline script can run, so text that slipped into the DOM still could not act), nothing may frame the page
 * (clickjacking a Cancel button), types are never sniffed, and no URL (a task id in it) leaks as a referrer.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
});

// The page itself is asked for again each time (it names the current assets); the assets have their
// content's hash in their names, so a browser keeps them for good.
const PAGE_CACHE = 'no-cache';
const ASSET_CACHE = 'public, max-age=31536000, immutable';

/** The web page at `/` and its files under /assets/, from memory; no routes at all without a page (`--no-ui`). */
export function webRoutes(assets: WebAssets | undefined): Route[] {
  if (!assets) return [];
  return [
    {
      // Open: the page holds no data; everything it shows comes from /v1 with the token the person types.
      method: 'GET',
      pattern: /^\/(?:assets\/[^/]+)?$/,
      right: 'open',
      handle: (ctx) => {
        const path = ctx.req.url!.split('?', 1)[0]!;
        const asset = assets[path];
        if (!asset) throw new HttpError('not_found', 'no such file of the web page');
        sendText(ctx.res, 200, asset.body, asset.type, { ...PAGE_HEADERS, 'cache-control': path === '/' ? PAGE_CACHE : ASSET_CACHE });
      },
    },
  ];
}
