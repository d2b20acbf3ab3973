import { execFileSync, spawnSync } from 'node:child_process';
import { test } from 'uvu';

export const HAS_TMUX = spawnSync('tmux', ['-V']).status === 0;

let skipSaid = false;

/** uvu's `test` where tmux is installed; elsewhere `test.skip`, said once, so a skipped run does not pass unseen. Imported as `it`. */
export function terminalTest(name: string, fn: NonNullable<Parameters<typeof test>[1]>): void {
  if (HAS_TMUX) test(name, fn);
  else {
    if (!skipSaid) console.warn('SKIPPED: tmux is not installed, so the terminal tests did not run');
    skipSaid = true;
    test.skip(name, fn);
  }
}

/** A real terminal: a detached tmux session on a private server, read with capture-pane. */
export class TmuxSession {
  readonly #socket = `taskctl-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  readonly #name = 'main';

  constructor(command: string, size: { columns: number; rows: number } = { columns: 120, rows: 30 }) {
    // The shell prints the exit status and keeps the pane open, so both can be read after the command ends.
    // CI=… in the environment would (rightly) turn the screens off: a real terminal user has no CI set.
    const wrapped = `env -u CI ${command}; echo "[exit status $?]"; sleep 600`;
    this.#tmux('new-session', '-d', '-s', this.#name, '-x', String(size.columns), '-y', String(size.rows), wrapped);
  }

  screen(): string {
    return this.#tmux('capture-pane', '-p', '-t', this.#name);
  }

  /** Waits until the screen matches `pattern` and returns that screen. */
  async waitForScreen(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = this.screen();
      if (pattern.test(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`screen never matched ${pattern}; it showed:\n${last}`);
  }

  /** Waits until `check` stops throwing on the screen and returns that screen; on timeout, rethrows. */
  async waitUntil(check: (screen: string) => void, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = this.screen();
      try {
        check(screen);
        return screen;
      } catch (error) {
        if (Date.now() >= deadline) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Resizes the terminal, as dragging its window would: the program gets SIGWINCH. */
  resize(size: { columns: number; rows: number }): void {
    this.#tmux('resize-window', '-t', this.#name, '-x', String(size.columns), '-y', String(size.rows));
  }

  sendKeys(...keys: string[]): void {
    this.#tmux('send-keys', '-t', this.#name, ...keys);
  }

  /** Pastes `text` as a terminal does: bracketed (marked as a paste) when the program asked for that. */
  paste(text: string): void {
    this.#tmux('set-buffer', '-b', 'test-paste', text);
    this.#tmux('paste-buffer', '-p', '-d', '-b', 'test-paste', '-t', this.#name);
  }

  /** The exit status of the command, or undefined while it runs. */
  exitStatus(): number | undefined {
    const match = /\[exit status (\d+)\]/.exec(this.screen());
    return match ? Number(match[1]) : undefined;
  }

  /** Waits for the command to end (`what` names the wait in a failure) and resolves with its exit status. */
  async waitForExit(what: string, timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (let status = this.exitStatus(); ; status = this.exitStatus()) {
      if (status !== undefined) return status;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the screen showed:\n${this.screen()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The pid of the command the session runs (the child of the pane's shell), once it has started. */
  commandPid(): number | undefined {
    const shell = this.#tmux('display-message', '-p', '-t', this.#name, '#{pane_pid}').trim();
    const found = spawnSync('pgrep', ['-P', shell], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
    return found ? Number(found) : undefined;
  }

  kill(): void {
    spawnSync('tmux', ['-L', this.#socket, 'kill-server']);
  }

  #tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.#socket, ...args], { encoding: 'utf8' });
  }
}
