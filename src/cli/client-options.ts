import type { Argv } from 'yargs';
import type { ClientError } from '../client/client.ts';
import { ExitCode } from './context.ts';

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

/** The options every command that talks to a server shares. */
export function withClientOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('server', { alias: 's', type: 'string', describe: `Server URL (env TASKCTL_SERVER) [default: ${DEFAULT_SERVER}]` })
    .option('token', { type: 'string', describe: 'Bearer token (env TASKCTL_TOKEN)' });
}

/** --server and --token, falling back to the environment and then to the defaults. */
export function resolveClientOptions(args: { server?: string | undefined; token?: string | undefined }, env: NodeJS.ProcessEnv) {
  return {
    server: args.server ?? (env.TASKCTL_SERVER || DEFAULT_SERVER),
    token: args.token ?? (env.TASKCTL_TOKEN || undefined),
  };
}

/** The exit code for a request that failed with `error`. */
export function exitCodeFor(error: ClientError): number {
  switch (error.kind) {
    case 'unauthorized':
      return ExitCode.unauthorized;
    case 'untrusted':
      return ExitCode.untrusted;
    case 'unreachable':
    case 'timeout':
    case 'protocol':
      return ExitCode.unavailable;
    case 'rejected':
      return error.status === 503 ? ExitCode.unavailable : ExitCode.failure;
  }
}
