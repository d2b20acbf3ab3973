import type { WaitResult } from '../../core/canceler.ts';
import { taskIdProblem } from '../../core/task-id.ts';
import { HttpError } from '../../protocol/errors.ts';
import type { AppContext } from '../app.ts';
import { type Reply, sendText } from '../http-io.ts';
import type { RequestContext, Route } from '../router.ts';

/**
 * The task id in the first path segment; 400 invalid_task_id when it breaks the id rules. The rule is
 * asked directly rather than through a schema: it runs on every watch and cancel.
 */
export function taskIdParam(ctx: RequestContext): string {
  const id = ctx.params[0] ?? '';
  const problem = taskIdProblem(id);
  if (problem) throw new HttpError('invalid_task_id', problem);
  return id;
}

/** The seed article's routes, answering exactly as its workers expect (text bodies). */
export function seedRoutes(app: Pick<AppContext, 'tasks' | 'watches' | 'options' | 'sourceOf'>): Route[] {
  // One answer for every held watch, handed its response: a function (and the scope it keeps) per watch
  // would be held as long as the watch, thousands at once.
  const answerWatch = (result: WaitResult, reply: Reply) => {
    sendText(reply, 200, result.cancelled.length > 0 ? 'true' : 'false');
    app.watches.observeLatency(result);
  };
  return [
    {
      // 200 text "ok" once the cancel is stored.
      method: 'GET',
      pattern: /^\/cancel-task\/([^/]+)$/,
      right: 'cancel',
      scope: 'path-id',
      handle: async (ctx) => {
        await app.tasks.cancel(taskIdParam(ctx), app.sourceOf(ctx, 'seed'));
        sendText(ctx.res, 200, 'ok');
      },
    },
    {
      // Text "true" when the id is cancelled, "false" when the server's watch timeout passed (or the server
      // is stopping): either way the worker simply asks again.
      method: 'GET',
      pattern: /^\/watch-task\/([^/]+)$/,
      right: 'watch',
      scope: 'path-id',
      // The answer goes to the reply hold() hands over, so a parked watch need not keep node's response.
      handle: (ctx) =>
        app.watches.hold(
          ctx.res,
          {
            ids: [taskIdParam(ctx)],
            timeoutMs: app.options.watchTimeoutMs,
            watcher: { token: ctx.caller.name },
            tokenId: ctx.caller.tokenId,
            answersReply: true,
          },
          answerWatch,
        ),
    },
  ];
}
