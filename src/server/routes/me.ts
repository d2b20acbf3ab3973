import type { MeReply } from '../../protocol/schemas.ts';
import type { AppContext } from '../app.ts';
import { ROLE_RIGHTS } from '../auth.ts';
import { sendJson } from '../http-io.ts';
import type { Route } from '../router.ts';

/** Who the caller is: what a client (the web page) asks to know which controls to show. */
export function meRoutes(app: AppContext): Route[] {
  const tokensRequired = app.options.token !== undefined || app.options.tokens !== undefined;
  return [
    {
      // 200 for any token the server accepts, 401 for a wrong or missing one: a sign-in check with no side effect.
      method: 'GET',
      pattern: /^\/v1\/me$/,
      right: 'signed-in',
      handle: (ctx) => {
        const reply: MeReply = { name: ctx.caller.name, role: ctx.caller.role, rights: [...ROLE_RIGHTS[ctx.caller.role]], tokensRequired };
        sendJson(ctx.res, 200, reply);
      },
    },
  ];
}
