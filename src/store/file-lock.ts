// One server per sqlite file. Two would each keep their own waiters and hear of the other's cancels only
// when a watch re-polls (29 s once, in a trial), so the second is refused at start instead.
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { StoreUnavailableError } from '../core/store.ts';

/**
 * Takes `path`.lock for this process, or throws StoreUnavailableError naming the file and the process that
 * holds it. A lock left by a process that is gone (killed with -9, say) is taken over. Returns the
 * function that gives it back.
 */
export function lockStoreFile(path: string, description: string): () => void {
  const lockPath = `${path}.lock`;
  const mine = `${process.pid} ${hostname()}\n`;
  // The lock is taken before the store opens, so on a first start its folder (the data dir) is made here.
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, mine);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(lockPath, 'utf8') === mine) unlinkSync(lockPath);
        } catch {
          // Already gone.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw lockError(error, lockPath, description);
      const holder = readHolder(lockPath);
      if (holder && holder.host === hostname() && isAlive(holder.pid)) {
        throw new StoreUnavailableError(
          `${description} is in use by another taskctl server (pid ${holder.pid}); two servers on one sqlite file would not hear each other's cancels: stop it, or give this one its own --store (servers share Redis or PostgreSQL)`,
        );
      }
      if (holder && holder.host !== hostname()) {
        throw new StoreUnavailableError(
          `${description} is in use by a taskctl server on ${holder.host} (pid ${holder.pid}), by its lock file ${lockPath}; if that server is gone, remove the file`,
        );
      }
      // Left by a process that is gone: taken over.
      try {
        unlinkSync(lockPath);
      } catch {
        // Another starting server took it over first; the next attempt says so.
      }
    }
  }
}

function readHolder(lockPath: string): { pid: number; host: string } | undefined {
  try {
    const [pid, host] = readFileSync(lockPath, 'utf8').trim().split(' ');
    return Number.isInteger(Number(pid)) && host ? { pid: Number(pid), host } : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockError(error: unknown, lockPath: string, description: string): StoreUnavailableError {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EEXIST'
    ? new StoreUnavailableError(`${description} is being opened by another taskctl server (lock file ${lockPath})`)
    : new StoreUnavailableError(`cannot lock ${description} (${lockPath}): ${code ?? (error as Error).message}`);
}
