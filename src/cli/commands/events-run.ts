import { z } from 'zod';
import { ClientError, TaskctlClient } from '../../client/client.ts';
import { EventStream } from '../../client/event-stream.ts';
import { formatDuration } from '../../core/duration.ts';
import { printable, terminalSafeJson } from '../../core/printable.ts';
import { MAX_IDS_PER_WATCH } from '../../protocol/limits.ts';
import type { TaskEventData } from '../../protocol/events.ts';
import { taskIdSchema } from '../../protocol/schemas.ts';
import { exitCodeFor, readClientTls, resolveClientOptions } from '../client-options.ts';
import { type CommandContext, ExitCode } from '../context.ts';
import { clientTokenSchema, serverUrlSchema, validateOptions } from '../options.ts';
import { OutageThinning, untoldSuffix } from '../outage-thinning.ts';
import type { EventsArgs } from './events.ts';

const optionsSchema = z.object({
  server: serverUrlSchema,
  token: clientTokenSchema,
  ids: z.array(taskIdSchema).max(MAX_IDS_PER_WATCH, `at most ${MAX_IDS_PER_WATCH} ids`),
  since: z
    .string()
    .regex(/^\d{1,16}$/, 'must be an event id (a whole number) printed before')
    .transform(Number)
    .optional(),
});

const clock = (iso: string) => iso.slice(11, 19);

/** "by ops", with the route when it was not a plain API cancel: "by ci (deadline)". */
function by(source: { name: string; route: string } | undefined): string {
  return source ? `by ${source.name}${source.route === 'v1' ? '' : ` (${source.route})`}` : '';
}

/** What an event says beyond its change and task, in a few words. */
export function eventDetail(event: TaskEventData, now: number): string {
  const status = event.status;
  const worker = status?.worker ? `${status.worker.host}:${status.worker.pid}` : '';
  switch (event.change) {
    case 'progress':
      return status?.progress?.text ?? '';
    case 'scheduled':
      return event.scheduled
        ? [`at ${event.scheduled.at}`, by(event.scheduled.by), event.scheduled.reason ? `reason: ${event.scheduled.reason}` : ''].filter(Boolean).join(', ')
        : '';
    case 'unscheduled':
      return 'its scheduled cancel was dropped';
    default: {
      const reason = event.record?.reason;
      return [
        status && status.state !== event.change ? `shown as ${status.state}` : '',
        worker,
        status?.stoppedBy ? `stopped by ${status.stoppedBy}` : '',
        by(status?.cancelledBy ?? event.record?.by),
        reason ? `reason: ${reason}` : '',
        status?.exitCode !== undefined && status.exitCode !== null ? `exit ${status.exitCode}` : '',
        status?.signal ? `signal ${status.signal}` : '',
        event.change === 'lost' && status?.lastSeenAt ? `last seen ${formatDuration(now - Date.parse(status.lastSeenAt))} ago` : '',
      ]
        .filter(Boolean)
        .join(', ');
    }
  }
}

/** Prints the event stream until interrupted: a line per change, or NDJSON with --json. */
export async function runEvents(args: EventsArgs, { stdout, stderr, env, shutdown }: CommandContext): Promise<number> {
  const options = validateOptions(optionsSchema, { ...resolveClientOptions(args, env), ids: [...new Set((args.ids ?? []).map(String))], since: args.since });
  const client = new TaskctlClient({ ...options, ...readClientTls(args, env) });
  // A reader that went away (`| head`) ends the command, as an interrupt does.
  const closed = new AbortController();
  const onError = () => closed.abort();
  stdout.on('error', onError);
  const stop = AbortSignal.any([shutdown, closed.signal]);
  const write = (line: string) => {
    if (!stop.aborted) stdout.write(`${line}\n`);
  };
  const outage = new OutageThinning();
  const stream = new EventStream(client, {
    ids: options.ids.length > 0 ? options.ids : undefined,
    states: args.state,
    since: options.since,
    listener: {
      event: (event, seq) => {
        if (args.json) write(terminalSafeJson({ type: 'task', seq, ...event }));
        else write(printable(`${clock(event.at)}  ${event.change.padEnd(16)}  ${event.id}  ${eventDetail(event, Date.now())}`.trimEnd()));
      },
      reset: (reset, seq) => {
        if (args.json) write(terminalSafeJson({ type: 'reset', ...(seq === undefined ? {} : { seq }), ...reset }));
        else
          write(
            printable(
              `${new Date().toISOString().slice(11, 19)}  ${'reset'.padEnd(16)}  events were missed (${reset.reason}); list the tasks again with taskctl ls`,
            ),
          );
      },
      disconnected: (error, attempt, retryInMs) => {
        // A line for each kind of failure, then once a minute: not one per retry while the server is away.
        const told = outage.failed(error.message, Date.now());
        if (told !== undefined)
          stderr.write(
            `taskctl: ${told === 'still' ? 'still ' : ''}${printable(error.message)}; retrying in ${formatDuration(retryInMs)} (attempt ${attempt})\n`,
          );
      },
      reconnected: () =>
        stderr.write(`taskctl: reconnected to ${printable(client.server)}; resuming after event ${stream.lastEventId ?? '?'}${untoldSuffix(outage.ended())}\n`),
    },
  });
  try {
    await stream.run(stop);
    return ExitCode.ok;
  } catch (error) {
    if (!(error instanceof ClientError)) throw error;
    stderr.write(`taskctl: ${error.message}\n`);
    return exitCodeFor(error);
  } finally {
    stdout.off('error', onError);
    client.close();
  }
}
