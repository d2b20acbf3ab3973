import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { RunningServer, ServerConfig } from '../../src/server/listen.ts';
import { RedisStore } from '../../src/store/redis/redis-store.ts';
import { startTestServer } from './server.ts';
import { freePort } from './tcp-proxy.ts';

export const HAS_REDIS = spawnSync('redis-server', ['--version']).status === 0;

/**
 * Whether the Redis tests run. Without redis-server they are skipped, loudly; in CI (where .ci/run
 * installs it) its absence fails the run instead.
 */
export function redisTestsEnabled(): boolean {
  if (HAS_REDIS) return true;
  if (process.env.CI) throw new Error('redis-server is not installed, and CI must run the Redis tests');
  console.warn('SKIPPED: redis-server is not installed, so the Redis tests did not run');
  return false;
}

/** A private redis-server on a free port, started and stopped by the test (nothing kept on disk). */
export class PrivateRedis {
  #process: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (again) on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    this.#process = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const deadline = Date.now() + 5_000;
    while (!(await answersPing(this.port))) {
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${this.port}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Sends one command (inline protocol) and resolves with the raw reply. */
  command(line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.port, '127.0.0.1', () => socket.write(`${line}\r\n`));
      socket.once('data', (data) => {
        resolve(data.toString());
        socket.end();
      });
      socket.once('error', reject);
    });
  }

  async stop(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      resolve(data.toString().startsWith('+PONG'));
      socket.destroy();
    });
    socket.once('error', () => resolve(false));
  });
}

/** Servers on one private Redis, as several taskctl servers share one in production. */
export class SharedRedisServers {
  private constructor(
    readonly redis: PrivateRedis,
    readonly servers: RunningServer[],
  ) {}

  static async start(count: number, config: Partial<ServerConfig> = {}): Promise<SharedRedisServers> {
    const redis = await PrivateRedis.start();
    const servers: RunningServer[] = [];
    for (let i = 0; i < count; i++) servers.push(await startTestServer({ ...config, store: await RedisStore.connect(redis.url) }));
    return new SharedRedisServers(redis, servers);
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.close()));
    await this.redis.stop();
  }
}
