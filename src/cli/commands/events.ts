import { TASK_LIFE_STATES } from '../../core/task-status.ts';
import { type ClientArgs, withClientOptions } from '../client-options.ts';
import type { CommandDefinition } from '../context.ts';

export type EventsArgs = ClientArgs & { ids?: string[]; state?: string[]; since?: string; json: boolean };

export const eventsCommand: CommandDefinition<EventsArgs> = {
  command: 'events [ids..]',
  describe: 'Print every task change as it happens (like kubectl get -w); reconnects and resumes by itself',
  builder: (yargs) =>
    withClientOptions(yargs)
      .positional('ids', { type: 'string', array: true, describe: 'Only these tasks', defaultDescription: 'all tasks' })
      .option('state', {
        type: 'string',
        array: true,
        choices: [...TASK_LIFE_STATES, 'unknown'],
        describe: 'Only changes that leave a task in this state (repeat for several)',
      })
      .option('since', { type: 'string', describe: 'Start after this event id (the "seq" of an event printed before) instead of from now' })
      .option('json', { type: 'boolean', default: false, describe: 'Print one JSON object per line: {"type":"task","seq",...} or {"type":"reset",...}' })
      .example('taskctl events', 'a line per change of any task, from now on')
      .example('taskctl events --json --state lost | jq -r .id', 'the ids of tasks as they go lost')
      .epilogue(
        'Runs until interrupted. A dropped connection is opened again with backoff and resumes after the last event printed, ' +
          'so none is missed or printed twice; when the server no longer keeps the events missed, a "reset" line says so ' +
          '(list the tasks again with taskctl ls). Needs a token with the list right (reader, operator or admin).\n\n' +
          'Exit codes: 0 interrupted (Ctrl-C) or the output closed; 2 usage error; 4 not authorized (token refused); ' +
          "5 not trusted (TLS: the server's certificate, or the server refused this client's); 70 internal error.",
      ) as never,
  // Loaded only when the command runs, so --help and --version stay fast.
  run: (args, context) => import('./events-run.ts').then((m) => m.runEvents(args, context)),
};
