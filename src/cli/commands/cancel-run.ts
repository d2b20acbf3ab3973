import { z } from 'zod';
import { ClientError, TaskctlClient } from '../../client/client.ts';
import { terminalSafeJson } from '../../core/printable.ts';
import { preview, taskIdProblem } from '../../core/task-id.ts';
import { formatDuration } from '../../core/duration.ts';
import { MAX_REASON_CHARS, MAX_SCHEDULE_AHEAD_MS } from '../../protocol/limits.ts';
import { cancelOutcome } from '../cancel-outcome.ts';
import { exitCodeFor, readClientTls, resolveClientOptions } from '../client-options.ts';
import { type CommandContext, ExitCode } from '../context.ts';
import { durationOptionSchema, clientTokenSchema, serverUrlSchema, validateOptions } from '../options.ts';
import type { CancelArgs } from './cancel.ts';

const optionsSchema = z.object({
  server: serverUrlSchema,
  token: clientTokenSchema,
  reason: z.string().max(MAX_REASON_CHARS, `at most ${MAX_REASON_CHARS} characters`).optional(),
  after: durationOptionSchema
    .pipe(
      z
        .number()
        .min(1, 'must be positive')
        .max(MAX_SCHEDULE_AHEAD_MS, `at most ${formatDuration(MAX_SCHEDULE_AHEAD_MS)}`),
    )
    .optional(),
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
  const client = new TaskctlClient({ ...options, ...readClientTls(args, env) });
  let exitCode: number = ExitCode.ok;
  const fail = (id: string, message: string, code: number) => {
    stderr.write(`taskctl: cannot cancel ${preview(id, 80)}: ${message}\n`);
    exitCode = Math.max(exitCode, code);
  };
  const ids = [...new Set(args.ids.map(String))];
  const valid = ids.filter((id) => {
    const problem = taskIdProblem(id);
    if (problem) fail(id, problem, ExitCode.failure);
    return !problem;
  });
  // A failure that is not about one id (unreachable, not taskctl, token refused) ends the run in one line.
  let fatal: ClientError | undefined;
  const queue = [...valid];
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
      for (let id = queue.shift(); id !== undefined && !fatal; id = queue.shift()) {
        try {
          if (args.unschedule) {
            const dropped = await client.unschedule(id, { signal: shutdown });
            if (args.json) stdout.write(`${terminalSafeJson(dropped)}\n`);
            else
              stdout.write(dropped.unscheduled ? `dropped the cancel of ${id} scheduled at ${dropped.scheduledAt}\n` : `no cancel was scheduled for ${id}\n`);
            continue;
          }
          if (later) {
            const when = options.at !== undefined ? { at: options.at } : { afterMs: options.after! };
            const scheduled = await client.scheduleCancel(id, { ...when, reason: options.reason }, { signal: shutdown });
            stdout.write(args.json ? `${terminalSafeJson(scheduled)}\n` : `scheduled the cancel of ${id} at ${scheduled.scheduledAt}\n`);
            continue;
          }
          const record = await client.cancel(id, { reason: options.reason, signal: shutdown });
          const outcome = cancelOutcome(id, options.reason, record);
          if (!args.json) stdout.write(`${outcome.text}\n`);
          else {
            stdout.write(`${terminalSafeJson(record)}\n`);
            // The record on stdout says whose cancel stands; that the reason given went unrecorded, only this.
            if (outcome.reasonDropped) stderr.write(`taskctl: ${outcome.text}\n`);
          }
        } catch (error) {
          if (shutdown.aborted) return;
          if (!(error instanceof ClientError)) throw error;
          // One line for the whole run when the trouble is the server, not the id.
          if (error.kind === 'rejected') fail(id, error.message, exitCodeFor(error));
          else fatal ??= error;
        }
      }
    }),
  );
  client.close();
  if (shutdown.aborted) return 130;
  if (fatal) {
    stderr.write(`taskctl: ${fatal.message}\n`);
    return exitCodeFor(fatal);
  }
  return exitCode;
}
