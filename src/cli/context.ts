import type { Argv } from 'yargs';

/** What a command may touch of the outside world; handed in so commands never reach for globals. */
export interface CommandContext {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly stdin: NodeJS.ReadStream;
  readonly env: NodeJS.ProcessEnv;
  /** Fires on the first SIGINT, SIGTERM or SIGHUP (unless onHangup took it), its reason the signal's name. */
  readonly shutdown: AbortSignal;
  /**
   * Calls `listener` on each SIGHUP until the returned function is called. Only a command that asks for
   * it (serve, to reload) changes what SIGHUP does; for the others it stops them as SIGTERM does.
   */
  readonly onHangup?: (listener: () => void) => () => void;
  /**
   * A stop asked for from inside (q or Ctrl-C on a screen in raw mode, where Ctrl-C is a key, not a
   * signal): the first aborts `shutdown` with `reason`, a second exits at once, as a second signal does.
   */
  readonly interrupt?: (reason: string) => void;
}

/** One command, declared once: its yargs shape and what it does. Resolves with the exit code. */
export interface CommandDefinition<Args> {
  readonly command: string;
  readonly describe: string;
  readonly builder: (yargs: Argv) => Argv<Args>;
  /** What its positional arguments must be, said when they are missing: "at least one task id, e.g. …". */
  readonly needs?: string;
  readonly run: (args: Args, context: CommandContext) => Promise<number>;
}

/** Every exit code a command can return; each command's --help lists those it uses. */
export const ExitCode = {
  ok: 0,
  /** Something was refused or failed (an invalid id, a failed command). */
  failure: 1,
  /** A usage mistake: unknown command or option, a bad value. */
  usage: 2,
  /** The server could not be reached, is not a taskctl server, or its store is unavailable. */
  unavailable: 3,
  /** The server refused the token (401 or 403). */
  unauthorized: 4,
  /** TLS trust failed: the server's certificate is not trusted here, or the server refused this client's. */
  untrusted: 5,
  /** A bug in taskctl itself. */
  internal: 70,
  /** `work`: a task hit its --timeout. */
  timedOut: 124,
  /** Interrupted by SIGINT/SIGTERM (or q on the screen). */
  interrupted: 130,
} as const;

/** The exit codes as --help lists them. */
export const EXIT_CODES_HELP =
  'Exit codes: 0 ok; 1 refused or failed (an invalid id, a failed command); 2 usage error; 3 server unreachable, ' +
  'not a taskctl server, or its store unavailable; 4 not authorized (token refused); 5 not trusted (TLS: the ' +
  "server's certificate, or the server refused this client's); 70 internal error; " +
  '124 work: a task hit --timeout; 130 interrupted.';

/** A mistake by the user: printed as one line, exit code 2, never a stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}
