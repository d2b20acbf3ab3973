// Wires the real process into main(): signals, stdio, the last-resort handlers, and the exit code.
import { printable } from '../core/printable.ts';
import { killAllProcessesNow, stopAllProcesses } from '../worker/process-registry.ts';
import { ExitCode } from './context.ts';
import { main } from './main.ts';

/**
 * A bug in taskctl or a dependency: say so in one line (the stack only with TASKCTL_DEBUG=1), stop every
 * command `work` started as on a cancel, then exit 70. Without this a crash would leave them orphaned.
 */
let failing = false;
function internalError(error: unknown): void {
  if (failing) return;
  failing = true;
  const detail = process.env.TASKCTL_DEBUG ? ((error as Error)?.stack ?? String(error)) : printable((error as Error)?.message ?? String(error));
  process.stderr.write(`taskctl: internal error: ${detail}${process.env.TASKCTL_DEBUG ? '' : ' (TASKCTL_DEBUG=1 shows where)'}\n`);
  void stopAllProcesses().finally(() => process.exit(ExitCode.internal));
}
process.on('uncaughtException', internalError);
process.on('unhandledRejection', internalError);
// The last resort, for exits nobody planned (a second Ctrl-C): nothing started here outlives it.
process.on('exit', killAllProcessesNow);

const shutdown = new AbortController();
const EXIT_ON_SECOND: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };
/**
 * The first stop asks for a graceful one; a second means "now" (the exit handler kills every command). A
 * hang-up is not a second stop: a closing terminal sends it more than once (the shell passes its own on, and
 * the terminal sends one), and nobody is there to mean "now"; only a second Ctrl-C or SIGTERM does.
 */
function stopOn(reason: string): void {
  if (shutdown.signal.aborted) {
    if (reason === 'SIGHUP') return;
    process.exit(EXIT_ON_SECOND[reason] ?? 130);
  }
  shutdown.abort(reason);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stopOn(signal));

// A reader that went away (a closed pipe, or a terminal hung up: EIO) must not take a running server or
// worker down with it at once: a worker still has its commands to stop. A terminal that hung up is gone for
// good, so the process stops as on SIGHUP (serve takes SIGHUP to reload its files, and would otherwise run
// on with no terminal to show its screen on, and nobody to press Ctrl-C).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EIO') {
      if (!shutdown.signal.aborted) shutdown.abort('SIGHUP');
    } else if (error.code !== 'EPIPE') throw error;
  });
}

// A closed terminal, a dropped SSH session or `tmux kill-session` sends SIGHUP. Left to its default it ends
// the process at once and orphans every command `work` started, so it stops them as SIGTERM does, unless
// the command asked for it (serve reloads its files).
const hangupListeners = new Set<() => void>();
process.on('SIGHUP', () => {
  if (hangupListeners.size > 0) hangupListeners.forEach((listener) => listener());
  else stopOn('SIGHUP');
});

try {
  process.exitCode = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    shutdown: shutdown.signal,
    interrupt: stopOn,
    onHangup: (listener) => {
      hangupListeners.add(listener);
      return () => hangupListeners.delete(listener);
    },
  });
} catch (error) {
  internalError(error);
}
