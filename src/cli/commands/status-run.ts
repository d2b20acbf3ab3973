import { z } from 'zod';
import { ClientError, TaskctlClient } from '../../client/client.ts';
import { formatDuration } from '../../core/duration.ts';
import type { TaskLifeState } from '../../core/task-status.ts';
import { printable, terminalSafeJson } from '../../core/printable.ts';
import { preview, taskIdProblem } from '../../core/task-id.ts';
import { type CancelSourceReply, taskIdSchema, type TaskReply, type TaskStatusReply } from '../../protocol/schemas.ts';
import { canceller } from '../cancel-outcome.ts';
import { exitCodeFor, readClientTls, resolveClientOptions } from '../client-options.ts';
import { type CommandContext, ExitCode } from '../context.ts';
import { clientTokenSchema, serverUrlSchema, validateOptions } from '../options.ts';
import type { LsArgs, StatusArgs } from './status.ts';

const connectionSchema = z.object({ server: serverUrlSchema, token: clientTokenSchema });
const lsSchema = connectionSchema.extend({
  parent: taskIdSchema.optional(),
  // The CLI pages through the server's listing, so any count from 1 up will do.
  limit: z.number({ error: 'must be a whole number, e.g. 100' }).int('must be a whole number, e.g. 100').min(1, 'at least 1'),
});

interface Row {
  id: string;
  state: string;
  since?: string | undefined;
  worker?: string | undefined;
  detail?: string | undefined;
}

/** "cancelled by ops", with the route when it was not a plain API cancel: "cancelled by ci (deadline)". */
function cancelledBy(by: CancelSourceReply | undefined): string {
  return by ? `cancelled by ${canceller(by)}` : '';
}

/**
 * A row of the table for one task's status; `cancel` is what the server knows of its cancel, if any, and
 * `more` is detail to add (its parents, its children).
 */
function toRow(
  id: string,
  status: TaskStatusReply | undefined,
  cancel: { reason?: string | undefined; by?: CancelSourceReply | undefined } | undefined,
  now: number,
  more: string[] = [],
): Row {
  // A task stopped by its parent's cancel has no record of its own in a listing: its status says why.
  const reason = cancel?.reason ?? status?.cancelReason;
  const by = cancel?.by ?? status?.cancelledBy;
  if (!status)
    return {
      id,
      state: cancel !== undefined ? 'cancel_requested' : 'unknown',
      detail: [cancelledBy(by), reason ? `reason: ${reason}` : '', ...more].filter(Boolean).join(', '),
    };
  const detail = [
    status.stoppedBy ? `stopped by ${status.stoppedBy}` : '',
    cancelledBy(by),
    reason ? `reason: ${reason}` : '',
    status.exitCode !== undefined && status.exitCode !== null ? `exit ${status.exitCode}` : '',
    status.signal ? `signal ${status.signal}` : '',
    status.lastSeenAt ? `last seen ${formatDuration(now - Date.parse(status.lastSeenAt))} ago` : '',
    status.progress ? `progress: ${status.progress.text} (${formatDuration(now - Date.parse(status.progress.at))} ago)` : '',
    ...more,
  ].filter(Boolean);
  return {
    id,
    state: status.state,
    since: `${formatDuration(now - Date.parse(status.since))} ago`,
    worker: status.worker ? `${status.worker.host}:${status.worker.pid} (${status.worker.id})` : undefined,
    detail: detail.join(', '),
  };
}

/** A listed task's cancel as toRow takes it: the reason the listing gives, if any. */
function reasonOf(task: { reason?: string | undefined }): { reason: string } | undefined {
  return task.reason === undefined ? undefined : { reason: task.reason };
}

function printTable(rows: Row[], stdout: NodeJS.WritableStream): void {
  const header: Row = { id: 'TASK', state: 'STATE', since: 'SINCE', worker: 'WORKER', detail: 'DETAIL' };
  const all = [header, ...rows];
  const keys = ['id', 'state', 'since', 'worker', 'detail'] as const;
  // Everything in a row came from the server: shown printable, never acted on by the terminal.
  const cells = all.map((row) => keys.map((key) => printable(row[key] ?? '')));
  const widths = keys.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  for (const row of cells)
    stdout.write(
      `${row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
}

function failed(error: unknown, stderr: NodeJS.WritableStream): number {
  if (!(error instanceof ClientError)) throw error;
  stderr.write(`taskctl: ${error.message}\n`);
  return exitCodeFor(error);
}

export async function runStatus(args: StatusArgs, { stdout, stderr, env, shutdown }: CommandContext): Promise<number> {
  const client = new TaskctlClient({ ...validateOptions(connectionSchema, resolveClientOptions(args, env)), ...readClientTls(args, env) });
  let exitCode: number = ExitCode.ok;
  const rows: Row[] = [];
  try {
    for (const id of [...new Set(args.ids.map(String))]) {
      const problem = taskIdProblem(id);
      if (problem) {
        stderr.write(`taskctl: ${preview(id, 80)}: ${problem}\n`);
        exitCode = ExitCode.failure;
        continue;
      }
      const task = await client.task(id, { signal: shutdown });
      if (args.json) stdout.write(`${terminalSafeJson(task)}\n`);
      else rows.push(...taskRows(task, Date.now()));
    }
  } catch (error) {
    return failed(error, stderr);
  } finally {
    client.close();
  }
  if (!args.json && rows.length > 0) printTable(rows, stdout);
  return exitCode;
}

/** "cancel scheduled at <time> in 2h by ops (reason)": a cancel scheduled for later, as a row's detail shows it. */
function scheduledDetail(scheduled: NonNullable<TaskReply['scheduled']>, now: number): string {
  return `cancel scheduled at ${scheduled.at} in ${formatDuration(Math.max(0, Date.parse(scheduled.at) - now))}${scheduled.by ? ` by ${scheduled.by.name}` : ''}${scheduled.reason ? ` (${scheduled.reason})` : ''}`;
}

/** A task's row, then one indented row per child the server listed with it. */
function taskRows(task: TaskReply, now: number): Row[] {
  const children = task.children;
  const scheduled = task.scheduled;
  const more = [
    // A cancel scheduled (cancel --after/--at, or a worker's --timeout) shows, whatever the task's state.
    scheduled ? scheduledDetail(scheduled, now) : '',
    task.parents ? `parents: ${task.parents.join(' ')}` : '',
    children ? `${children.next ? 'first ' : ''}${children.tasks.length} ${children.tasks.length === 1 ? 'child' : 'children'} below` : '',
  ];
  const row = toRow(task.id, task.status, task.record, now, more);
  // Never watched nor cancelled, but a cancel is on its way: say so rather than "unknown".
  const rows = [row.state === 'unknown' && scheduled ? { ...row, state: 'scheduled' } : row];
  for (const child of children?.tasks ?? []) rows.push({ ...toRow(child.id, child, reasonOf(child), now), id: `  ${child.id}` });
  if (children?.next) rows.push({ id: '  …', state: '', detail: `more: taskctl ls --parent ${task.id}` });
  return rows;
}

export async function runLs(args: LsArgs, { stdout, stderr, env, shutdown }: CommandContext): Promise<number> {
  const { parent, limit, ...connection } = validateOptions(lsSchema, { ...resolveClientOptions(args, env), parent: args.parent, limit: args.limit });
  const client = new TaskctlClient({ ...connection, ...readClientTls(args, env) });
  const rows: Row[] = [];
  // "scheduled" is no state a status has: it asks for the schedules alone.
  const onlyScheduled = args.state === 'scheduled';
  if (onlyScheduled && parent !== undefined) {
    client.close();
    stderr.write('taskctl: --state scheduled lists the cancels scheduled for later, of every task; it does not go with --parent\n');
    return ExitCode.usage;
  }
  try {
    let after: string | undefined;
    let listed = 0;
    if (!onlyScheduled)
      do {
        const page = await client.tasks(
          { state: args.state as TaskLifeState | undefined, parent, limit: Math.min(500, limit - listed), after },
          { signal: shutdown },
        );
        for (const task of page.tasks) {
          if (args.json) stdout.write(`${terminalSafeJson(task)}\n`);
          else rows.push(toRow(task.id, task, reasonOf(task), Date.now()));
        }
        listed += page.tasks.length;
        after = page.next;
      } while (after !== undefined && listed < limit);
    // Without a filter, cancels scheduled for later show too: beside the task's own row when it has one,
    // as a row of their own (state "scheduled") when nothing else is known of the task yet.
    if ((args.state === undefined || onlyScheduled) && parent === undefined) {
      const now = Date.now();
      const byId = new Map(rows.map((row) => [row.id, row]));
      let scheduled = 0;
      after = undefined;
      do {
        const page = await client.schedules({ limit: Math.min(500, limit - scheduled), after }, { signal: shutdown });
        for (const { id, ...schedule } of page.schedules) {
          if (args.json) {
            stdout.write(`${terminalSafeJson({ id, scheduled: schedule })}\n`);
            continue;
          }
          const row = byId.get(id);
          if (row) row.detail = [scheduledDetail(schedule, now), row.detail].filter(Boolean).join(', ');
          else rows.push({ id, state: 'scheduled', detail: scheduledDetail(schedule, now) });
        }
        scheduled += page.schedules.length;
        after = page.next;
      } while (after !== undefined && scheduled < limit);
      rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
  } catch (error) {
    return failed(error, stderr);
  } finally {
    client.close();
  }
  if (!args.json) {
    if (rows.length === 0) {
      const where = [args.state ? `in state ${args.state}` : '', parent !== undefined ? `with parent ${printable(parent)}` : ''].filter(Boolean).join(' ');
      stdout.write(where ? `no tasks ${where}\n` : 'no tasks\n');
    } else printTable(rows, stdout);
  }
  return ExitCode.ok;
}
