// The web page's figures: its bytes as the binary serves them, and how soon a real browser (headless
// Chromium, as the tests drive it) shows the first rows, and all of them, with 10,000 tasks on the server.
import { existsSync } from 'node:fs';
import puppeteer from 'puppeteer-core';
import { median, startServer } from './harness.ts';

const CHROMIUM = process.env.TASKCTL_CHROMIUM ?? '/usr/bin/chromium';

/** Gives `ids` a status on the server (watching), in watches of at most 10,000 ids that answer at once. */
async function seed(url: string, count: number): Promise<void> {
  for (let from = 0; from < count; from += 10_000) {
    const ids = Array.from({ length: Math.min(10_000, count - from) }, (_, i) => `task-${String(from + i).padStart(6, '0')}`);
    const res = await fetch(`${url}/v1/watch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ids, timeout: '1s' }),
    });
    if (!res.ok) throw new Error(`seeding: ${res.status} ${await res.text()}`);
  }
}

/** The bytes of `/` and every asset it names. */
async function pageBytes(url: string): Promise<number> {
  const html = await (await fetch(`${url}/`)).text();
  let total = Buffer.byteLength(html);
  for (const [, path] of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) total += (await (await fetch(url + path!)).arrayBuffer()).byteLength;
  return total;
}

/** The page against the built binary with `tasks` tasks, opened `runs` times in fresh browser contexts. */
export async function webPage(tasks = 10_000, runs = 5) {
  if (!existsSync(CHROMIUM)) return { skipped: `no browser at ${CHROMIUM} (set TASKCTL_CHROMIUM)` };
  const server = await startServer('memory');
  const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  try {
    await seed(server.url, tasks);
    const bytes = await pageBytes(server.url);
    const firstRows: number[] = [];
    const allListed: number[] = [];
    let rowsInDom = 0;
    for (let run = 0; run < runs; run++) {
      const context = await browser.createBrowserContext();
      const page = await context.newPage();
      await page.setViewport({ width: 1280, height: 800 });
      // Times since the navigation started, noted by the page itself as rows arrive, so no polling adds to
      // them. Given as source text: this file is type-checked with Node's types, not the DOM's.
      await page.evaluateOnNewDocument(`
        const marks = (window.benchMarks = {});
        new MutationObserver(() => {
          if (marks.firstRows === undefined && document.querySelector('.rows .row')) marks.firstRows = performance.now();
          const listed = document.querySelector('.count')?.textContent === '${tasks} tasks' && !/listing/.test(document.querySelector('.status')?.textContent ?? '');
          if (marks.allListed === undefined && listed) marks.allListed = performance.now();
        }).observe(document, { subtree: true, childList: true, characterData: true });
      `);
      await page.goto(server.url);
      await page.waitForFunction('window.benchMarks.allListed !== undefined', { timeout: 60_000 });
      const marks = (await page.evaluate('window.benchMarks')) as { firstRows: number; allListed: number };
      firstRows.push(Math.round(marks.firstRows));
      allListed.push(Math.round(marks.allListed));
      rowsInDom = (await page.evaluate("document.querySelectorAll('.rows .row').length")) as number;
      await context.close();
    }
    return {
      tasks,
      bytes,
      firstRowsMs: { median: median(firstRows), min: Math.min(...firstRows), max: Math.max(...firstRows) },
      allListedMs: { median: median(allListed), min: Math.min(...allListed), max: Math.max(...allListed) },
      rowsInDom,
    };
  } finally {
    await browser.close();
    await server.stop();
  }
}
