import { withClientOptions } from '../client-options.ts';
import type { CommandDefinition } from '../context.ts';

export type CancelArgs = { ids: string[]; reason?: string; server?: string; token?: string; json: boolean };

export const cancelCommand: CommandDefinition<CancelArgs> = {
  command: 'cancel <ids..>',
  describe: 'Cancel tasks: every worker watching them stops them',
  builder: (yargs) =>
    withClientOptions(yargs)
      .positional('ids', { type: 'string', array: true, describe: 'Task ids to cancel' })
      .option('reason', { alias: 'r', type: 'string', describe: 'Why; workers show it' })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON record per line' })
      .example('taskctl cancel 1234 --reason "wrong dataset"', 'cancel task 1234')
      .epilogue('Exit codes: 0 every id acknowledged, 1 some id refused or invalid, 2 usage error, 3 server unreachable.') as never,
  // Loaded only when the command runs, so --help and --version stay fast.
  run: (args, context) => import('./cancel-run.ts').then((m) => m.runCancel(args, context)),
};
