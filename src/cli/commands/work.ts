import { z } from 'zod';
import { TaskctlClient } from '../../client/client.ts';
import { formatDuration } from '../../core/duration.ts';
import { DEFAULT_WATCH_TIMEOUT_MS, MAX_IDS_PER_WATCH, MAX_WATCH_TIMEOUT_MS } from '../../protocol/limits.ts';
import { durationSchema, taskIdSchema } from '../../protocol/schemas.ts';
import { initialWorkState, WorkStore } from '../../worker/work-state.ts';
import { runWork } from '../../worker/worker.ts';
import { resolveClientOptions, serverUrlSchema, withClientOptions } from '../client-options.ts';
import type { CommandDefinition } from '../context.ts';
import { validateOptions, wantsTui } from '../options.ts';
import { printJsonEvents, printPlainEvents } from '../work-output.ts';

type WorkArgs = {
  ids: string[];
  '--'?: string[];
  server?: string;
  token?: string;
  grace: string;
  timeout?: string;
  watchTimeout: string;
  json: boolean;
  tui: boolean;
};

const optionsSchema = z.object({
  ids: z.array(taskIdSchema).min(1).max(MAX_IDS_PER_WATCH, `at most ${MAX_IDS_PER_WATCH} ids`),
  server: serverUrlSchema,
  token: z.string().optional(),
  grace: durationSchema,
  timeout: durationSchema.pipe(z.number().min(1, 'must be positive')).optional(),
  watchTimeout: durationSchema.pipe(z.number().min(1_000, 'at least 1s').max(MAX_WATCH_TIMEOUT_MS, `at most ${formatDuration(MAX_WATCH_TIMEOUT_MS)}`)),
});

export const workCommand: CommandDefinition<WorkArgs> = {
  command: 'work <ids..>',
  describe: 'Watch tasks and stop them when cancelled; with -- COMMAND, run it once per task',
  builder: (yargs) =>
    withClientOptions(yargs)
      .positional('ids', { type: 'string', array: true, describe: 'Task ids to watch' })
      .option('grace', { type: 'string', default: '10s', describe: 'Time between SIGTERM and SIGKILL when stopping a command' })
      .option('timeout', { type: 'string', describe: 'Local deadline per task, handled like a cancel' })
      .option('watch-timeout', { type: 'string', default: formatDuration(DEFAULT_WATCH_TIMEOUT_MS), describe: 'How long each long poll may be held' })
      .option('json', { type: 'boolean', default: false, describe: 'Print NDJSON events' })
      .option('tui', { type: 'boolean', default: true, describe: 'Draw the live screen on a terminal (--no-tui for plain lines)' })
      .example('taskctl work 1234 5678', 'watch two tasks until both are cancelled')
      .example('taskctl work 1234 -- ./train.sh --epochs 3', 'run train.sh for task 1234, stop it on cancel')
      .epilogue(
        'The command gets TASKCTL_TASK_ID in its environment and runs in its own process group; on cancel it gets ' +
          'SIGTERM, then SIGKILL after --grace.\n\nExit codes: 0 every task cancelled through the server or its command ' +
          'exited 0; 1 a command failed; 2 usage error; 124 a task hit --timeout; 130 interrupted.',
      ) as never,
  run: async (args, { stdout, stderr, stdin, env, shutdown }) => {
    const options = validateOptions(optionsSchema, {
      ...resolveClientOptions(args, env),
      ids: [...new Set(args.ids.map(String))],
      grace: args.grace,
      timeout: args.timeout,
      watchTimeout: args.watchTimeout,
    });
    const command = args['--']?.map(String);
    const hasCommand = command !== undefined && command.length > 0;
    const client = new TaskctlClient(options);
    const store = new WorkStore(initialWorkState(client.server, options.ids, hasCommand ? 'command' : 'watch', Date.now()));
    // q on the screen stops the work the way SIGINT does.
    const quit = new AbortController();
    const stopRendering = wantsTui(stdout, env, args)
      ? await import('../../ui/render-work.tsx').then((ui) => ui.renderWork(store, { stdout, stderr, stdin }, (reason) => quit.abort(reason)))
      : args.json
        ? printJsonEvents(store, stdout)
        : printPlainEvents(store, stdout, stderr);
    try {
      return await runWork({
        client,
        store,
        command: hasCommand ? command : undefined,
        graceMs: options.grace,
        taskTimeoutMs: options.timeout,
        watchTimeoutMs: options.watchTimeout,
        env,
        shutdown: AbortSignal.any([shutdown, quit.signal]),
      });
    } finally {
      await stopRendering();
    }
  },
};
