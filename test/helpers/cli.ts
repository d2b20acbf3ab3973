import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const entry = fileURLToPath(new URL('../../src/cli/run.ts', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running taskctl process (from source), with its output collected as it comes. */
export class CliProcess {
  stdout = '';
  stderr = '';
  readonly child: ChildProcess;
  readonly exited: Promise<CliResult>;

  /** `nodeArgs` go to Node before the entry (from source only), e.g. `--import` of a test fixture. */
  constructor(args: readonly string[], options: { env?: NodeJS.ProcessEnv; binary?: string; nodeArgs?: readonly string[]; cwd?: string } = {}) {
    const [command, argv] = options.binary ? [options.binary, args] : [process.execPath, ['--import', 'tsx', ...(options.nodeArgs ?? []), entry, ...args]];
    this.child = spawn(command, argv, {
      cwd: options.cwd ?? root,
      env: { ...process.env, CI: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = once(this.child, 'close').then(([code, signal]) => ({ code, signal, stdout: this.stdout, stderr: this.stderr }));
  }

  /** Resolves with the first match of `pattern` in stdout+stderr, waiting for it to appear. */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.stdout + this.stderr);
      if (match) return match;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`never saw ${pattern} (exit ${this.child.exitCode}); output:\n${this.stdout}${this.stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.child.kill(signal);
  }
}

/** Runs taskctl to completion. */
export function runCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; binary?: string; cwd?: string } = {}): Promise<CliResult> {
  return new CliProcess(args, options).exited;
}

/** A command for `work -- ...` that runs until it is stopped (a cancel, a signal). */
export const FOREVER: readonly string[] = [process.execPath, '-e', 'setInterval(() => {}, 1000)'];

/** taskctl from source, as one command line for a shell (a terminal's, which starts in the repository). */
export function sourceCommandLine(args: string): string {
  return `${process.execPath} --import tsx ${entry} ${args}`;
}

/** Whether the process `pid` still exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A `taskctl serve` child process, listening. */
export interface ServeProcess {
  readonly process: CliProcess;
  readonly url: string;
  readonly port: number;
  /** SIGTERM, and waits for it to end. */
  stop(): Promise<CliResult>;
}

/**
 * `taskctl serve` on a free port, no screen, and `args` (the memory store unless they name one); resolves
 * once it listens. Generous by default: a loaded machine can take seconds to start a server from source.
 */
export async function startServe(args: readonly string[] = [], options: { binary?: string; timeoutMs?: number } = {}): Promise<ServeProcess> {
  const store = args.includes('--store') ? [] : ['--store', 'memory'];
  const serve = new CliProcess(['serve', '--port', '0', ...store, '--no-tui', ...args], options.binary ? { binary: options.binary } : {});
  const url = (await serve.waitFor(/listening url=(\S+)/, options.timeoutMs ?? 30_000))[1]!;
  return {
    process: serve,
    url,
    port: Number(new URL(url).port),
    stop: () => {
      serve.kill('SIGTERM');
      return serve.exited;
    },
  };
}

/** A fresh token made by `taskctl token new` (with `--scope`s, if given): the token, and its line for the tokens file. */
export async function newToken(
  name: string,
  role: string,
  options: { scope?: readonly string[]; binary?: string } = {},
): Promise<{ token: string; line: string; scope?: string[] }> {
  const scopes = (options.scope ?? []).flatMap((scope) => ['--scope', scope]);
  const result = await runCli(['token', 'new', name, '--role', role, ...scopes, '--json'], options.binary ? { binary: options.binary } : {});
  if (result.code !== 0) throw new Error(`token new ${name} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/**
 * `taskctl serve` as a child process on a fixed port and a sqlite file, so it can be killed (-9 too) and
 * started again on the same store and address.
 */
export class DurableServer {
  #process: CliProcess | undefined;

  private constructor(
    readonly url: string,
    private readonly args: string[],
    private readonly removeDir: () => void,
  ) {}

  static async start(extraArgs: string[] = []): Promise<DurableServer> {
    const { tempDir } = await import('./server.ts');
    const { freePort } = await import('./tcp-proxy.ts');
    const dir = tempDir();
    const port = await freePort();
    const server = new DurableServer(
      `http://127.0.0.1:${port}`,
      ['serve', '--port', String(port), '--store', `sqlite:${dir.path}/taskctl.db`, ...extraArgs],
      dir.remove,
    );
    await server.restart();
    return server;
  }

  /** Kills the running server with `signal` (if one runs) and starts a new one on the same store. */
  async restart(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.kill(signal);
    this.#process = new CliProcess(this.args);
    // Generous: a loaded machine can take seconds to start a server from source.
    await this.#process.waitFor(/listening/, 30_000);
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const running = this.#process;
    this.#process = undefined;
    if (!running) return;
    running.kill(signal);
    await running.exited;
  }

  /** Stops the server and removes its store. */
  async stop(): Promise<void> {
    await this.kill();
    this.removeDir();
  }
}
