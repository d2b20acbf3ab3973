import type { Argv } from 'yargs';
import type { ClientError } from '../client/client.ts';
import { ExitCode } from './context.ts';

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

/** The options every command that talks to a server shares. */
export function withClientOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('server', { alias: 's', type: 'string', describe: `Server URL (env TASKCTL_SERVER) [default: ${DEFAULT_SERVER}]` })
    .option('token', { type: 'string', describe: 'Bearer token (env TASKCTL_TOKEN)' })
    .option('ca', { type: 'string', describe: 'PEM file of CA certificates to trust for https://, besides the system roots (env TASKCTL_CA)' })
    .option('cert', { type: 'string', describe: 'PEM client certificate, for a server that requires one (env TASKCTL_CERT)' })
    .option('key', { type: 'string', describe: 'PEM private key of --cert (env TASKCTL_KEY)' });
}

/** What every client command takes besides its own options. */
export interface ClientArgs {
  server?: string | undefined;
  token?: string | undefined;
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

/** --server and --token, falling back to the environment and then to the defaults. */
export function resolveClientOptions(args: ClientArgs, env: NodeJS.ProcessEnv) {
  return {
    server: args.server ?? (env.TASKCTL_SERVER || DEFAULT_SERVER),
    token: args.token ?? (env.TASKCTL_TOKEN || undefined),
  };
}

export { readClientTls } from './tls-files.ts';

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
