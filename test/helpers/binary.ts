import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const BINARY = join(root, 'dist', 'taskctl');

function newestSourceMtime(dir: string): number {
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const path = join(dir, entry.name);
      return entry.isDirectory() ? newestSourceMtime(path) : statSync(path).mtimeMs;
    }),
  );
}

/** The built executable, rebuilt first when any source is newer than it. */
export function ensureBinary(): string {
  const sources = Math.max(newestSourceMtime(join(root, 'src')), statSync(join(root, 'build.mjs')).mtimeMs);
  if (!existsSync(BINARY) || statSync(BINARY).mtimeMs < sources) {
    execFileSync(process.execPath, [join(root, 'build.mjs'), '--quiet'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return BINARY;
}
