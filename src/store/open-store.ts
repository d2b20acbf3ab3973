import type { CancelStore } from '../core/store.ts';
import { InvalidInputError, preview } from '../core/task-id.ts';
import { MemoryStore } from './memory-store.ts';
import { SqliteStore } from './sqlite-store.ts';

/** Opens the store a `--store` value names: `memory`, `sqlite:PATH` or `redis://…`. */
export async function openStore(spec: string): Promise<CancelStore> {
  if (spec === 'memory') return new MemoryStore();
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length);
    if (!path) throw new InvalidInputError('--store sqlite: needs a file path, e.g. sqlite:./taskctl.db');
    try {
      return new SqliteStore(path);
    } catch (error) {
      throw new InvalidInputError(`cannot open ${spec}: ${(error as Error).message}`);
    }
  }
  throw new InvalidInputError(`unknown store ${preview(spec)}: use memory, sqlite:PATH or redis://HOST:PORT`);
}
