import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const BINARY = join(root, 'dist', 'taskctl');
// Test files run two at a time, and several build the binary: one builds while the others wait for it.
const LOCK = join(root, 'dist', '.build-lock');
const STALE_LOCK_MS = 180_000;

function newestSourceMtime(dir: string): number {
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const path = join(dir, entry.name);
      return entry.isDirectory() ? newestSourceMtime(path) : statSync(path).mtimeMs;
    }),
  );
}

function isStale(): boolean {
  const sources = Math.max(newestSourceMtime(join(root, 'src')), newestSourceMtime(join(root, 'build')), statSync(join(root, 'build.mjs')).mtimeMs);
  return !existsSync(BINARY) || statSync(BINARY).mtimeMs < sources;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Takes the build lock (a folder: mkdir is atomic), waiting while another process holds it. */
function lock(): void {
  mkdirSync(join(root, 'dist'), { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A build killed half-way leaves its lock behind; one older than any build can take is taken over.
      const takenAt = statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs;
      if (takenAt !== undefined && Date.now() - takenAt > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
      sleepSync(200);
    }
  }
}

/** The built executable, rebuilt first when any source is newer than it. */
export function ensureBinary(): string {
  if (!isStale()) return BINARY;
  lock();
  try {
    // Another process may have built it while this one waited.
    if (isStale()) execFileSync(process.execPath, [join(root, 'build.mjs'), '--quiet'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
  return BINARY;
}
