import { idsPositional } from '../options.ts';
import { type ClientArgs, withClientOptions } from '../client-options.ts';
import type { CommandDefinition } from '../context.ts';
import { formatDuration } from '../../core/duration.ts';
import { DEFAULT_WATCH_TIMEOUT_MS } from '../../protocol/limits.ts';

export type WorkArgs = ClientArgs & {
  ids: string[];
  '--'?: string[];
  grace: string;
  timeout?: string;
  watchTimeout: string;
  json: boolean;
  tui: boolean;
  /** One value, or several when repeated. */
  parent?: string | string[];
  progress: boolean;
};

export const workCommand: CommandDefinition<WorkArgs> = {
  command: 'work <ids..>',
  describe: 'Watch tasks and stop them when cancelled; with -- COMMAND, run it once per task',
  needs: 'at least one task id, e.g. taskctl work job-42 -- ./train.sh',
  builder: (yargs) =>
    withClientOptions(yargs)
      .positional('ids', idsPositional('Task ids to watch'))
      .option('grace', { type: 'string', default: '10s', describe: 'Time between SIGTERM and SIGKILL when stopping a command' })
      .option('timeout', {
        type: 'string',
        describe: 'Deadline per task (e.g. 2h), handled like a cancel; the server keeps it too, as a scheduled cancel, so it holds even if this worker stalls',
      })
      .option('watch-timeout', { type: 'string', default: formatDuration(DEFAULT_WATCH_TIMEOUT_MS), describe: 'How long each long poll may be held' })
      .option('parent', {
        type: 'string',
        describe: 'A parent task (repeatable; env TASKCTL_PARENT for one): cancelling it, or any of its ancestors, stops every task here too',
      })
      .option('json', { type: 'boolean', default: false, describe: 'Print NDJSON events' })
      .option('tui', { type: 'boolean', default: true, describe: 'Draw the live screen on a terminal (--no-tui for plain lines)' })
      .option('progress', {
        type: 'boolean',
        default: false,
        describe:
          "Send each task's last output line (cleaned, at most 200 characters, every 2s at most) to the server, for status, ls, top and events. Off by default: output may hold secrets",
      })
      .example('taskctl work 1234 5678', 'watch two tasks until both are cancelled')
      .example('taskctl work 1234 -- ./train.sh --epochs 3', 'run train.sh for task 1234, stop it on cancel')
      .example('taskctl work step-2 --parent job-42 -- ./step.sh', 'stopped by `taskctl cancel step-2` or `taskctl cancel job-42`')
      .example('taskctl work 1234 --progress -- ./train.sh', 'and show its last line on the server (a line "::progress TEXT" reports explicitly)')
      .epilogue(
        'The command gets TASKCTL_TASK_ID in its environment (and not TASKCTL_TOKEN) and runs in its own process group; on cancel it gets ' +
          'SIGTERM, then SIGKILL after --grace. A task cancelled already never starts its command. SIGINT, SIGTERM and SIGHUP (a closed terminal) stop the commands the same way and end the tasks "stopped" on the server; a second SIGINT or SIGTERM kills at once (no time is left to report: those tasks go "lost" after the lease); a repeated SIGHUP does not. A line "::progress TEXT" from the command is its progress, not output (sent to the server with --progress). Network failures are retried forever; a refused token or an untrusted certificate is not.\n\nExit codes: 0 every task ' +
          'cancelled through the server or its command exited 0; 1 a command failed, or the server refused the --parent ' +
          '(a cycle, parents nesting more than 8 levels, or a link rule; every command is stopped first); 2 usage error; 4 the server refused the token ' +
          "(every command is stopped first); 5 not trusted: TLS, the server's certificate or the server refused this client's (every command " +
          'is stopped first); 70 internal error (every command is stopped first); 124 a task hit --timeout; 130 interrupted.',
      ) as never,
  // Loaded only when the command runs, so --help and --version stay fast.
  run: (args, context) => import('./work-run.ts').then((m) => m.runWorkCommand(args, context)),
};
