// Wires the real process into main(): signals, stdio, the last-resort handlers, and the exit code.
import { printable } from '../core/printable.ts';
import { killAllProcessesNow, stopAllProcesses } from '../worker/process-registry.ts';
import { ExitCode } from './context.ts';
import { main } from './main.ts';

// A reader that went away (a closed pipe) must not take a running server or worker down with it.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

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
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // A second signal means "now": the user is done waiting for a graceful stop.
    if (shutdown.signal.aborted) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    shutdown.abort(signal);
  });
}

try {
  process.exitCode = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    shutdown: shutdown.signal,
    onHangup: (listener) => {
      process.on('SIGHUP', listener);
      return () => process.off('SIGHUP', listener);
    },
  });
} catch (error) {
  internalError(error);
}
