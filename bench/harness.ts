// What every bench scenario is built from: the built binary as the server, load generators and the ping
// probe in processes of their own, and readings from /proc. Nothing here measures anything by itself.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBinary } from '../test/helpers/binary.ts';
import type { Scenario } from './load-client.ts';

export const quick = process.argv.includes('--quick');
const here = fileURLToPath(new URL('.', import.meta.url));
export const binary = ensureBinary();
export const scratch = mkdtempSync(join(tmpdir(), 'taskctl-bench-'));
/** The Node that package.json pins: the baselines (bare node:http, node -e 0) run on it. */
export const pinnedNode = join(here, '..', 'node_modules', 'node', 'bin', 'node');
/** taskctl's version, which the bare server names in its answers as taskctl does. */
export const version = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')).version as string;

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
/** `a / b` to two decimals: how the bench states every ratio. */
export const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

export interface Server {
  url: string;
  pid: number;
  process: ChildProcess;
  stop(): Promise<void> /** What it logged so far (--json lines); taskctl servers only. */;
  log?(): string;
}

// Whatever happens to the bench, it leaves no server or client running.
const children = new Set<ChildProcess>();
process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));

/**
 * `taskctl serve` on a free port with `store`; `options` (flag -> value) replace the bench's defaults;
 * `env` is added to the environment (the switches of a same-run comparison).
 */
export async function startServer(store: string, options: Record<string, string> = {}, env: Record<string, string> = {}): Promise<Server> {
  const flags = {
    '--port': '0',
    '--store': store,
    '--watch-timeout': '5m',
    '--max-watches': '1000000',
    '--max-connections': String(maxConnections()),
    ...options,
  };
  const args = ['serve', ...Object.entries(flags).flat(), '--json', '--no-tui'];
  return serverFrom(track(spawn(binary, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })), 'server');
}

/** The server `child` runs, once it has printed its {"url": ...} line on stdout (within `timeoutMs`). */
export async function serverFrom(child: ChildProcess, what: string, timeoutMs = 10_000): Promise<Server> {
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + timeoutMs;
  while (!/"url":"([^"]+)"/.test(output)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${what} did not start: ${output}`);
    await sleep(5);
  }
  return {
    url: /"url":"([^"]+)"/.exec(output)![1]!,
    pid: child.pid!,
    process: child,
    log: () => output,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

export function startClient(): ChildProcess {
  return track(fork(join(here, 'load-client.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
}

export interface ProbeStats {
  count: number;
  p50: number;
  p99: number;
  max: number;
  overMs: Record<string, number>;
}

/** A process that pings `url` every `intervalMs`; `mark()` returns the figures since the last mark. */
export async function startProbe(url: string, intervalMs = 10): Promise<{ mark(): Promise<ProbeStats>; stop(): Promise<ProbeStats> }> {
  const probe = track(fork(join(here, 'ping-probe.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const next = <T>(key: string) =>
    new Promise<T>((resolve) => {
      const onMessage = (message: Record<string, unknown>) => {
        if (!(key in message)) return;
        probe.off('message', onMessage);
        resolve(message[key] as T);
      };
      probe.on('message', onMessage);
    });
  const started = next('started');
  probe.send({ start: { url, intervalMs } });
  await started;
  return {
    mark: () => {
      const stats = next<ProbeStats>('stats');
      probe.send({ mark: true });
      return stats;
    },
    stop: async () => {
      const stats = next<ProbeStats>('stats');
      probe.send({ stop: true });
      const result = await stats;
      probe.kill();
      return result;
    },
  };
}

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs `scenario` on the load client; `onOpened` runs when it says its connections are open, before "go". */
export function ask<T>(client: ChildProcess, scenario: Scenario, onOpened?: () => Promise<void>): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = async (message: { opened?: boolean; result?: T; error?: string }) => {
      if (message.opened) {
        await onOpened?.();
        client.send({ go: true });
      } else if (message.error) {
        client.off('message', onMessage);
        reject(new Error(message.error));
      } else if (message.result) {
        client.off('message', onMessage);
        resolve(message.result);
      }
    };
    client.on('message', onMessage);
    client.send({ scenario });
  });
}

/** As many connections as a process here may hold, leaving a few descriptors for everything else. */
export function maxConnections(): number {
  const soft = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]);
  return soft > 0 ? soft - 100 : 10_000;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
export const cpuTicks = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
};
export const sockets = (pid: number) =>
  readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
/** Bytes of a SQLite store on disk: the file and its write-ahead log. */
export const sqliteBytes = (path: string) =>
  [path, `${path}-wal`].reduce((sum, file) => {
    try {
      return sum + statSync(file).size;
    } catch {
      return sum;
    }
  }, 0);
/** A number from the server's /metrics. */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
}
