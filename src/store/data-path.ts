import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where the embedded store lives unless told otherwise: the platform's per-user data folder. */
export function defaultSqlitePath(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.TASKCTL_DATA_DIR) return join(env.TASKCTL_DATA_DIR, 'taskctl.db');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'taskctl', 'taskctl.db');
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'taskctl', 'taskctl.db');
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'taskctl', 'taskctl.db');
}
