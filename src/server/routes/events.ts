import { progressText } from '../../core/progress.ts';
import { eventSeqSchema, eventsQuerySchema, progressRequestSchema } from '../../protocol/events.ts';
import type { AppContext } from '../app.ts';
import { checkScope } from '../auth.ts';
import type { EventStreams } from '../event-streams.ts';
import { readJson, sendJson } from '../http-io.ts';
import { parseInput, type Route } from '../router.ts';
import { watchQueryIds } from './watch.ts';

/** The event stream and the progress workers report: the family of live task changes. */
export function eventRoutes(app: Pick<AppContext, 'tasks' | 'options'>, streams: EventStreams): Route[] {
  return [
    {
      // Server-Sent Events: one `task` event per change, with a strictly increasing id; a `reset` event when
      // the client resumes from before the kept window (it should list again). Reading it is listing tasks.
      method: 'GET',
      pattern: /^\/v1\/events$/,
      right: 'list',
      handle: async (ctx) => {
        const { ids, rest } = watchQueryIds(ctx.search);
        const query = parseInput(eventsQuerySchema, { ...rest, ...(ids.length > 0 ? { ids } : {}) });
        // What a reconnecting EventSource sends wins over the ?since= of the URL it first opened.
        const header = ctx.req.headers['last-event-id'];
        const since = header !== undefined && header !== '' ? parseInput(eventSeqSchema, header) : query.since;
        // A scoped token's stream leaves other tasks out, on a resume's replay as live.
        const filter = { ids: query.ids && new Set(query.ids), states: query.state && new Set(query.state), scope: ctx.caller.scope };
        await streams.serve(ctx.res, filter, since, ctx.caller.tokenId);
      },
    },
    {
      // 202 once noted: each task's latest line is written (and sent as a `progress` event) within a few
      // seconds, at most once per task per interval however often it comes.
      method: 'POST',
      pattern: /^\/v1\/progress$/,
      right: 'report',
      handle: async (ctx) => {
        const body = parseInput(progressRequestSchema, await readJson(ctx.req, app.options.maxBodyBytes));
        checkScope(
          ctx.caller,
          body.updates.map((update) => update.id),
        );
        const updates = body.updates.flatMap(({ id, text }) => {
          // Cleaned again here: a worker's token is no reason to trust its bytes.
          const clean = progressText(text);
          return clean === undefined ? [] : [{ id, text: clean }];
        });
        app.tasks.progressed(updates);
        sendJson(ctx.res, 202, { accepted: updates.length });
      },
    },
  ];
}
