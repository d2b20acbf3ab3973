import { z } from 'zod';
import { ClientError, TaskctlClient } from '../../client/client.ts';
import { taskIdProblem } from '../../core/task-id.ts';
import { MAX_REASON_CHARS } from '../../protocol/limits.ts';
import { durationSchema } from '../../protocol/schemas.ts';
import { resolveClientOptions } from '../client-options.ts';
import { type CommandContext, ExitCode } from '../context.ts';
import { serverUrlSchema, validateOptions } from '../options.ts';
import type { CancelArgs } from './cancel.ts';

const optionsSchema = z.object({
  server: serverUrlSchema,
  token: z.string().optional(),
  reason: z.string().max(MAX_REASON_CHARS, `at most ${MAX_REASON_CHARS} characters`).optional(),
  after: durationSchema.pipe(z.number().min(1, 'must be positive')).optional(),
  at: z
    .string()
    .refine((text) => !Number.isNaN(Date.parse(text)), 'not a time; use ISO 8601, e.g. 2026-12-01T18:00:00Z')
    .transform((text) => new Date(text).toISOString())
    .optional(),
});

// Cancels in flight at once when many ids are given.
const CONCURRENCY = 8;

export async function runCancel(args: CancelArgs, { stdout, stderr, env, shutdown }: CommandContext): Promise<number> {
  const options = validateOptions(optionsSchema, { ...resolveClientOptions(args, env), reason: args.reason, after: args.after, at: args.at });
  // A time already past means now.
  const later = options.after !== undefined || (options.at !== undefined && Date.parse(options.at) > Date.now());
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
          if (later) {
            const when = options.at !== undefined ? { at: options.at } : { afterMs: options.after! };
            const scheduled = await client.scheduleCancel(id, { ...when, reason: options.reason }, { signal: shutdown });
            stdout.write(args.json ? `${JSON.stringify(scheduled)}\n` : `scheduled the cancel of ${id} at ${scheduled.scheduledAt}\n`);
            continue;
          }
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
}
