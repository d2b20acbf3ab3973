// The executable's entry: wires the real process into main() and turns its answer into the exit code.
import { main } from './main.ts';

// A reader that went away (a closed pipe) must not take a running server or worker down with it.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

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
  });
} catch (error) {
  // Reaching here is a bug in taskctl, not a user mistake: show everything that helps to fix it.
  process.stderr.write(`taskctl: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 70;
}
