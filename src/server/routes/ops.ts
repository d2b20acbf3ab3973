import type { Clock, TimerHandle } from '../../core/clock.ts';
import type { HealthReply } from '../../protocol/schemas.ts';
import type { Registry } from 'prom-client';
import type { AppContext, StoreHealth } from '../app.ts';
import { sendJson, sendText } from '../http-io.ts';
import type { Route } from '../router.ts';

const HEALTH_CHECK_TIMEOUT_MS = 2_000;

/** Liveness, health and metrics: what load balancers and monitoring ask. */
export function opsRoutes(app: Pick<AppContext, 'clock' | 'watches' | 'mayRead' | 'onBackgroundError'>, store: StoreHealth, metrics: Registry): Route[] {
  return [
    {
      method: 'GET',
      pattern: /^\/ping$/,
      right: 'open',
      handle: async (ctx) => sendJson(ctx.res, 200, { message: 'pong' }),
    },
    {
      // 200 when the store answers, 503 when it does not. Open to all, so the store's own error text (which
      // can name hosts and users) is shown only to a caller with a valid token; it always goes to the log.
      method: 'GET',
      pattern: /^\/healthz$/,
      right: 'open',
      handle: async (ctx) => {
        let error: string | undefined;
        try {
          await withTimeout(app.clock, store.check(), HEALTH_CHECK_TIMEOUT_MS, `the store did not answer within ${HEALTH_CHECK_TIMEOUT_MS / 1_000}s`);
        } catch (e) {
          error = (e as Error)?.message ?? String(e);
          app.onBackgroundError(e);
        }
        const reply: HealthReply = {
          status: error ? 'degraded' : 'ok',
          store: { kind: store.description.split(':')[0]!, ok: !error, ...(error && app.mayRead(ctx.req) ? { error } : {}) },
          openWatches: app.watches.open,
        };
        sendJson(ctx.res, error ? 503 : 200, reply);
      },
    },
    {
      method: 'GET',
      pattern: /^\/metrics$/,
      right: 'metrics',
      handle: async (ctx) => sendText(ctx.res, 200, await metrics.metrics(), metrics.contentType),
    },
  ];
}

function withTimeout<T>(clock: Clock, promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: TimerHandle | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clock.clearTimer(timer!));
}
