import type { WaitResult } from '../../core/canceler.ts';
import type { WorkerIdentity } from '../../core/task-status.ts';
import { nextTurn } from '../../core/turns.ts';
import { type WatchReply, watchQuerySchema, watchRequestSchema, watchSessionRequestSchema } from '../../protocol/schemas.ts';
import { recordToWire } from '../../protocol/wire.ts';
import type { AppContext } from '../app.ts';
import { checkScope } from '../auth.ts';
import { readJson, sendJson } from '../http-io.ts';
import { decodeQueryPart, parseInput, queryPairs, type RequestContext, type Route, refuseRepeated } from '../router.ts';
import type { SessionResult } from '../watches.ts';

/**
 * The `ids` (and `parents`) of a GET watch: the parameter may repeat, and each value is a comma-separated
 * list. Values are split on their literal commas before they are percent-decoded, so an id holding a comma
 * travels as %2C. Any other parameter appears once (400 otherwise, as on every route: see queryObject).
 */
export function watchQueryIds(search: string): { ids: string[]; parents?: string[]; rest: Record<string, string> } {
  const ids: string[] = [];
  let parents: string[] | undefined;
  const others = new Map<string, string[]>();
  for (const [key, value] of queryPairs(search)) {
    if (key === 'ids') ids.push(...value.split(',').map(decodeQueryPart));
    else if (key === 'parents') (parents ??= []).push(...value.split(',').map(decodeQueryPart));
    else {
      const given = others.get(key);
      if (given) given.push(decodeQueryPart(value));
      else others.set(key, [decodeQueryPart(value)]);
    }
  }
  refuseRepeated(others);
  // Own properties, even for a key such as __proto__.
  const rest = Object.fromEntries([...others].map(([key, [value]]) => [key, value!]));
  return parents === undefined ? { ids, rest } : { ids, parents, rest };
}

// A watch on this many ids or more is heavy work (see nextTurn).
const BIG_WATCH_IDS = 1_000;

/** The JSON long poll on many ids at once. */
export function watchRoutes(app: Pick<AppContext, 'tasks' | 'watches' | 'options' | 'onBackgroundError' | 'linkerOf'>): Route[] {
  const { tasks } = app;
  const reply = (ctx: RequestContext, result: SessionResult, stopped: readonly string[], session?: string) => {
    // As the caller's scope may read it: a stop through an ancestor it does not cover names nothing of it.
    const answer = tasks.answerFor(result, stopped, ctx.caller.scope);
    const body: WatchReply = {
      cancelled: [...answer.cancelled],
      records: answer.records.map(recordToWire),
      ...(answer.parent ? { parent: recordToWire(answer.parent) } : {}),
      ...(session ? { session } : {}),
    };
    sendJson(ctx.res, 200, body);
    app.watches.observeLatency(result);
  };

  /** A poll of a watch session: what changed goes in, what was cancelled since the last poll comes out. */
  const poll = (ctx: RequestContext, session: string, remove: readonly string[], requestedMs: number | undefined) =>
    new Promise<void>((resolve) => {
      app.watches.pollSession(session, ctx.caller.tokenId, remove, ctx.res, app.watches.timeoutFor(requestedMs), (result) => {
        // Found at the session's start, not woken: an ancestor cancelled before these ids were watched.
        const answered = tasks.watchAnswered(result.stopped ?? [], result, app.linkerOf(ctx));
        reply(ctx, answered, result.stopped ?? [], session);
        resolve();
      });
    });

  const answer = async (
    ctx: RequestContext,
    ids: readonly string[],
    requestedMs: number | undefined,
    worker?: WorkerIdentity,
    parents?: readonly string[],
    keep = false,
    replaces?: string,
  ) => {
    // Whose token runs what it starts (runBy): the server's word, whatever the worker sent.
    const watcher = { worker, token: ctx.caller.name };
    // Refused whole, before anything changes: a link may only join tasks the scope covers, child and parent.
    checkScope(ctx.caller, ids);
    if (parents) checkScope(ctx.caller, parents);
    // The worker's old session ends first, so its ids are not counted twice against the cap.
    if (replaces !== undefined) app.watches.endSession(replaces, ctx.caller.tokenId);
    // Setting up a watch on thousands of ids takes milliseconds: it takes its turn like any heavy work.
    if (ids.length >= BIG_WATCH_IDS) {
      await nextTurn();
      // A client that left meanwhile would never be seen leaving once the watch is held.
      if (ctx.req.socket.destroyed) return;
    }
    // Timeout 0 is a look, not a wait: what is cancelled now (the ids, or an ancestor), answered at once
    // and never held. A worker asks it before starting its commands, so a cancelled task never runs.
    if (requestedMs === 0) {
      // Its links are declared (and recorded) as the watch's would be, so the watch that follows changes none.
      return reply(ctx, await tasks.look(ids, parents, app.linkerOf(ctx), ctx.caller.scope), ids);
    }
    const timeoutMs = app.watches.timeoutFor(requestedMs);
    const { ancestors, changed } = await tasks.declareParents(ids, parents, ctx.caller.scope, app.linkerOf(ctx));
    // Asked for, and worth it: the ids stay here as a session, and every later poll goes through it. This
    // watch is answered at once with its name (as BOSH answers the request that makes a session), so the
    // worker holds its two polls from the start; a cancel already known waits for the first of them.
    const session = keep ? app.watches.openSession(ids, ancestors, watcher, ctx.caller.tokenId) : undefined;
    if (session !== undefined) {
      tasks.link(changed, parents ?? [], ctx.caller.scope, app.linkerOf(ctx)).catch(app.onBackgroundError);
      return reply(ctx, { cancelled: [] }, [], session);
    }
    const result = await new Promise<WaitResult>((resolve) => {
      app.watches.hold(ctx.res, { ids, timeoutMs, watcher, tokenId: ctx.caller.tokenId, ancestors }, resolve);
      // Links are recorded once the watch is held, after the statuses it writes and in the background like them.
      tasks.link(changed, parents ?? [], ctx.caller.scope, app.linkerOf(ctx)).catch(app.onBackgroundError);
    });
    // Answered at once through an ancestor cancelled before the watch: these ids started after that cancel,
    // so its walk down the tree did not know them (the parent rule, in TaskService.watchAnswered).
    const answered = tasks.watchAnswered(ids, result, app.linkerOf(ctx));
    // An ancestor's cancel stops every id: all are listed, with the ancestor's one record for those without
    // their own. Thousands of them take their turn to be written.
    if (result.parent && ids.length >= BIG_WATCH_IDS) await nextTurn();
    reply(ctx, answered, ids);
  };
  return [
    {
      // 200 {"cancelled": [ids]} as soon as any watched id is cancelled; {"cancelled": []} at the timeout
      // (at once for timeout=0: a look without waiting).
      method: 'GET',
      pattern: /^\/v1\/watch$/,
      right: 'watch',
      handle: async (ctx) => {
        const { ids, parents, rest } = watchQueryIds(ctx.search);
        const query = parseInput(watchQuerySchema, { ...rest, ids, ...(parents ? { parents } : {}) });
        await answer(ctx, query.ids, query.timeout, undefined, query.parents);
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/watch$/,
      right: 'watch',
      handle: async (ctx) => {
        const json = await readJson(ctx.req, app.options.maxBodyBytes);
        if (typeof json === 'object' && json !== null && 'session' in json) {
          const body = parseInput(watchSessionRequestSchema, json);
          await poll(ctx, body.session, body.remove ?? [], body.timeout);
          return;
        }
        const body = parseInput(watchRequestSchema, json);
        await answer(ctx, body.ids, body.timeout, body.worker, body.parents, body.keep === true, body.replaces);
      },
    },
  ];
}
