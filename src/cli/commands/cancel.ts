import { z } from 'zod';
import { ClientError, TaskctlClient } from '../../client/client.ts';
import { taskIdProblem } from '../../core/task-id.ts';
import { MAX_REASON_CHARS } from '../../protocol/limits.ts';
import { resolveClientOptions, serverUrlSchema, withClientOptions } from '../client-options.ts';
import { type CommandDefinition, ExitCode } from '../context.ts';
import { validateOptions } from '../options.ts';

type CancelArgs = { ids: string[]; reason?: string; server?: string; token?: string; json: boolean };

const optionsSchema = z.object({
  server: serverUrlSchema,
  token: z.string().optional(),
  reason: z.string().max(MAX_REASON_CHARS, `at most ${MAX_REASON_CHARS} characters`).optional(),
});

// Cancels in flight at once when many ids are given.
const CONCURRENCY = 8;

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
  run: async (args, { stdout, stderr, env, shutdown }) => {
    const options = validateOptions(optionsSchema, { ...resolveClientOptions(args, env), reason: args.reason });
    const client = new TaskctlClient(options);
    let exitCode: number = ExitCode.ok;
    const fail = (id: string, message: string, code: number) => {
      stderr.write(`taskctl: cannot cancel ${JSON.stringify(id)}: ${message}\n`);
      exitCode = Math.max(exitCode, code);
    };
    const ids = [...new Set(args.ids.map(String))];
    const valid = ids.filter((id) => {
      const problem = taskIdProblem(id);
      if (problem) fail(id, problem, ExitCode.failure);
      return !problem;
    });
    let unreachable: string | undefined;
    const queue = [...valid];
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
        for (let id = queue.shift(); id !== undefined && !unreachable; id = queue.shift()) {
          try {
            const record = await client.cancel(id, { reason: options.reason, signal: shutdown });
            stdout.write(args.json ? `${JSON.stringify(record)}\n` : `cancelled ${id}${record.reason ? ` (reason: ${record.reason})` : ''}\n`);
          } catch (error) {
            if (shutdown.aborted) return;
            if (!(error instanceof ClientError)) throw error;
            // One line for an unreachable server, not one per id.
            if (error.kind === 'unreachable' || error.kind === 'timeout') unreachable ??= error.message;
            else fail(id, error.message, error.status === 503 ? ExitCode.unavailable : ExitCode.failure);
          }
        }
      }),
    );
    client.close();
    if (shutdown.aborted) return 130;
    if (unreachable) {
      stderr.write(`taskctl: ${unreachable}\n`);
      return ExitCode.unavailable;
    }
    return exitCode;
  },
};
