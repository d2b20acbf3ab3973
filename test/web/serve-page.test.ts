// How the server serves the web page: from memory with its security headers, only at / and its assets, not
// at all with --no-ui; and GET /v1/me, which the page asks first.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildWebAssets } from '../../build/web-assets.mjs';
import { type TokenEntry, tokenHash } from '../../src/server/auth.ts';
import type { RunningServer } from '../../src/server/listen.ts';
import type { WebAssets } from '../../src/server/web-assets.ts';
import { CliProcess } from '../helpers/cli.ts';
import { startTestServer } from '../helpers/server.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const entry = (name: string, role: TokenEntry['role'], token: string): TokenEntry => ({ name, role, sha256: tokenHash(token) });
// The page, its script and its styles together stay under this (uncompressed).
const PAGE_BUDGET_BYTES = 150 * 1024;

let assets: WebAssets;
let server: RunningServer;
test.before(async () => {
  assets = await buildWebAssets(root);
  server = await startTestServer({
    tokens: [entry('rita', 'reader', 'tok-r'), entry('olga', 'operator', 'tok-o'), entry('wally', 'worker', 'tok-w')],
    webAssets: assets,
  });
});
test.after(() => server.close());

test('/ and each asset come with a strict CSP, nosniff, no referrer, no framing; all of it under 150 KB', async () => {
  const page = await fetch(server.url + '/?q=x&state=lost');
  assert.is(page.status, 200);
  assert.match(page.headers.get('content-type')!, /^text\/html/);
  const html = await page.text();
  const paths = ['/', ...[...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!)];
  assert.is(paths.length, 3, 'a script and a stylesheet');
  let total = 0;
  for (const path of paths) {
    const res = await fetch(server.url + path);
    assert.is(res.status, 200, path);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/, path);
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.match(csp, /script-src 'self'(;|$)/, path);
    assert.not.match(csp, /unsafe-inline|unsafe-eval/, path);
    assert.is(res.headers.get('x-content-type-options'), 'nosniff', path);
    assert.is(res.headers.get('referrer-policy'), 'no-referrer', path);
    assert.ok(res.headers.get('taskctl-version'), path);
    total += (await res.arrayBuffer()).byteLength;
  }
  assert.ok(total < PAGE_BUDGET_BYTES, `the page is ${total} bytes`);
  assert.not.match(html, /<script>|<style>|\son[a-z]+=/i, 'nothing inline for the CSP to refuse');
});

test('HEAD / answers as GET does, without the body (curl -I, link checkers); POST / is still a 405', async () => {
  const get = await fetch(server.url + '/');
  const head = await fetch(server.url + '/', { method: 'HEAD' });
  assert.is(head.status, 200);
  assert.is(head.headers.get('content-type'), get.headers.get('content-type'));
  assert.is(head.headers.get('content-length'), get.headers.get('content-length'));
  assert.is(await head.text(), '');
  const ping = await fetch(server.url + '/ping', { method: 'HEAD' });
  assert.is(ping.status, 200);
  // Never where a GET has an effect or is held: a seed cancel, a watch, a stream.
  for (const path of ['/cancel-task/head-1', '/watch-task/head-1', '/v1/events', '/v1/tasks']) {
    const refused = await fetch(`${server.url}${path}`, { method: 'HEAD', headers: { authorization: 'Bearer tok-o' } });
    assert.is(refused.status, 405, path);
  }
  assert.is((await fetch(`${server.url}/v1/tasks/head-1`, { headers: { authorization: 'Bearer tok-o' } })).status, 200);
  assert.not.ok(
    (await (await fetch(`${server.url}/v1/tasks/head-1`, { headers: { authorization: 'Bearer tok-o' } })).json()).cancelled,
    'HEAD /cancel-task cancelled nothing',
  );
  const post = await fetch(server.url + '/', { method: 'POST' });
  assert.is(post.status, 405);
  assert.is(post.headers.get('allow'), 'GET');
});

test('an unknown asset or path is a JSON 404; the page needs no token, the API still does', async () => {
  for (const path of ['/assets/nope.js', '/assets/', '/index.html', '/assets/%2e%2e%2fv1%2ftasks']) {
    const res = await fetch(server.url + path);
    assert.is(res.status, 404, path);
    assert.is((await res.json()).error.code, 'not_found', path);
  }
  assert.is((await fetch(server.url + '/v1/tasks')).status, 401);
});

test("GET /v1/me: no token is 'sign in first', a wrong one 401, a good one its name, role and rights", async () => {
  const me = (token?: string) => fetch(server.url + '/v1/me', token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  const anonymous = await me();
  assert.is(anonymous.status, 200);
  assert.equal(await anonymous.json(), { tokensRequired: true });
  assert.is((await me('wrong')).status, 401);
  assert.equal(await (await me('tok-r')).json(), { tokensRequired: true, caller: { name: 'rita', role: 'reader', rights: ['status', 'list', 'metrics'] } });
  const operator = (await (await me('tok-o')).json()).caller;
  assert.ok(operator.rights.includes('cancel'));
  assert.not.ok((await (await me('tok-w')).json()).caller.rights.includes('cancel'));

  const open = await startTestServer();
  try {
    assert.equal(await (await fetch(open.url + '/v1/me')).json(), {
      tokensRequired: false,
      caller: { name: 'anonymous', role: 'admin', rights: ['watch', 'report', 'status', 'cancel', 'list', 'metrics'] },
    });
    assert.is((await fetch(open.url + '/')).status, 404, 'no page given: / is a 404 like any unknown route');
  } finally {
    await open.close();
  }
});

test('the bundle carries the page: taskctl serve serves it, --no-ui makes / a 404', async () => {
  // From the bundle (what npm start, the package and the executable run), not from source: run npm run bundle first.
  for (const [args, status] of [
    [[], 200],
    [['--no-ui'], 404],
  ] as const) {
    const serve = new CliProcess([join(root, 'bin/taskctl'), 'serve', '--port', '0', '--no-tui', '--store', 'memory', ...args], { binary: process.execPath });
    try {
      const [, url] = await serve.waitFor(/listening url=(\S+)/);
      const res = await fetch(url + '/');
      assert.is(res.status, status, `serve ${args.join(' ')} (is dist/ bundled from this tree? npm run bundle)`);
      if (status === 200) assert.match(await res.text(), /<script type="module" src="\/assets\/page-[0-9a-f]+\.js">/);
    } finally {
      serve.kill();
      await serve.exited;
    }
  }
});

test.run();
