// /healthz is open to anyone: it says whether the store serves, and keeps the store's own error text
// (hosts, users, addresses) for callers with a token and for the log.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunningServer } from '../../src/server/listen.ts';
import { RedisStore } from '../../src/store/redis/redis-store.ts';
import { PrivateRedis, redisTestsEnabled } from '../helpers/redis-server.ts';
import { startTestServer } from '../helpers/server.ts';

const enabled = redisTestsEnabled();
let redis: PrivateRedis;
let server: RunningServer;
const logged: string[] = [];

test.before(async () => {
  if (!enabled) return;
  redis = await PrivateRedis.start();
  server = await startTestServer({
    store: await RedisStore.connect(redis.url),
    token: 's3cret',
    onBackgroundError: (e) => logged.push(String((e as Error).message)),
  });
  await redis.stop();
});
test.after(async () => {
  if (!enabled) return;
  await server.close();
});

test('a failing store: 503 for everyone, the error text only with a token, always in the log', async () => {
  const open = await fetch(`${server.url}/healthz`);
  assert.is(open.status, 503);
  const body = await open.json();
  assert.equal(body.store, { kind: 'redis', ok: false });
  assert.is(body.status, 'degraded');
  const authorized = await fetch(`${server.url}/healthz`, { headers: { authorization: 'Bearer s3cret' } });
  assert.is(authorized.status, 503);
  assert.is((await authorized.json()).store.error, 'redis unavailable: not connected (is Redis running and reachable?)');
  assert.ok(
    logged.some((line) => /redis unavailable/.test(line)),
    `logged: ${logged.join(' | ')}`,
  );
});

if (enabled) test.run();
