import { idsPositional } from '../options.ts';
import { TASK_LIFE_STATES } from '../../core/task-status.ts';
import { type ClientArgs, withClientOptions } from '../client-options.ts';
import type { CommandDefinition } from '../context.ts';

export type StatusArgs = ClientArgs & { ids: string[]; json: boolean };

export const statusCommand: CommandDefinition<StatusArgs> = {
  command: 'status <ids..>',
  describe: 'Show what the server knows of tasks: state, worker, since when',
  needs: 'at least one task id, e.g. taskctl status job-42',
  builder: (yargs) =>
    withClientOptions(yargs)
      .positional('ids', idsPositional('Task ids'))
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object per task' })
      .epilogue(
        'States: watching, cancel_requested, cancelled (the worker confirmed), succeeded, failed, timed_out, lost ' +
          '(its worker went silent past the lease), unknown (never watched nor cancelled). A task with children (tasks that ' +
          'named it with work --parent) is followed by the first 100 of them, indented; taskctl ls --parent ID lists them (up to --limit).\n\nExit codes: 0 ok, 1 an id was invalid, 2 usage error, 3 server unreachable or not a taskctl server, 4 not authorized, ' +
          "5 not trusted (TLS: the server's certificate, or the server refused this client's).",
      ) as never,
  // Loaded only when the command runs, so --help and --version stay fast.
  run: (args, context) => import('./status-run.ts').then((m) => m.runStatus(args, context)),
};

export type LsArgs = ClientArgs & { state?: string; parent?: string; limit: number; json: boolean };

export const lsCommand: CommandDefinition<LsArgs> = {
  command: 'ls',
  describe: 'List tasks the server knows, optionally in one state; without a filter, the cancels scheduled for later too',
  builder: (yargs) =>
    withClientOptions(yargs)
      .option('state', {
        type: 'string',
        choices: [...TASK_LIFE_STATES, 'scheduled'],
        describe: 'Only tasks in this state; "scheduled": only the cancels scheduled for later',
      })
      .option('parent', { type: 'string', describe: 'Only the children of this task (tasks that named it with work --parent)' })
      .option('limit', { type: 'number', default: 1_000, describe: 'At most this many tasks' })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object per task' })
      .example('taskctl ls --state lost', 'tasks whose worker went silent')
      .example('taskctl ls --parent job-42', 'the tasks job-42 stops when cancelled')
      .epilogue(
        "Exit codes: 0 ok, 2 usage error, 3 server unreachable or not a taskctl server, 4 not authorized, 5 not trusted (TLS: the server's certificate, or the server refused this client's).",
      ) as never,
  run: (args, context) => import('./status-run.ts').then((m) => m.runLs(args, context)),
};
