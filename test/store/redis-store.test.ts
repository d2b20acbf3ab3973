import { Redis } from 'ioredis';
import * as assert from 'uvu/assert';
import { RedisStore } from '../../src/store/redis/redis-store.ts';
import { PrivateRedis, redisTestsEnabled } from '../helpers/redis-server.ts';
import { sharedStoreSuite } from './shared-store-suite.ts';
import { storeSuite } from './store-suite.ts';

const enabled = redisTestsEnabled();
let redis: PrivateRedis | undefined;
let prefixes = 0;

const test = storeSuite(
  'redis store',
  async () => {
    redis ??= await PrivateRedis.start();
    // A fresh prefix per test: records from one test never leak into the next.
    const prefix = `t${prefixes++}:`;
    const store = await RedisStore.connect(redis.url, { keyPrefix: prefix });
    const raw = new Redis(redis.url);
    return {
      store,
      raw: {
        status: async (id, state, body) =>
          void (await raw.multi().set(`${prefix}status:${id}`, body).zadd(`${prefix}tasks`, 0, id).zadd(`${prefix}state:${state}`, 0, id).exec()),
        event: async (body) => {
          const seq = await raw.incr(`${prefix}events-seq`);
          await raw.xadd(`${prefix}events`, `${seq}-0`, 't', 1, 'e', body);
        },
      },
      cleanup: async () => {
        raw.disconnect();
        await store.close();
      },
    };
  },
  { sweeps: false },
);

test('records expire in Redis itself after their TTL', async () => {
  const store = await RedisStore.connect(redis!.url, { keyPrefix: 'ttl:' });
  const now = Date.now();
  await store.insert({ id: 'short', cancelledAt: now, expiresAt: now + 100 }, now);
  assert.is(await redis!.command('EXISTS ttl:cancel:short'), ':1\r\n');
  const ttl = Number((await redis!.command('PTTL ttl:cancel:short')).slice(1));
  assert.ok(ttl > 0 && ttl <= 100, `pttl ${ttl}`);
  await store.close();
});

test('two prefixes on one Redis do not see each other', async () => {
  const a = await RedisStore.connect(redis!.url, { keyPrefix: 'team-a:' });
  const b = await RedisStore.connect(redis!.url, { keyPrefix: 'team-b:' });
  const now = Date.now();
  await a.insert({ id: 'shared-id', cancelledAt: now, expiresAt: now + 10_000 }, now);
  assert.is((await a.find(['shared-id'], now)).length, 1);
  assert.is((await b.find(['shared-id'], now)).length, 0);
  await a.close();
  await b.close();
});

test('an unreachable Redis is a clear error at connect time', async () => {
  try {
    await RedisStore.connect('redis://127.0.0.1:9', { connectTimeoutMs: 500 });
    assert.unreachable();
  } catch (error) {
    assert.match((error as Error).message, /cannot reach redis:\/\/127\.0\.0\.1:9/);
  }
});

const shared = sharedStoreSuite('redis store shared by two servers', async () => {
  redis ??= await PrivateRedis.start();
  const keyPrefix = `shared${prefixes++}:`;
  const [a, b] = await Promise.all([RedisStore.connect(redis.url, { keyPrefix }), RedisStore.connect(redis.url, { keyPrefix })]);
  return { a, b, cleanup: async () => void (await Promise.all([a.close(), b.close()])) };
});

shared.after(async () => {
  await redis?.stop();
});

if (enabled) {
  test.run();
  shared.run();
}
