import type { MeReply } from '../../protocol/schemas.ts';
import type { AppContext } from '../app.ts';
import { ROLE_RIGHTS } from '../auth.ts';
import { sendJson } from '../http-io.ts';
import type { Route } from '../router.ts';

/** Who the caller is: what a client (the web page) asks first, to sign in and to know which controls to show. */
export function meRoutes(app: Pick<AppContext, 'options' | 'callerOf'>): Route[] {
  const tokensRequired = app.options.token !== undefined || app.options.tokens !== undefined;
  return [
    {
      // Open, so that asking without a token is a plain "sign in first" (200 without `caller`) rather than
      // a 401 a browser logs as an error; a token sent is checked as on any route (401 when wrong).
      method: 'GET',
      pattern: /^\/v1\/me$/,
      right: 'open',
      handle: (ctx) => {
        const reply: MeReply = { tokensRequired };
        if (!tokensRequired || ctx.req.headers.authorization !== undefined) {
          const caller = app.callerOf(ctx.req);
          reply.caller = {
            name: caller.name,
            role: caller.role,
            rights: [...ROLE_RIGHTS[caller.role]],
            ...(caller.scope ? { scope: [...caller.scope.patterns] } : {}),
          };
        }
        sendJson(ctx.res, 200, reply);
      },
    },
  ];
}
