import { z } from 'zod';
import { parseDuration } from '../core/duration.ts';
import { taskIdProblem } from '../core/task-id.ts';
import { TASK_LIFE_STATES, type TaskLifeState } from '../core/task-status.ts';
import { MAX_IDS_PER_WATCH, MAX_PARENTS_PER_TASK, MAX_REASON_CHARS } from './limits.ts';

/** A task id under the core's rules. */
export const taskIdSchema = z.string().superRefine((id, ctx) => {
  const problem = taskIdProblem(id);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** A duration as people write it ("30s"), parsed to milliseconds. */
export const durationSchema = z
  .string()
  .max(32)
  .transform((text, ctx) => {
    try {
      return parseDuration(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

export const cancelRequestSchema = z
  .strictObject({
    // No NUL: PostgreSQL's text cannot hold one, and every store must keep what any store keeps.
    reason: z
      .string()
      .max(MAX_REASON_CHARS)
      .refine((text) => !text.includes('\0'), 'may not contain a NUL character')
      .optional(),
    /** Cancel later: after this long ("2h")… */
    after: durationSchema.optional(),
    /** …or at this time (ISO 8601). */
    at: z.iso.datetime({ offset: true }).optional(),
  })
  .refine((body) => body.after === undefined || body.at === undefined, 'give "after" or "at", not both');
export type CancelRequest = z.input<typeof cancelRequestSchema>;

/**
 * A list of task ids, checked in one plain loop: a watch may name 10,000 ids, and a schema per element
 * cost the server ~12 ms of event loop per such watch against ~0.5 ms for the loop. The first problem is
 * reported with the id's position, as zod would.
 */
const idListSchema = z
  .array(z.unknown())
  .min(1, 'name at least one id')
  .max(MAX_IDS_PER_WATCH, `at most ${MAX_IDS_PER_WATCH} ids per watch`)
  .transform((ids, ctx) => {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const problem = typeof id === 'string' ? taskIdProblem(id) : 'expected a string';
      if (problem) {
        ctx.addIssue({ code: 'custom', message: problem, path: [i] });
        return z.NEVER;
      }
    }
    return ids as string[];
  });

/** A task's direct parents: a cancel of any of them (or of their ancestors) stops the task. */
export const parentListSchema = z
  .array(taskIdSchema)
  .max(MAX_PARENTS_PER_TASK, `at most ${MAX_PARENTS_PER_TASK} parents per task`)
  .transform((parents) => [...new Set(parents)]);

export const workerIdentitySchema = z.strictObject({
  id: z.string().min(1).max(128),
  host: z.string().max(256),
  pid: z.number().int().nonnegative(),
});

export const watchRequestSchema = z.strictObject({
  ids: idListSchema,
  timeout: durationSchema.optional(),
  /** Who watches: recorded with the tasks' statuses. */
  worker: workerIdentitySchema.optional(),
  /** The parents of every id watched: recorded, and a cancel of any ancestor answers the watch. */
  parents: parentListSchema.optional(),
  /**
   * Asks the server to keep these ids as a watch session: the answer names it, and the next poll names the
   * session instead of the ids (see watchSessionRequestSchema). A server may decline (few ids, say).
   */
  keep: z.literal(true).optional(),
  /**
   * A watch session of this client's that this watch takes the place of: the server ends it, so its ids
   * stop counting against the cap. Sent by a worker whose poll of that session failed and which therefore
   * sends its ids again (an answer lost on the way may have carried a cancel).
   */
  replaces: z.string().min(1).max(64).optional(),
});

/**
 * A poll that names a watch session instead of its ids: the server kept the ids (less those it answered as
 * cancelled), so the poll carries only what changed, `remove` for ids whose tasks ended some other way. A
 * session the server does not know (it expired, the server restarted, another server answers) is a 409
 * `session_unknown`, and the client asks again with its ids.
 */
export const watchSessionRequestSchema = z.strictObject({
  session: z.string().min(1).max(64),
  remove: z.array(z.string().max(1_024)).max(MAX_IDS_PER_WATCH).optional(),
  timeout: durationSchema.optional(),
});

export const reportRequestSchema = z.strictObject({
  outcome: z.enum(['cancelled', 'succeeded', 'failed', 'timed_out', 'stopped']),
  exitCode: z.number().int().nullable().optional(),
  signal: z.string().max(32).nullable().optional(),
  /** With `stopped`: what stopped the worker (`SIGTERM`, `q`, …). */
  stoppedBy: z.string().max(64).optional(),
  worker: workerIdentitySchema.optional(),
  /** The task's parents, recorded as a watch records them (for a task that ended before any watch got through). */
  parents: parentListSchema.optional(),
});
export type ReportRequest = z.input<typeof reportRequestSchema>;

/**
 * Who asked for a cancel. `route` is a plain string so that a client still reads the answers of a newer
 * server that knows more routes; today: seed, v1, scheduled, deadline.
 */
export const cancelSourceSchema = z.object({
  name: z.string(),
  address: z.string(),
  route: z.string(),
  /** For a task stopped through a parent cancelled before it was linked: the token that made the link. */
  linkedBy: z.string().optional(),
});
export type CancelSourceReply = z.infer<typeof cancelSourceSchema>;

export const taskStatusSchema = z.object({
  state: z.enum(TASK_LIFE_STATES as readonly [TaskLifeState, ...TaskLifeState[]]),
  since: z.iso.datetime(),
  lastSeenAt: z.iso.datetime().optional(),
  worker: z.object({ id: z.string(), host: z.string(), pid: z.number() }).optional(),
  /** The token whose watch started this run (see TaskStatus.runBy); absent from older servers. */
  runBy: z.string().optional(),
  /** The token whose report set this state, when a report did; absent from older servers. */
  reportedBy: z.string().optional(),
  exitCode: z.number().nullable().optional(),
  signal: z.string().nullable().optional(),
  /** When `stopped`: what stopped its worker; absent from servers older than the state. */
  stoppedBy: z.string().optional(),
  /** Why its cancel was requested when not by a cancel of its own: "parent job-42 cancelled". */
  cancelReason: z.string().optional(),
  /** Who asked for this run's cancel; absent from servers older than the field. */
  cancelledBy: cancelSourceSchema.optional(),
  /** The last progress its worker reported (`work --progress`); absent from servers older than the field. */
  progress: z.object({ text: z.string(), at: z.iso.datetime() }).optional(),
  history: z.array(z.object({ state: z.string(), at: z.iso.datetime() })),
});
export type TaskStatusReply = z.infer<typeof taskStatusSchema>;

/** A task in a listing (GET /v1/tasks, a page of children): its status, and why it was cancelled. */
export const listedTaskSchema = taskStatusSchema.extend({
  id: z.string(),
  /** Why it was cancelled, as its cancel record says (`cancel --reason`, or "parent job-42 cancelled"); absent from older servers. */
  reason: z.string().optional(),
});

export const TASK_STATE_VALUES = TASK_LIFE_STATES as readonly [TaskLifeState, ...TaskLifeState[]];

export const taskListQuerySchema = z.strictObject({
  state: z.enum(TASK_STATE_VALUES).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  /** The last id of the page before: a task id. */
  after: taskIdSchema.optional(),
  /** Only the children of this task. */
  parent: taskIdSchema.optional(),
});
export type WatchRequest = z.input<typeof watchRequestSchema>;

/** GET /v1/watch?ids=a,b&ids=c&timeout=30s: the same request in a query string, its ids already split. */
export const watchQuerySchema = z.strictObject({
  ids: idListSchema,
  timeout: durationSchema.optional(),
  parents: parentListSchema.optional(),
});

const isoTime = z.iso.datetime();

export const cancelRecordSchema = z.object({
  id: z.string(),
  reason: z.string().optional(),
  cancelledAt: isoTime,
  expiresAt: isoTime,
  /**
   * In a task's status, or as the watch loop reports it: the ancestor whose cancel stopped this task, which
   * has no cancel of its own (the times are the ancestor's, the reason "parent <id> cancelled").
   */
  parent: z.string().optional(),
  /** Who asked; absent from servers older than the field, and on records written before it. */
  by: cancelSourceSchema.optional(),
});
export type CancelRecordReply = z.infer<typeof cancelRecordSchema>;

export const watchReplySchema = z.object({
  /** The ids cancelled among those watched; empty when the watch timed out. */
  cancelled: z.array(z.string()),
  /** The records of the ids cancelled themselves. */
  records: z.array(cancelRecordSchema),
  /**
   * Only for a watch that named parents: the record of the ancestor whose cancel stopped every id watched.
   * The ids in `cancelled` without a record of their own are stopped by it, with the reason "parent <id>
   * cancelled". One record for them all: a parent may stop 10,000 ids in one answer.
   */
  parent: cancelRecordSchema.optional(),
  /** When the server keeps the ids as a watch session: the name the next poll gives instead of them. */
  session: z.string().optional(),
});
export type WatchReply = z.infer<typeof watchReplySchema>;

export const scheduledReplySchema = z.object({
  id: z.string(),
  scheduledAt: isoTime,
  reason: z.string().optional(),
});
export type ScheduledReply = z.infer<typeof scheduledReplySchema>;

/** POST /v1/tasks/:id/unschedule: whether a scheduled cancel was dropped, and when it would have been made. */
export const unscheduledReplySchema = z.object({ id: z.string(), unscheduled: z.boolean(), scheduledAt: isoTime.optional() });
export type UnscheduledReply = z.infer<typeof unscheduledReplySchema>;

/** A cancel scheduled for later: when, why, and who scheduled it. */
export const scheduleSchema = z.object({ at: isoTime, reason: z.string().optional(), by: cancelSourceSchema.optional() });

/** GET /v1/schedules: ?limit=100&after=<last id of the page before>. */
export const scheduleListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  /** The last id of the page before: a task id. */
  after: taskIdSchema.optional(),
});

/** GET /v1/schedules: the cancels scheduled for later, in task id order. */
export const scheduleListReplySchema = z.object({
  schedules: z.array(scheduleSchema.extend({ id: z.string() })),
  /** Pass as `after` for the next page; absent on the last one. */
  next: z.string().optional(),
});
export type ScheduleListReply = z.infer<typeof scheduleListReplySchema>;

export const taskReplySchema = z.object({
  id: z.string(),
  cancelled: z.boolean(),
  record: cancelRecordSchema.optional(),
  /** A cancel scheduled for later, if any. */
  scheduled: scheduleSchema.optional(),
  /** Absent when no worker ever watched the task and nobody cancelled it. */
  status: taskStatusSchema.optional(),
  /** Its direct parents, when it declared any. */
  parents: z.array(z.string()).optional(),
  /** The first page of its children, when it has any; `next` pages on with GET /v1/tasks?parent=ID&after=NEXT. */
  children: z.object({ tasks: z.array(listedTaskSchema), next: z.string().optional() }).optional(),
});

export const taskListReplySchema = z.object({
  tasks: z.array(listedTaskSchema),
  /** Pass as `after` for the next page; absent on the last one. */
  next: z.string().optional(),
});
export type TaskListReply = z.infer<typeof taskListReplySchema>;
export type TaskReply = z.infer<typeof taskReplySchema>;

/**
 * GET /v1/me: who the token sent is. Without a token the answer is `caller`-less on a server that asks for
 * one (sign in first); a wrong token is a 401. `rights` are what the token's role may do (list, cancel,
 * ...): a client shows a control only when the right it needs is there, rather than knowing which roles
 * hold which rights.
 */
export const meReplySchema = z.object({
  /** Whether the server asks for tokens at all; false on a loopback server without any. */
  tokensRequired: z.boolean(),
  /** `scope`: the patterns of a token scoped to some tasks (`ids=` in the tokens file); absent for one that reaches every task. */
  caller: z.object({ name: z.string(), role: z.string(), rights: z.array(z.string()), scope: z.array(z.string()).optional() }).optional(),
});
export type MeReply = z.infer<typeof meReplySchema>;

export const errorReplySchema = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});

export const healthReplySchema = z.object({
  status: z.enum(['ok', 'degraded']),
  store: z.object({ kind: z.string(), ok: z.boolean(), error: z.string().optional() }),
  openWatches: z.number(),
});
export type HealthReply = z.infer<typeof healthReplySchema>;

/** The first problem zod found, as one line a person can act on. */
export function firstProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid request';
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return `${where}${issue.message}`;
}
