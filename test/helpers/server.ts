import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CancelStore } from '../../src/core/store.ts';
import { MAX_BODY_BYTES } from '../../src/protocol/limits.ts';
import { type RunningServer, type ServerConfig, startServer } from '../../src/server/listen.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';

/** A real taskctl server on a free loopback port, with a memory store unless one is given. */
export function startTestServer(overrides: Partial<ServerConfig> & { store?: CancelStore } = {}): Promise<RunningServer> {
  return startServer({
    host: '127.0.0.1',
    port: 0,
    store: overrides.store ?? new MemoryStore(),
    ttlMs: 60_000,
    watchTimeoutMs: 5_000,
    maxOpenWatches: 1_000,
    maxBodyBytes: MAX_BODY_BYTES,
    ...overrides,
  });
}

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempDir(prefix = 'taskctl-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Polls `condition` every 10 ms until it holds; fails after `timeoutMs`. Waits on state, never on time. */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
