import type { WaitResult } from '../../core/canceler.ts';
import type { WorkerIdentity } from '../../core/task-status.ts';
import { nextTurn } from '../../core/turns.ts';
import { HttpError } from '../../protocol/errors.ts';
import { type WatchReply, watchQuerySchema, watchRequestSchema } from '../../protocol/schemas.ts';
import { recordToWire } from '../../protocol/wire.ts';
import type { AppContext } from '../app.ts';
import { readJson, sendJson } from '../http-io.ts';
import { parseInput, type RequestContext, type Route } from '../router.ts';

/**
 * The `ids` of a GET watch: the parameter may repeat, and each value is a comma-separated list. Values are
 * split on their literal commas before they are percent-decoded, so an id holding a comma travels as %2C.
 */
export function watchQueryIds(search: string): { ids: string[]; rest: Record<string, string> } {
  const ids: string[] = [];
  const rest: Record<string, string> = {};
  for (const pair of search.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : pair.slice(eq + 1);
    if (key === 'ids') ids.push(...value.split(',').map(decode));
    else rest[key] = decode(value);
  }
  return { ids, rest };
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new HttpError('invalid_request', 'the query string is not valid percent-encoded UTF-8');
  }
}

// A watch on this many ids or more is heavy work (see nextTurn).
const BIG_WATCH_IDS = 1_000;

/** The JSON long poll on many ids at once. */
export function watchRoutes(app: AppContext): Route[] {
  const answer = async (ctx: RequestContext, ids: readonly string[], requestedMs: number | undefined, worker?: WorkerIdentity) => {
    // Setting up a watch on thousands of ids takes milliseconds: it takes its turn like any heavy work.
    if (ids.length >= BIG_WATCH_IDS) {
      await nextTurn();
      // A client that left meanwhile would never be seen leaving once the watch is held.
      if (ctx.req.socket.destroyed) return;
    }
    const timeoutMs = app.watches.timeoutFor(requestedMs);
    const result = await new Promise<WaitResult>((resolve) => app.watches.hold(ctx.res, ids, timeoutMs, worker, ctx.caller.tokenId, resolve));
    const reply: WatchReply = { cancelled: result.cancelled.map((r) => r.id), records: result.cancelled.map(recordToWire) };
    sendJson(ctx.res, 200, reply);
    app.watches.observeLatency(result);
  };
  return [
    {
      // 200 {"cancelled": [ids]} as soon as any watched id is cancelled; {"cancelled": []} at the timeout.
      method: 'GET',
      pattern: /^\/v1\/watch$/,
      right: 'watch',
      handle: async (ctx) => {
        const { ids, rest } = watchQueryIds(ctx.search);
        const query = parseInput(watchQuerySchema, { ...rest, ids });
        await answer(ctx, query.ids, query.timeout);
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/watch$/,
      right: 'watch',
      handle: async (ctx) => {
        const body = parseInput(watchRequestSchema, await readJson(ctx.req, app.options.maxBodyBytes));
        await answer(ctx, body.ids, body.timeout, body.worker);
      },
    },
  ];
}
