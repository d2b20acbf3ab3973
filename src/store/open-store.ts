import type { CancelStore } from '../core/store.ts';
import { InvalidInputError, preview } from '../core/task-id.ts';
import { MemoryStore } from './memory-store.ts';
import { lockStoreFile } from './file-lock.ts';
import { isPostgresSpec, parsePostgresSpec } from './postgres/url.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';

export interface OpenStoreOptions {
  readonly redisKeyPrefix?: string | undefined;
  readonly retentionMs?: number;
  /** The PostgreSQL schema taskctl's tables live in. */
  readonly pgSchema?: string | undefined;
  /** Connections to PostgreSQL for queries. */
  readonly pgPoolSize?: number | undefined;
}

/**
 * Opens the store a `--store` value names: `memory`, `sqlite:PATH`, `redis://…` / `rediss://…` or
 * `postgres://…` / `postgresql://…`. A sqlite file is this process's alone until the store closes (see
 * file-lock.ts).
 */
export async function openStore(spec: string, options: OpenStoreOptions = {}): Promise<CancelStore> {
  if (spec === 'memory') return new MemoryStore();
  if (isPostgresSpec(spec)) {
    // Checked before anything loads, so a bad URL is a usage error rather than "unavailable".
    parsePostgresSpec(spec);
    // Loaded only for PostgreSQL: most servers never need the client.
    const { PostgresStore } = await import('./postgres/postgres-store.ts');
    return PostgresStore.connect(spec, {
      ...(options.pgSchema === undefined ? {} : { schema: options.pgSchema }),
      ...(options.pgPoolSize === undefined ? {} : { poolSize: options.pgPoolSize }),
    });
  }
  if (/^rediss?:\/\//.test(spec)) {
    // Loaded only for Redis: most servers never need the client.
    const { RedisStore } = await import('./redis/redis-store.ts');
    return RedisStore.connect(spec, {
      ...(options.redisKeyPrefix === undefined ? {} : { keyPrefix: options.redisKeyPrefix }),
      // Redis expires a status on its own well after retention would have forgotten it: a backstop for
      // when no server runs the retention sweep.
      ...(options.retentionMs === undefined ? {} : { statusExpiryMs: 2 * options.retentionMs }),
    });
  }
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length);
    if (!path) throw new InvalidInputError('--store sqlite: needs a file path, e.g. sqlite:./taskctl.db');
    // The lock first: a second server must not even open (and perhaps rebuild) a file another one uses.
    const unlock = path === ':memory:' ? () => {} : lockStoreFile(path, spec);
    try {
      return new SqliteStore(path, { onClose: unlock });
    } catch (error) {
      unlock();
      throw new InvalidInputError(`cannot open ${spec}: ${(error as Error).message}`);
    }
  }
  throw new InvalidInputError(`unknown store ${preview(spec)}: use sqlite:PATH, memory, redis://[user:pass@]HOST:PORT/DB or postgres://USER:PASS@HOST:PORT/DB`);
}
