// The real processes a fault run starts (taskctl servers and workers, redis-server, PostgreSQL), each ended by its pid
// whatever ends the run: its end, a failure, Ctrl-C.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, createWriteStream, existsSync, openSync, readdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** The Node that package.json pins (parking is done on Node 24 only, as the binary ships it). */
const pinnedNode = join(root, 'node_modules', 'node', 'bin', 'node');

const children = new Set<ChildProcess>();
/**
 * How long a process may take to start (a server to answer /healthz, a worker to get through). Generous:
 * on a loaded machine (two cores, a load of 15) the bundle has taken 37 s to start.
 */
const START_DEADLINE_MS = 60_000;

/** Processes started elsewhere (a private PostgreSQL), each with how to kill it at once. */
const others = new Set<() => void>();

/** SIGKILLs every process still running, by its pid; stopped ones too (SIGKILL needs no SIGCONT). */
export function killAll(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
  for (const kill of others) kill();
  others.clear();
}

/** Has killAll end a process this file did not start too; returns what forgets it again. */
export function killWithTheRest(kill: () => void): () => void {
  others.add(kill);
  return () => others.delete(kill);
}

/** Spawns a tracked child; it leaves the tracked set when it exits. */
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** What the bundle is built from: a change to any file under these makes dist/taskctl.mjs out of date. */
const BUNDLE_SOURCES = ['src', 'build', 'build.mjs', 'package.json', 'package-lock.json'];

/** Why dist/taskctl.mjs must be built before a run, or undefined when it is newer than all it is built from. */
export function bundleOutOfDate(): string | undefined {
  const bundle = join(root, 'dist', 'taskctl.mjs');
  if (!existsSync(bundle)) return 'dist/taskctl.mjs is missing';
  const builtAtMs = statSync(bundle).mtimeMs;
  const newer = BUNDLE_SOURCES.flatMap((source) => newerThan(join(root, source), builtAtMs));
  return newer.length > 0
    ? `${relative(root, newer[0]!)}${newer.length > 1 ? ` and ${newer.length - 1} more` : ''} changed since dist/taskctl.mjs was built`
    : undefined;
}

/** The files at or under `path` changed after `ms`. */
function newerThan(path: string, ms: number): string[] {
  if (!existsSync(path)) return [];
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs > ms ? [path] : [];
  return readdirSync(path).flatMap((name) => newerThan(join(path, name), ms));
}

/**
 * Returns how to run taskctl: the pinned Node on bin/taskctl. Builds the bundle first (esbuild, seconds)
 * only when it is missing or out of date, or when `build` asks: building rewrites dist/, which tests
 * running from this checkout at the time are using.
 */
export function taskctlCommand(options: { build?: boolean; log?: (line: string) => void } = {}): readonly string[] {
  const why = options.build ? 'asked to (--build)' : bundleOutOfDate();
  if (why) {
    options.log?.(`building the bundle: ${why}`);
    execFileSync(pinnedNode, [join(root, 'build.mjs'), '--bundle-only', '--quiet'], { cwd: root, stdio: 'inherit' });
  } else options.log?.('using dist/taskctl.mjs as built (newer than src/; --build builds it anyway)');
  return [pinnedNode, join(root, 'bin', 'taskctl')];
}

/** Whether `taskctl serve` says it takes `word` as a store (read from its --help). */
export function serveAccepts(taskctl: readonly string[], word: string): boolean {
  const help = execFileSync(taskctl[0]!, [...taskctl.slice(1), 'serve', '--help'], { encoding: 'utf8' });
  return help.includes(word);
}

/** Sends SIGKILL and waits for the exit. */
async function killNow(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

async function waitFor(what: string, condition: () => Promise<boolean>, deadlineMs: number): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`${what} within ${deadlineMs / 1_000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok;
  } catch {
    return false;
  }
}

/** `taskctl serve` on a fixed port, so that a restart comes back where workers and proxies look for it. */
/** A process the suite starts and faults; killed by its pid, and once retired never started again. */
abstract class SuiteProcess {
  protected child: ChildProcess | undefined;
  protected retired = false;

  /** Kills the process for good: a fault still healing in the background can no longer start it again. */
  retire(): Promise<void> {
    this.retired = true;
    return this.kill();
  }

  kill(): Promise<void> {
    return this.child ? killNow(this.child) : Promise.resolve();
  }

  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.child?.kill(signal);
  }
}

export class ServerProcess extends SuiteProcess {
  /** Times it was (re)started. */
  starts = 0;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly args: readonly string[],
    private readonly taskctl: readonly string[],
    private readonly logPath: string,
  ) {
    super();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Starts the server and resolves once it answers /healthz (its store reachable). One that exits (a
   * server refuses to start while its Redis is down) is started again, as a supervisor would.
   */
  async start(): Promise<void> {
    const deadline = performance.now() + START_DEADLINE_MS;
    for (;;) {
      if (this.retired) throw new Error(`${this.name} is retired`);
      const log = openSync(this.logPath, 'a');
      const args = [...this.taskctl.slice(1), 'serve', '--port', String(this.port), ...this.args, '--json', '--no-tui'];
      const child = track(spawn(this.taskctl[0]!, args, { stdio: ['ignore', log, log] }));
      closeSync(log);
      this.child = child;
      this.starts++;
      while (child.exitCode === null && !(await answers(`${this.url}/healthz`))) {
        if (performance.now() > deadline) throw new Error(`${this.name} did not answer /healthz within ${START_DEADLINE_MS / 1_000} s (log: ${this.logPath})`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      if (child.exitCode === null) return;
      if (performance.now() > deadline) throw new Error(`${this.name} exited with code ${child.exitCode} (log: ${this.logPath})`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** A hearing as the worker printed it: the id and when the suite read the line. */
export type OnHeard = (id: string, process: string, atMs: number) => void;

/** `taskctl work --json` watching `ids` through `serverUrl`; each start is a new process (a generation). */
export class WorkerProcess extends SuiteProcess {
  generation = 0;
  #exitedEarly: string | undefined;

  constructor(
    readonly name: string,
    readonly ids: readonly string[],
    private readonly serverUrl: string,
    private readonly taskctl: readonly string[],
    private readonly logPath: string,
    private readonly onHeard: OnHeard,
  ) {
    super();
  }

  /** Why a process of this worker ended without being killed by the suite, if one did. */
  get exitedEarly(): string | undefined {
    return this.#exitedEarly;
  }

  /** Starts a process and resolves once it said it is connected. */
  async start(): Promise<void> {
    if (this.retired) throw new Error(`${this.name} is retired`);
    const processName = `${this.name}#${++this.generation}`;
    const log = openSync(this.logPath, 'a');
    const args = [...this.taskctl.slice(1), 'work', '--no-tui', '--json', '--watch-timeout', '10s', '--server', this.serverUrl, ...this.ids];
    const child = track(spawn(this.taskctl[0]!, args, { stdio: ['ignore', 'pipe', log] }));
    closeSync(log);
    this.child = child;
    // Its lines go to the log too, after its stderr's, for reading a failed run.
    const logLines = createWriteStream(this.logPath, { flags: 'a' });
    child.once('close', () => logLines.end());
    let connected = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const atMs = performance.now();
      logLines.write(`${processName} ${line}\n`);
      let event: { event?: unknown; task?: unknown };
      try {
        event = JSON.parse(line);
      } catch {
        return;
      }
      // Only `connected`: a process that starts while its server is away must say it too, when it first gets
      // through (seed 20261206 restarts a worker while its server is stopped).
      if (event.event === 'connected') connected = true;
      if (event.event === 'cancelled' && typeof event.task === 'string') this.onHeard(event.task, processName, atMs);
    });
    child.once('exit', (code, signal) => {
      if (signal !== 'SIGKILL') this.#exitedEarly ??= `${processName} exited with ${signal ?? `code ${code}`} (log: ${this.logPath})`;
    });
    await waitFor(
      `${processName} did not connect (log: ${this.logPath})`,
      async () => {
        if (this.#exitedEarly) throw new Error(this.#exitedEarly);
        if (this.retired) throw new Error(`${this.name} is retired`);
        return connected;
      },
      START_DEADLINE_MS,
    );
  }
}

/**
 * A redis-server of the run's own, with every write fsync'd to its append-only file, so that a restart
 * keeps what it acknowledged (as the README asks of a Redis whose cancels must survive one).
 */
export class RedisProcess {
  #child: ChildProcess | undefined;

  constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''];
    const child = track(spawn('redis-server', args, { stdio: 'ignore' }));
    this.#child = child;
    await waitFor(
      `redis-server did not start on port ${this.port}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
        return (await this.command('PING').catch(() => '')).startsWith('+PONG');
      },
      10_000,
    );
  }

  kill(): Promise<void> {
    return this.#child ? killNow(this.#child) : Promise.resolve();
  }

  /** Sends one command (inline protocol) and resolves with the raw reply. */
  command(line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.port, '127.0.0.1', () => socket.write(`${line}\r\n`));
      socket.setTimeout(2_000, () => socket.destroy(new Error(`redis did not answer ${line}`)));
      socket.once('data', (data) => {
        resolve(data.toString());
        socket.end();
      });
      socket.once('error', reject);
    });
  }
}
