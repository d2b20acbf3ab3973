import type { CancelStore } from '../core/store.ts';
import { InvalidInputError, preview } from '../core/task-id.ts';
import { MemoryStore } from './memory-store.ts';
import { lockStoreFile } from './file-lock.ts';
import { SqliteStore } from './sqlite-store.ts';

/**
 * Opens the store a `--store` value names: `memory`, `sqlite:PATH` or `redis://…` / `rediss://…`. A sqlite
 * file is this process's alone until the store closes (see file-lock.ts).
 */
export async function openStore(spec: string, options: { redisKeyPrefix?: string | undefined; retentionMs?: number } = {}): Promise<CancelStore> {
  if (spec === 'memory') return new MemoryStore();
  if (/^rediss?:\/\//.test(spec)) {
    // Loaded only for Redis: most servers never need the client.
    const { RedisStore } = await import('./redis-store.ts');
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
  throw new InvalidInputError(`unknown store ${preview(spec)}: use sqlite:PATH, memory, or redis://[user:pass@]HOST:PORT/DB`);
}
