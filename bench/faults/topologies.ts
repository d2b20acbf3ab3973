// The topologies a fault run covers. Each is a store the servers share and the faults that store can
// suffer; adding one (a new store) is one more entry in TOPOLOGIES.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'postgres';
import { PrivatePostgres } from '../../test/helpers/postgres.ts';
import { freePort } from '../../test/helpers/tcp-proxy.ts';
import type { StoreFaultKind, TopologyShape } from './plan.ts';
import { killWithTheRest, RedisProcess, serveAccepts } from './processes.ts';

/** A store opened for one topology's run. */
export interface OpenStore {
  /** What the servers are given as `--store`. */
  readonly store: string;
  /** Breaks the store; resolves with what heals it. */
  breakWith(kind: StoreFaultKind): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface Topology extends TopologyShape {
  /** Why it cannot run on this machine or with this binary, or undefined when it can. */
  unavailable(taskctl: readonly string[]): string | undefined;
  open(scratch: string): Promise<OpenStore>;
}

const healed = async () => {};

const sqlite: Topology = {
  name: 'sqlite',
  servers: 1,
  storeFaults: [],
  unavailable: () => undefined,
  open: async (scratch) => ({
    store: `sqlite:${join(scratch, 'taskctl.db')}`,
    breakWith: (kind) => Promise.reject(new Error(`sqlite has no ${kind}`)),
    close: healed,
  }),
};

const redis: Topology = {
  name: 'redis',
  servers: 2,
  storeFaults: ['redis-restart', 'pubsub-kill'],
  unavailable: () => {
    if (spawnSync('redis-server', ['--version']).status === 0) return undefined;
    // As in the tests: CI installs redis-server, so there its absence is a failure, never a skip.
    if (process.env.CI) throw new Error('redis-server is not installed, and CI must run the Redis topology');
    return 'redis-server is not installed';
  },
  open: async (scratch) => {
    const dir = join(scratch, 'redis');
    mkdirSync(dir, { recursive: true });
    const server = new RedisProcess(await freePort(), dir);
    await server.start();
    return {
      store: server.url,
      breakWith: async (kind) => {
        if (kind === 'pubsub-kill') {
          // Every server's subscription is cut; each must resubscribe and look its held ids up again.
          await server.command('CLIENT KILL TYPE pubsub');
          return healed;
        }
        await server.kill();
        return () => server.start();
      },
      close: () => server.kill(),
    };
  },
};

// A PostgreSQL of the run's own (initdb in a temporary folder, a free port), like the Redis above: the
// shared one on 5432 is other people's too, and this one is restarted. It runs without fsync: a restart
// here is PostgreSQL's crash, not the machine's, so what it committed is still in the OS's cache. Skipped, with the reason, by a taskctl
// without the PostgreSQL store (an older checkout) or where PostgreSQL's server is not installed.
const postgres: Topology = {
  name: 'postgres',
  servers: 2,
  storeFaults: ['pg-kill-connections'],
  addedStoreFaults: ['pg-restart'],
  unavailable: (taskctl) => {
    if (!serveAccepts(taskctl, 'postgres')) return 'this taskctl has no PostgreSQL store';
    if (!PrivatePostgres.binaries()) return "PostgreSQL's server is not installed (no initdb under /usr/lib/postgresql)";
    return undefined;
  },
  open: async () => {
    // Its cluster goes in a temporary folder of its own, not the scratch dir: PostgreSQL runs as the
    // postgres user, who cannot enter the scratch dir. Room for two servers' pools (10 each and a
    // listening connection) and for a killed server's connections PostgreSQL has not yet seen gone.
    const server = await PrivatePostgres.start(undefined, { maxConnections: 100 });
    const forget = killWithTheRest(() => server.killNow());
    return {
      store: server.url(),
      breakWith: async (kind) => {
        if (kind === 'pg-kill-connections') {
          // Every taskctl connection (each server's pool and its LISTEN) is ended, as a DBA or a failover would.
          const sql = pg(server.url(), { max: 1, onnotice: () => {} });
          try {
            await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'taskctl%'`;
          } finally {
            await sql.end({ timeout: 1 });
          }
          return healed;
        }
        // pg_ctl stop -m immediate: a crash; the start after it recovers from the WAL.
        await server.stopImmediately();
        return () => server.startAgain();
      },
      close: async () => {
        forget();
        await server.stop();
      },
    };
  },
};

/** Every topology, in the order a run takes them. */
export const TOPOLOGIES: readonly Topology[] = [sqlite, redis, postgres];
