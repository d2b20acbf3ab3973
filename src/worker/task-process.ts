import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { trackProcess } from './process-registry.ts';

export interface TaskProcessEvents {
  started(pid: number): void;
  output(stream: 'stdout' | 'stderr', line: string): void;
  killing(signal: 'SIGTERM' | 'SIGKILL'): void;
  exited(code: number | null, signal: string | null, error?: string): void;
}

// Why a command did not start, in words that say what to do; other failures keep Node's message.
function cannotRun(code: string | undefined, file: string): string | undefined {
  if (code === 'ENOENT') return 'command not found';
  if (code !== 'EACCES') return undefined;
  return `permission denied (is it executable? chmod +x it, or run it through its interpreter: -- ${interpreterOf(file)} ${file})`;
}

// The interpreter a script's name suggests, for the hint above; sh when it says none.
const INTERPRETERS: Readonly<Record<string, string>> = { js: 'node', mjs: 'node', cjs: 'node', py: 'python3', rb: 'ruby', pl: 'perl', bash: 'bash' };
const interpreterOf = (file: string) => INTERPRETERS[/\.(\w+)$/.exec(file)?.[1] ?? ''] ?? 'sh';

// Longest output line kept whole; a longer one is cut so one runaway line cannot eat memory.
const MAX_LINE_CHARS = 8_192;

/**
 * One task's command, in a process group of its own so that stopping it reaches everything it started.
 * Output is read line by line and handed on, never mixed with another task's.
 */
export class TaskProcess {
  readonly #child: ChildProcess;
  readonly #events: TaskProcessEvents;
  #exited = false;
  #killTimer: NodeJS.Timeout | undefined;
  readonly #graceMs: number;
  readonly done: Promise<void>;

  /** Starts `command`; `graceMs` is how long it has between SIGTERM and SIGKILL when stopped. */
  constructor(command: readonly string[], env: NodeJS.ProcessEnv, graceMs: number, events: TaskProcessEvents) {
    this.#events = events;
    this.#graceMs = graceMs;
    const [file, ...args] = command;
    this.#child = spawn(file!, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
    let resolveDone!: () => void;
    this.done = new Promise((resolve) => (resolveDone = resolve));
    const streamsClosed = [this.#child.stdout!, this.#child.stderr!].map((stream, i) => {
      const name = i === 0 ? 'stdout' : 'stderr';
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on('line', (line) => events.output(name, line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line));
      return new Promise<void>((resolve) => lines.once('close', resolve));
    });
    const untrack = trackProcess({ stop: () => this.stop(), killNow: () => this.#exited || killGroup(this.#child.pid, 'SIGKILL') });
    void this.done.then(untrack);
    this.#child.once('spawn', () => events.started(this.#child.pid!));
    this.#child.once('error', (error: NodeJS.ErrnoException) => {
      // Only a failure to start ends the task here; "exit" reports everything else.
      if (this.#child.pid !== undefined) return;
      this.#finish(error.code === 'ENOENT' ? 127 : 126, null, `cannot run ${file}: ${cannotRun(error.code, file!) ?? error.message}`);
      resolveDone();
    });
    this.#child.once('exit', (code, signal) => {
      // Report the exit once every line the command printed has been handed on, but do not wait on a
      // background child that inherited the pipes and lives on.
      const drained = new Promise((resolve) => setTimeout(resolve, 1_000).unref());
      Promise.race([Promise.all(streamsClosed), drained]).then(() => {
        this.#finish(code, signal);
        resolveDone();
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** SIGTERM to the whole group now, SIGKILL after the grace if it is still there. Resolves when it exited. */
  stop(): Promise<void> {
    if (this.#exited || this.#killTimer) return this.done;
    this.#signal('SIGTERM');
    this.#killTimer = setTimeout(() => this.#signal('SIGKILL'), this.#graceMs);
    return this.done;
  }

  #signal(signal: 'SIGTERM' | 'SIGKILL'): void {
    if (this.#exited || this.#child.pid === undefined) return;
    this.#events.killing(signal);
    killGroup(this.#child.pid, signal);
  }

  #finish(code: number | null, signal: string | null, error?: string): void {
    if (this.#exited) return;
    this.#exited = true;
    clearTimeout(this.#killTimer);
    // When we were stopping it, take down anything of its group that outlived the leader.
    if (this.#killTimer) killGroup(this.#child.pid, 'SIGKILL');
    this.#events.exited(code, signal, error);
  }
}

/** Sends `signal` to the process group `pid` leads (the process alone on Windows); a group already gone is fine. */
function killGroup(pid: number | undefined, signal: 'SIGTERM' | 'SIGKILL'): void {
  if (pid === undefined) return;
  try {
    // A negative pid addresses the process group the command leads.
    process.kill(process.platform === 'win32' ? pid : -pid, signal);
  } catch {
    // The group is already gone.
  }
}
