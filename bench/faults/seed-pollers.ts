// The seed article's worker, many times over: one long poll per id on GET /watch-task/:id, asked again on
// "false", retried with the client's backoff on any failure. Held in the suite's own process: hundreds of
// them cost a socket each, not a process each.
import { setMaxListeners } from 'node:events';
import { Agent, request } from 'node:http';
import { DEFAULT_BACKOFF, backoffDelay } from '../../src/core/backoff.ts';
import { paths } from '../../src/protocol/routes.ts';
import type { OnHeard } from './processes.ts';

/** How long a poll may go unanswered before it is given up: the server's watch timeout and a margin. */
const POLL_TIMEOUT_MS = 20_000;

/** Polls every id in `ids` through `serverUrl` until it is heard cancelled or `stop` aborts. */
export function runSeedPollers(name: string, ids: readonly string[], serverUrl: string, onHeard: OnHeard, stop: AbortSignal): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  // Every poll and every wait listens for the stop: hundreds at once, by design.
  setMaxListeners(Infinity, stop);
  stop.addEventListener('abort', () => agent.destroy(), { once: true });
  const process = `${name}#1`;
  const pollOne = async (id: string) => {
    let failures = 0;
    while (!stop.aborted) {
      const answer = await get(`${serverUrl}${paths.seedWatch(id)}`, agent, stop).catch(() => undefined);
      if (answer === 'true') {
        onHeard(id, process, performance.now());
        return;
      }
      if (answer === 'false') {
        failures = 0;
        continue;
      }
      await sleep(backoffDelay(++failures, DEFAULT_BACKOFF), stop);
    }
  };
  return Promise.all(ids.map(pollOne)).then(() => agent.destroy());
}

/** The body of a 200 answer, or undefined for any other status. */
function get(url: string, agent: Agent, stop: AbortSignal): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, signal: AbortSignal.any([stop, AbortSignal.timeout(POLL_TIMEOUT_MS)]) }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(res.statusCode === 200 ? body : undefined));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function sleep(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    stop.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
