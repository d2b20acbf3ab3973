// The topologies a fault run covers. Each is a store the servers share and the faults that store can
// suffer; adding one (a new store) is one more entry in TOPOLOGIES.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/tcp-proxy.ts';
import type { StoreFaultKind, TopologyShape } from './plan.ts';
import { RedisProcess, serveAccepts } from './processes.ts';

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

const PSQL = ['-h', '127.0.0.1', '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qAtc'];

// Skipped, with the reason, by a taskctl without the PostgreSQL store (an older checkout) or on a machine
// where no PostgreSQL answers as user postgres; CI starts one, so there it runs.
const postgres: Topology = {
  name: 'postgres',
  servers: 2,
  storeFaults: ['pg-kill-connections'],
  unavailable: (taskctl) => {
    if (!serveAccepts(taskctl, 'postgres')) return 'this taskctl has no PostgreSQL store';
    if (spawnSync('psql', [...PSQL, 'SELECT 1']).status !== 0) return 'no PostgreSQL answers on 127.0.0.1:5432 as user postgres';
    return undefined;
  },
  open: async () => {
    const database = `taskctl_faults_${process.pid}`;
    execFileSync('psql', [...PSQL, `CREATE DATABASE ${database}`]);
    return {
      store: `postgres://postgres@127.0.0.1:5432/${database}`,
      breakWith: async () => {
        execFileSync('psql', [...PSQL, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${database}' AND pid <> pg_backend_pid()`]);
        return healed;
      },
      close: async () => void execFileSync('psql', [...PSQL, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`]),
    };
  },
};

/** Every topology, in the order a run takes them. */
export const TOPOLOGIES: readonly Topology[] = [sqlite, redis, postgres];
