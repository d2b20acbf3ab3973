import { idsPositional } from '../options.ts';
import { type ClientArgs, withClientOptions } from '../client-options.ts';
import type { CommandDefinition } from '../context.ts';

export type CancelArgs = ClientArgs & { ids: string[]; reason?: string; after?: string; at?: string; unschedule?: boolean; json: boolean };

export const cancelCommand: CommandDefinition<CancelArgs> = {
  command: 'cancel <ids..>',
  describe: 'Cancel tasks: every worker watching them stops them',
  needs: 'at least one task id, e.g. taskctl cancel job-42',
  builder: (yargs) =>
    withClientOptions(yargs)
      .positional('ids', idsPositional('Task ids to cancel'))
      .option('reason', { alias: 'r', type: 'string', describe: 'Why; workers show it' })
      .option('after', { type: 'string', describe: 'Cancel later, after this long (e.g. 2h); the server keeps it across restarts' })
      .option('at', { type: 'string', describe: 'Cancel later, at this time (ISO 8601, e.g. 2026-12-01T18:00:00Z)' })
      .option('unschedule', {
        type: 'boolean',
        describe: 'Drop the cancel scheduled for these tasks instead (--after/--at); a cancel already made stays for --ttl',
      })
      .conflicts('after', 'at')
      .conflicts('unschedule', ['after', 'at', 'reason'])
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON record per line' })
      .example('taskctl cancel 1234 --reason "wrong dataset"', 'cancel task 1234')
      .example('taskctl cancel 1234 --after 2h', 'cancel task 1234 in two hours')
      .example('taskctl cancel 1234 --unschedule', 'drop that scheduled cancel (operator or admin)')
      .epilogue(
        'Exit codes: 0 every id acknowledged, 1 some id refused or invalid, 2 usage error, 3 server unreachable, not a taskctl server, or its store ' +
          "unavailable, 4 not authorized, 5 not trusted (TLS: the server's certificate, or the server refused this client's), 130 interrupted.",
      ) as never,
  // Loaded only when the command runs, so --help and --version stay fast.
  run: (args, context) => import('./cancel-run.ts').then((m) => m.runCancel(args, context)),
};
