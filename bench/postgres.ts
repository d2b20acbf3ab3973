// The shared stores, measured in one run so that their figures are ratios: durable cancels per second on
// PostgreSQL against sqlite, and cancel-to-watcher latency across two servers on PostgreSQL (listening, and
// poll-only with listen=off) against two on Redis. Needs PostgreSQL on 127.0.0.1:5432 (PGTEST_URL overrides,
// as in the tests) and redis-server; .ci/run provides both.
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import postgres from 'postgres';
import { PrivateRedis } from '../test/helpers/redis-server.ts';
import { PG_ADMIN_URL } from '../test/helpers/postgres.ts';
import { ask, quick, ratio, scratch, type Server, sleep, startClient, startServer } from './harness.ts';

interface Latency {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

/** Every figure, and the rows of the summary table. */
export async function postgresFigures(log: (line: string) => void): Promise<{ results: Record<string, unknown>; rows: string[][] }> {
  const database = `taskctl_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${database}`);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${database}`;
  const redis = await PrivateRedis.start();
  try {
    log('postgres: durable cancels, 64 concurrent, against sqlite');
    const onPostgres = await durableCancels(url.toString(), async (ids) => {
      const sql = postgres(url.toString(), { max: 1 });
      const rows = await sql<Array<{ id: string }>>`SELECT id FROM taskctl.cancels WHERE id = ANY(${ids}::text[])`;
      await sql.end();
      return rows.length;
    });
    const sqlitePath = join(scratch, 'pg-compare.db');
    const onSqlite = await durableCancels(`sqlite:${sqlitePath}`, async (ids) => {
      const db = new DatabaseSync(sqlitePath, { readOnly: true });
      const stored = new Set((db.prepare('SELECT id FROM cancels').all() as Array<{ id: string }>).map((r) => r.id));
      db.close();
      return ids.filter((id) => stored.has(id)).length;
    });

    const samples = quick ? 100 : 400;
    log(`postgres: cancel on B -> watcher on A, ${samples} cancels one at a time, against Redis`);
    const pgLatency = await acrossServers(url.toString(), samples);
    const redisLatency = await acrossServers(redis.url, samples);
    log('postgres: the same with listen=off (poll-only, as behind PgBouncer in transaction mode)');
    const polled = await acrossServers(`${url}?listen=off`, quick ? 20 : 50);

    const results = {
      durableCancels: { postgres: onPostgres, sqlite: onSqlite, postgresToSqlite: ratio(onPostgres.perSecond, onSqlite.perSecond) },
      acrossTwoServers: {
        postgres: pgLatency,
        redis: redisLatency,
        p50PostgresToRedis: ratio(pgLatency.p50, redisLatency.p50),
        p99PostgresToRedis: ratio(pgLatency.p99, redisLatency.p99),
        pollOnly: polled,
      },
    };
    const rows = [
      [
        'postgres',
        'durable cancels, 64 concurrent',
        `${onPostgres.perSecond}/s (${onPostgres.acknowledgedStored} of ${onPostgres.requests} stored); sqlite ${onSqlite.perSecond}/s`,
        `ratio ${results.durableCancels.postgresToSqlite}`,
      ],
      [
        'postgres',
        'cancel on B -> watcher on A',
        `p50 ${pgLatency.p50} p99 ${pgLatency.p99} ms; Redis p50 ${redisLatency.p50} p99 ${redisLatency.p99} ms`,
        `ratio p50 ${results.acrossTwoServers.p50PostgresToRedis}, p99 ${results.acrossTwoServers.p99PostgresToRedis}`,
      ],
      ['postgres', 'the same, listen=off (polls every 1s)', `p50 ${polled.p50} p99 ${polled.p99} max ${polled.max} ms`, ''],
    ];
    return { results, rows };
  } finally {
    await redis.stop();
    await admin.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
}

/** Cancels from 64 concurrent loops for a few seconds; each acknowledged one is then looked for in the store. */
async function durableCancels(store: string, countStored: (ids: string[]) => Promise<number>) {
  const server = await startServer(store);
  const client = startClient();
  const result = await ask<{ perSecond: number; requests: number; failed: number; acknowledged?: string[] }>(client, {
    kind: 'throughput',
    url: server.url,
    what: 'cancel',
    concurrency: 64,
    durationMs: quick ? 2_000 : 5_000,
    idPrefix: `pg-${randomBytes(3).toString('hex')}`,
  });
  client.kill();
  await server.stop();
  const acknowledged = result.acknowledged ?? [];
  return { perSecond: result.perSecond, requests: result.requests, failed: result.failed, acknowledgedStored: await countStored(acknowledged) };
}

/**
 * Two servers on `store`: `samples` per-id watches held on A, then each id cancelled on B one at a time;
 * the time from sending a cancel to its watch being answered.
 */
async function acrossServers(store: string, samples: number): Promise<Latency> {
  const servers: Server[] = [await startServer(store), await startServer(store)];
  const [a, b] = servers as [Server, Server];
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  try {
    const prefix = `x${randomBytes(3).toString('hex')}`;
    const ids = Array.from({ length: samples }, (_, i) => `${prefix}-${i}`);
    const answered = new Map<string, Promise<number>>();
    for (const id of ids) {
      answered.set(
        id,
        new Promise((resolve, reject) => {
          const req = request(`${a.url}/watch-task/${id}`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(performance.now()));
          });
          req.on('error', reject);
          req.end();
        }),
      );
    }
    await waitForOpenWatches(a.url, samples);
    const latencies: number[] = [];
    for (const id of ids) {
      const sentAt = performance.now();
      const status = await post(`${b.url}/v1/tasks/${id}/cancel`, agent);
      if (status !== 200) throw new Error(`cancel ${id} on B: HTTP ${status}`);
      latencies.push((await answered.get(id)!) - sentAt);
    }
    latencies.sort((x, y) => x - y);
    const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 10) / 10;
    return { samples, p50: at(0.5), p99: at(0.99), max: at(1) };
  } finally {
    agent.destroy();
    await Promise.all(servers.map((server) => server.stop()));
  }
}

async function waitForOpenWatches(url: string, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { openWatches } = (await (await fetch(`${url}/healthz`)).json()) as { openWatches: number };
    if (openWatches >= n) return;
    if (Date.now() > deadline) throw new Error(`only ${openWatches} of ${n} watches opened`);
    await sleep(20);
  }
}

function post(url: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': 2 } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end('{}');
  });
}
