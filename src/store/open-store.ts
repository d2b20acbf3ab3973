import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CancelStore } from '../core/store.ts';
import { InvalidInputError, preview } from '../core/task-id.ts';
import { MemoryStore } from './memory-store.ts';
import { SqliteStore } from './sqlite-store.ts';

/** Where the embedded store lives unless told otherwise: the platform's per-user data folder. */
export function defaultSqlitePath(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.TASKCTL_DATA_DIR) return join(env.TASKCTL_DATA_DIR, 'taskctl.db');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'taskctl', 'taskctl.db');
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'taskctl', 'taskctl.db');
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'taskctl', 'taskctl.db');
}

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
