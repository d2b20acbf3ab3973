import type { Argv } from 'yargs';

/** What a command may touch of the outside world; handed in so commands never reach for globals. */
export interface CommandContext {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly stdin: NodeJS.ReadStream;
  readonly env: NodeJS.ProcessEnv;
  /** Fires on the first SIGINT or SIGTERM. */
  readonly shutdown: AbortSignal;
}

/** One command, declared once: its yargs shape and what it does. Resolves with the exit code. */
export interface CommandDefinition<Args> {
  readonly command: string;
  readonly describe: string;
  readonly builder: (yargs: Argv) => Argv<Args>;
  readonly run: (args: Args, context: CommandContext) => Promise<number>;
}

/** Exit codes shared by every command. Command-specific codes are listed in their --help. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  unavailable: 3,
} as const;

/** A mistake by the user: printed as one line, exit code 2, never a stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}
