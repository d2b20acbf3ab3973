// The web page in a real browser (Debian's chromium, driven by puppeteer-core), against a real server with
// role-scoped tokens, real `taskctl work` and `taskctl cancel` processes. One browser for the file; each
// test opens its own incognito context, so sign-ins (sessionStorage) never leak between them.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildWebAssets } from '../../build/web-assets.mjs';
import { type TokenEntry, tokenHash } from '../../src/server/auth.ts';
import type { RunningServer } from '../../src/server/listen.ts';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { startTestServer } from '../helpers/server.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Where the page runs; Debian's package, installed by .ci/run when missing. */
export const CHROMIUM = process.env.TASKCTL_CHROMIUM ?? '/usr/bin/chromium';

const TOKENS = { reader: 'tok-reader-1', operator: 'tok-operator-1', worker: 'tok-worker-1' } as const;
const entry = (name: string, role: TokenEntry['role'], token: string): TokenEntry => ({ name, role, sha256: tokenHash(token) });

let server: RunningServer;
let browser: Browser;
/** Everything any page logged as an error, or threw; checked by the last test. */
const consoleErrors: string[] = [];
const workers: CliProcess[] = [];

test.before(async () => {
  server = await startTestServer({
    tokens: [entry('rita', 'reader', TOKENS.reader), entry('olga', 'operator', TOKENS.operator), entry('wally', 'worker', TOKENS.worker)],
    webAssets: await buildWebAssets(root),
    progressIntervalMs: 50,
    watchTimeoutMs: 30_000,
  });
  browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
});

test.after(async () => {
  // SIGTERM, so each worker stops its command before it exits (SIGKILL would leave the command running).
  for (const worker of workers) worker.kill('SIGTERM');
  await Promise.all(workers.map((worker) => worker.exited));
  await browser?.close();
  await server?.close();
});

/**
 * A fresh tab in a context of its own, on `path`, signed in with `token` when given. `expected` are console
 * errors this tab is meant to cause (the 401 of a wrong token); any other goes to consoleErrors.
 */
async function openPage(path: string, token?: string, options: { width?: number; expected?: RegExp } = {}): Promise<Page> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error' && !options.expected?.test(message.text())) consoleErrors.push(`${path}: ${message.text()}`);
  });
  page.on('pageerror', (error) => consoleErrors.push(`${path}: ${(error as Error).message}`));
  page.on('dialog', (dialog) => {
    consoleErrors.push(`${path}: a script opened a ${dialog.type()} dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.setViewport({ width: options.width ?? 1280, height: 800 });
  await page.goto(server.url + path);
  if (token !== undefined) await signIn(page, token);
  return page;
}

async function signIn(page: Page, token: string): Promise<void> {
  await until(page, () => document.querySelector('input[type=password]#token') !== null, 'the sign-in form');
  await page.type('#token', token);
  await page.keyboard.press('Enter');
}

/** Waits in the page for `condition` (given `arg`); fails naming `what` rather than with a bare timeout. */
async function until<A>(page: Page, condition: (arg: A) => unknown, what: string, arg?: A, timeoutMs = 10_000): Promise<void> {
  try {
    await page.waitForFunction(condition as never, { timeout: timeoutMs }, arg as never);
  } catch {
    const body = await page.evaluate(() => document.body.innerText).catch(() => '(no page)');
    throw new Error(`timed out waiting for ${what}; the page shows:\n${body.slice(0, 2_000)}`);
  }
}

/** The text of a task's row, once it shows; '' while it does not. */
const rowText = (id: string) => (page: Page) =>
  page.evaluate((id) => document.querySelector<HTMLElement>(`.row[data-id="${CSS.escape(id)}"]`)?.innerText ?? '', id);
const rowShows = (page: Page, id: string, text: string, what = `row ${id} showing ${text}`) =>
  until(page, ([id, text]) => (document.querySelector<HTMLElement>(`.row[data-id="${CSS.escape(id!)}"]`)?.innerText ?? '').includes(text!), what, [id, text]);

/** `taskctl work ID` running a command that never ends on its own, as a worker with `--json` lines. */
async function startWorker(id: string): Promise<CliProcess> {
  const worker = new CliProcess(['work', id, '--json', '--server', server.url, '--', process.execPath, '-e', 'setInterval(() => {}, 1000)'], {
    env: { TASKCTL_TOKEN: TOKENS.operator },
  });
  workers.push(worker);
  await worker.waitFor(/"event":"connected"/, 20_000);
  return worker;
}

async function operatorApi(method: string, path: string, body?: unknown): Promise<Response> {
  const response = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${TOKENS.operator}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${await response.clone().text()}`);
  return response;
}

/** A cancel through the API (as the CLI makes it), so the task has a status the listing shows. */
const cancelTask = (id: string, reason?: string) => operatorApi('POST', `/v1/tasks/${encodeURIComponent(id)}/cancel`, reason === undefined ? {} : { reason });

/** Clicks `selector` in one step in the page: a live view may draw an element again between finding and clicking it. */
const clickNow = (page: Page, selector: string) => page.$eval(selector, (element) => (element as HTMLElement).click());

const cancelButtons = (page: Page) => page.evaluate(() => [...document.querySelectorAll('button')].filter((b) => /cancel/i.test(b.textContent ?? '')).length);

test('a wrong token says so and keeps the form; a reader signs in, sees the tasks and no cancel control anywhere, and signs out', async () => {
  await cancelTask('seen-by-reader', 'for the list');
  const page = await openPage('/', undefined, { expected: /status of 401/ });
  await until(page, () => document.querySelector('label[for=token]')?.textContent === 'Token', 'a field labelled Token');
  await signIn(page, 'not-a-token');
  await until(page, () => /wrong token/i.test(document.querySelector('[role=alert]')?.textContent ?? ''), 'the wrong-token message');
  assert.ok(await page.$('#token'), 'the form stays');
  assert.is(await page.evaluate(() => sessionStorage.length), 0, 'a refused token is not kept');

  await page.evaluate(() => ((document.querySelector('#token') as HTMLInputElement).value = ''));
  await signIn(page, TOKENS.reader);
  await rowShows(page, 'seen-by-reader', 'cancel_requested');
  assert.match(await page.evaluate(() => document.querySelector('.who')?.textContent ?? ''), /rita · reader/);
  assert.is(await cancelButtons(page), 0, 'no cancel button on the list');
  await clickNow(page, '.row[data-id="seen-by-reader"] a');
  await until(page, () => document.querySelector('.detail h1')?.textContent?.includes('seen-by-reader'), 'the detail');
  await until(page, () => document.querySelector('.detail .record') !== null, 'the cancel record');
  assert.is(await cancelButtons(page), 0, 'no cancel button on the detail');

  // A reload keeps the tab signed in; sign out forgets the token.
  await page.reload();
  await until(page, () => document.querySelector('.who')?.textContent?.includes('rita'), 'still signed in after a reload');
  await page.click('button.quiet');
  await until(page, () => document.querySelector('#token') !== null, 'the sign-in form after signing out');
  assert.is(await page.evaluate(() => sessionStorage.length), 0);
  await page.browserContext().close();
});

test("an operator's open page shows a cancel made with the CLI, without a reload", async () => {
  await startWorker('cli-victim');
  const page = await openPage('/', TOKENS.operator);
  await rowShows(page, 'cli-victim', 'watching');
  // Set in this document only: a reload would lose it. The observer notes the row flashing, however briefly.
  await page.evaluate(() => {
    const marks = window as unknown as { notReloaded: boolean; flashed: boolean };
    marks.notReloaded = true;
    new MutationObserver(() => {
      if (document.querySelector('.row.flash[data-id="cli-victim"]')) marks.flashed = true;
    }).observe(document.querySelector('.rows')!, { subtree: true, childList: true, attributes: true });
  });
  const cancel = await runCli(['cancel', 'cli-victim', '--reason', 'from the terminal', '--server', server.url, '--token', TOKENS.operator]);
  assert.is(cancel.code, 0, cancel.stderr);
  await rowShows(page, 'cli-victim', 'cancelled', 'the row going to cancelled');
  assert.match(await rowText('cli-victim')(page), /olga/, 'who cancelled');
  assert.ok(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), 'the same document');
  assert.ok(await page.evaluate(() => (window as unknown as { flashed?: boolean }).flashed), 'the changed row flashed');
  const why = (p: typeof page) => p.evaluate(() => document.querySelector('.row[data-id="cli-victim"] .by')?.getAttribute('title'));
  assert.is(await why(page), 'from the terminal', 'the reason on hover, from the event');
  await page.browserContext().close();
  // A page opened afterwards has it from the listing.
  const later = await openPage('/', TOKENS.operator);
  await rowShows(later, 'cli-victim', 'cancelled');
  assert.is(await why(later), 'from the terminal', 'the reason on hover, from the listing');
  await later.browserContext().close();
});

test("a cancel from the dialog reaches a running taskctl work with its reason; Escape and 'Keep it running' cancel nothing", async () => {
  const worker = await startWorker('dialog-victim');
  const page = await openPage('/', TOKENS.operator);
  await rowShows(page, 'dialog-victim', 'watching');
  const button = '.row[data-id="dialog-victim"] button.danger';

  await clickNow(page, button);
  await until(page, () => document.querySelector('dialog')?.open, 'the dialog');
  await page.keyboard.press('Escape');
  await until(page, () => !document.querySelector('dialog')?.open, 'Escape closing the dialog');
  await clickNow(page, button);
  await until(page, () => document.querySelector('dialog')?.open, 'the dialog again');
  const keep = await page.$$eval('dialog button', (buttons) => buttons.map((b) => b.textContent));
  assert.equal(keep, ['Keep it running', 'Cancel task']);
  await page.click('dialog button[type=button]');
  await until(page, () => !document.querySelector('dialog')?.open, 'Keep it running closing the dialog');
  assert.match(await rowText('dialog-victim')(page), /watching/, 'still running');

  await clickNow(page, button);
  await until(page, () => document.querySelector('dialog')?.open, 'the dialog a third time');
  await page.type('dialog input[name=reason]', 'GPU needed <b>now</b>');
  await page.click('dialog button[type=submit]');
  await worker.waitFor(/"event":"cancelled".*GPU needed <b>now<\/b>/, 15_000);
  const result = await worker.exited;
  assert.is(result.code, 0, result.stderr);
  await rowShows(page, 'dialog-victim', 'cancelled', 'the row going to cancelled');
  assert.not.ok(await page.$(button), 'no Cancel on a cancelled task');
  await page.browserContext().close();
});

test('a scheduled cancel from the dialog shows on the detail; a bad delay is refused in the dialog', async () => {
  await startWorker('later-victim');
  // The refused delay is a 400, which the browser logs.
  const page = await openPage('/?task=later-victim', TOKENS.operator, { expected: /status of 400/ });
  await until(page, () => document.querySelector('.detail button.danger') !== null, 'the Cancel button on the detail');
  await clickNow(page, '.detail button.danger');
  await page.type('dialog input[name=after]', 'soon');
  await page.click('dialog button[type=submit]');
  await until(page, () => (document.querySelector('dialog [role=alert]')?.textContent ?? '') !== '', 'the server refusing the delay');
  assert.ok(await page.evaluate(() => document.querySelector('dialog')?.open), 'the dialog stays open');
  await page.evaluate(() => ((document.querySelector('dialog input[name=after]') as HTMLInputElement).value = ''));
  await page.type('dialog input[name=after]', '10m');
  await page.click('dialog button[type=submit]');
  await until(page, () => document.querySelector('.detail .schedule')?.textContent?.includes('in 9m'), 'the schedule on the detail');
  await until(page, () => document.querySelector('.detail .events')?.textContent?.includes('scheduled'), 'the scheduled event among the live events');
  await page.browserContext().close();
});

test('a page cut off from the server says so, reconnects by itself, and shows what happened meanwhile', async () => {
  const proxy = await TcpProxy.start(server.port);
  try {
    await startWorker('while-away');
    await cancelTask('before-cut');
    // The browser logs the stream cut and each connection refused while cut.
    const page = await openPage('/', undefined, { expected: /net::ERR_|status of 401/ });
    await page.goto(proxy.url);
    await signIn(page, TOKENS.reader);
    await rowShows(page, 'while-away', 'watching');
    await until(page, () => document.querySelector('.status')?.getAttribute('data-state') === 'live', 'live');
    // An event after the listing, so the page has an event id to resume from.
    await cancelTask('seen-live');
    await rowShows(page, 'seen-live', 'cancel_requested');
    proxy.cut();
    await until(page, () => /disconnected.*reconnecting/.test(document.querySelector('.status')?.textContent ?? ''), 'disconnected, reconnecting');
    await cancelTask('while-away', 'made while the page was away');
    proxy.restore();
    await until(page, () => document.querySelector('.status')?.getAttribute('data-state') === 'live', 'live again', undefined, 30_000);
    await rowShows(page, 'while-away', 'cancel', 'the cancel made while away');
    await page.browserContext().close();
  } finally {
    await proxy.close();
  }
});

test('a page away for longer than the server keeps events is told to list again (reset), and shows every change', async () => {
  const small = await startTestServer({ webAssets: await buildWebAssets(root), eventWindow: { maxEvents: 3, maxAgeMs: 3_600_000 } });
  const proxy = await TcpProxy.start(small.port);
  const cancel = (id: string) => fetch(`${small.url}/v1/tasks/${id}/cancel`, { method: 'POST' });
  try {
    await cancel('kept-0');
    const page = await openPage('/', undefined, { expected: /net::ERR_/ });
    await page.goto(proxy.url);
    await rowShows(page, 'kept-0', 'cancel_requested');
    await until(page, () => document.querySelector('.status')?.getAttribute('data-state') === 'live', 'live');
    proxy.cut();
    await until(page, () => /reconnecting/.test(document.querySelector('.status')?.textContent ?? ''), 'reconnecting');
    // More changes than the server keeps: the page cannot resume, only list again.
    for (let i = 1; i <= 10; i++) await cancel(`missed-${i}`);
    proxy.restore();
    await until(page, () => document.querySelector('.count')?.textContent === '11 tasks', 'all 11 tasks after the reset', undefined, 30_000);
    await rowShows(page, 'missed-1', 'cancel_requested', 'the first change it missed');
    await page.browserContext().close();
  } finally {
    await proxy.close();
    await small.close();
  }
});

test('filter and detail come back from the URL; the search and state filter write it', async () => {
  for (const id of ['train-a', 'train-b', 'eval-a']) await cancelTask(id);
  await operatorApi('POST', '/v1/tasks/train-b/report', { outcome: 'succeeded', exitCode: 0 });
  const page = await openPage('/?q=TRAIN-&state=cancel_requested', TOKENS.reader);
  await rowShows(page, 'train-a', 'cancel_requested');
  assert.equal(await page.$eval('input[type=search]', (input) => (input as HTMLInputElement).value), 'TRAIN-');
  assert.equal(await page.$eval('select', (select) => (select as HTMLSelectElement).value), 'cancel_requested');
  const shown = () => page.$$eval('.rows .row', (rows) => rows.map((row) => row.getAttribute('data-id')).sort());
  assert.equal(await shown(), ['train-a']);

  await page.select('select', '');
  await until(page, () => document.querySelectorAll('.rows .row').length === 2, 'both train- tasks');
  assert.equal(await shown(), ['train-a', 'train-b']);
  assert.is(await page.evaluate(() => location.search), '?q=TRAIN-');

  // Keyboard: down to the second row, Enter opens it, Escape comes back.
  await page.focus('.rows .row[aria-rowindex="1"] a');
  await page.keyboard.press('ArrowDown');
  assert.is(await page.evaluate(() => document.activeElement?.textContent), 'train-b');
  await page.keyboard.press('Enter');
  await until(page, () => location.search === '?q=TRAIN-&task=train-b', 'the detail in the URL');
  await until(page, () => document.querySelector('.detail .history')?.textContent?.includes('succeeded'), 'the history');
  await page.reload();
  await until(page, () => document.querySelector('.detail h1')?.textContent?.includes('train-b'), 'the detail after a reload');
  await page.keyboard.press('Escape');
  await until(page, () => document.querySelectorAll('.rows .row').length === 2 && location.search === '?q=TRAIN-', 'the list again');
  await page.goBack();
  await until(page, () => location.search === '?q=TRAIN-&task=train-b' && document.querySelector('.detail') !== null, 'Back to the detail');
  await page.browserContext().close();
});

test('hostile text from the server shows as text: ids, reasons and progress never become markup', async () => {
  const hostile = '<img src=x onerror="window.pwned=1">';
  const id = '<b>bold<b>"\'&amp;';
  await cancelTask(id, hostile);
  await server.tracker.watchAnsweredAtOnce(['progress-victim'], { id: '<i>w</i>', host: '<script>h</script>', pid: 1 });
  const progress = await fetch(`${server.url}/v1/progress`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKENS.worker}`, 'content-type': 'application/json' },
    body: JSON.stringify({ updates: [{ id: 'progress-victim', text: hostile }] }),
  });
  assert.is(progress.status, 202);
  const page = await openPage(`/?task=${encodeURIComponent(id)}`, TOKENS.operator);
  await until(page, () => document.querySelector('.detail .record') !== null, "the hostile task's detail");
  assert.ok((await page.evaluate(() => document.body.innerText)).includes(hostile), 'the reason as its characters');
  assert.ok((await page.evaluate(() => document.querySelector('.detail h1')?.textContent ?? '')).includes(id), 'the id as its characters');
  await page.goto(`${server.url}/`);
  await rowShows(page, 'progress-victim', hostile, 'the progress line as text');
  assert.ok((await rowText(id)(page)).includes(id));
  const injected = await page.evaluate(() => ({
    images: document.querySelectorAll('img').length,
    bold: document.querySelectorAll('b, i, script:not([src])').length,
    pwned: typeof (window as unknown as { pwned?: number }).pwned,
  }));
  assert.equal(injected, { images: 0, bold: 0, pwned: 'undefined' });
  await page.browserContext().close();
});

test('at 390 px wide nothing scrolls sideways: the list, a detail with long text, the dialog', async () => {
  const long = `long-${'x'.repeat(240)}`;
  await cancelTask(long, 'y'.repeat(1_000));
  await startWorker('narrow-victim');
  const page = await openPage('/', TOKENS.operator, { width: 390 });
  await rowShows(page, 'narrow-victim', 'watching');
  await rowShows(page, long, 'cancel_requested');
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.is(await overflow(), 0, 'the list');
  await clickNow(page, '.row[data-id="narrow-victim"] button.danger');
  await until(page, () => document.querySelector('dialog')?.open, 'the dialog');
  assert.is(await overflow(), 0, 'the dialog');
  const dialogFits = await page.$eval('dialog', (dialog) => dialog.getBoundingClientRect().right <= innerWidth);
  assert.ok(dialogFits, 'the dialog inside the screen');
  await page.keyboard.press('Escape');
  await page.goto(`${server.url}/?task=${long}`);
  await until(page, () => document.querySelector('.detail .record') !== null, 'the long detail');
  assert.is(await overflow(), 0, 'the detail');
  await page.browserContext().close();
});

test("a worker token is told it may not list tasks; the page follows the system's dark setting", async () => {
  // Told without asking for the list first: no refused request in the browser's console.
  const page = await openPage('/', TOKENS.worker);
  await until(page, () => /may not list tasks/.test(document.querySelector('[role=alert]')?.textContent ?? ''), "the server's refusal");
  const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }]);
  const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.is.not(dark, light);
  await page.browserContext().close();
});

test('thousands of tasks: only the rows on screen are in the DOM, the last is reachable, and rows arriving above do not move what is under the pointer', async () => {
  const watch = (ids: string[]) => operatorApi('POST', '/v1/watch', { ids, timeout: '1s' });
  await watch(Array.from({ length: 2_000 }, (_, i) => `bulk-${String(i).padStart(4, '0')}`));
  const page = await openPage('/?q=bulk-', TOKENS.reader);
  await until(page, () => /^2000 of /.test(document.querySelector('.count')?.textContent ?? ''), 'the 2000 tasks');
  assert.ok((await page.$$('.rows .row')).length < 100, 'a window of rows, not 2000');
  const underPointer = () => page.evaluate(() => document.elementFromPoint(200, 400)?.closest('.row')?.getAttribute('data-id'));
  await page.evaluate(() => scrollTo(0, document.querySelector('.rows')!.getBoundingClientRect().top + scrollY + 1_000 * 40 - 380));
  await until(page, () => document.elementFromPoint(200, 400)?.closest('.row') !== null, 'a row under the pointer');
  const before = await underPointer();
  assert.ok(before && before > 'bulk-0900' && before < 'bulk-1100', `mid-list: ${before}`);
  // 50 tasks that sort before every row on screen.
  await watch(Array.from({ length: 50 }, (_, i) => `bulk-0000-${i}`));
  await until(page, () => /^2050 of /.test(document.querySelector('.count')?.textContent ?? ''), 'the 50 new tasks');
  await until(page, () => document.elementFromPoint(200, 400)?.closest('.row') !== null, 'a row under the pointer again');
  assert.is(await underPointer(), before, 'the same row under the pointer');
  await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight));
  await rowShows(page, 'bulk-1999', 'watching', 'the last row at the bottom');
  await page.browserContext().close();
});

/** Tasks as a real day might have them, for the screenshot: training runs, a sweep, an evaluation. */
async function stageScreenshot(): Promise<RunningServer> {
  const staged = await startTestServer({ tokens: [entry('olga', 'operator', TOKENS.operator)], webAssets: await buildWebAssets(root), progressIntervalMs: 50 });
  const call = (path: string, body: unknown) =>
    fetch(staged.url + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const runs: [string, string, number, string][] = [
    ['train-resnet50-a', 'gpu-3', 4242, 'epoch 12/90 loss 0.412'],
    ['train-resnet50-b', 'gpu-4', 5120, 'epoch 31/90 loss 0.298'],
    ['sweep-lr-0.01', 'gpu-7', 881, 'trial 4/16'],
    ['sweep-lr-0.1', 'gpu-7', 883, 'trial 9/16'],
    ['eval-bert-base', 'cpu-2', 12001, 'batch 410/500'],
    ['etl-nightly-2026-12-05', 'etl-1', 77, 'rows 9.1M'],
  ];
  for (const [id, host, pid] of runs) await staged.tracker.watchAnsweredAtOnce([id], { id: `w-${host}`, host, pid });
  staged.tracker.progressed(runs.map(([id, , , text]) => ({ id, text })));
  await call('/v1/tasks/sweep-lr-0.1/cancel', { reason: 'diverged at trial 9' });
  await call('/v1/tasks/etl-nightly-2026-12-05/report', { outcome: 'succeeded', exitCode: 0 });
  await call('/v1/tasks/train-vit-old/cancel', { reason: 'superseded by resnet50' });
  return staged;
}

test('the screenshot in docs/ (with TASKCTL_SCREENSHOT=1), and no page logged an error or threw', async () => {
  if (process.env.TASKCTL_SCREENSHOT === '1') {
    const staged = await stageScreenshot();
    const page = await (await browser.createBrowserContext()).newPage();
    await page.setViewport({ width: 1100, height: 420 });
    await page.goto(staged.url);
    await signIn(page, TOKENS.operator);
    await rowShows(page, 'train-resnet50-a', 'epoch 12/90');
    await rowShows(page, 'sweep-lr-0.1', 'cancel_requested');
    writeFileSync(new URL('../../docs/web.png', import.meta.url), await page.screenshot({ type: 'png' }));
    await page.browserContext().close();
    await staged.close();
  }
  assert.equal(consoleErrors, []);
});

test.run();
