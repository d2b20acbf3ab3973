import { formatDuration } from '../../core/duration.ts';
import { ancestorInReason } from '../../core/task-scope.ts';
import type { ChildrenPage } from '../../core/task-service.ts';
import type { TaskLifeState, TaskStatus } from '../../core/task-status.ts';
import { nextTurn } from '../../core/turns.ts';
import { HttpError } from '../../protocol/errors.ts';
import { MAX_SCHEDULE_AHEAD_MS } from '../../protocol/limits.ts';
import {
  cancelRequestSchema,
  reportRequestSchema,
  type ScheduledReply,
  type ScheduleListReply,
  scheduleListQuerySchema,
  type UnscheduledReply,
  type TaskListReply,
  taskListQuerySchema,
  type TaskReply,
} from '../../protocol/schemas.ts';
import { isDeadlineReason } from '../../protocol/deadline.ts';
import { anyRecordToWire, isoTime, recordToWire, statusToWire } from '../../protocol/wire.ts';
import type { AppContext } from '../app.ts';
import { checkScope } from '../auth.ts';
import { readJson, sendJson } from '../http-io.ts';
import { parseInput, queryObject, type Route } from '../router.ts';
import { taskIdParam } from './seed.ts';

// Children a task's status shows; GET /v1/tasks?parent=ID pages through all of them.
const STATUS_CHILDREN = 100;

/** Cancels, statuses, listings and reports: the /v1/tasks family. */
export function taskRoutes(app: Pick<AppContext, 'tasks' | 'clock' | 'options' | 'sourceOf' | 'linkerOf'>): Route[] {
  const { tasks, clock } = app;
  return [
    {
      // 200 with the record once stored; with "after" or "at" in the future, 202 with the schedule.
      method: 'POST',
      pattern: /^\/v1\/tasks\/([^/]+)\/cancel$/,
      right: 'cancel',
      scope: 'path-id',
      handle: async (ctx) => {
        const id = taskIdParam(ctx);
        const body = parseInput(cancelRequestSchema, await readJson(ctx.req, app.options.maxBodyBytes));
        // "parent P cancelled" is passed down a tree as naming the task cancelled at its top (reasonViaParent):
        // a canceller's words of that form would pass for an ancestor that never was.
        if (body.reason !== undefined && ancestorInReason(body.reason) !== undefined) {
          throw new HttpError('invalid_request', 'reason: "parent ID cancelled" is how the server tells a stop through an ancestor; word it otherwise');
        }
        const now = clock.now();
        const at = body.after !== undefined ? now + body.after : body.at !== undefined ? Date.parse(body.at) : now;
        // Checked before anything is stored: a schedule no clock can reach would never fire.
        if (!(at - now <= MAX_SCHEDULE_AHEAD_MS)) {
          throw new HttpError('invalid_request', `${body.after !== undefined ? 'after' : 'at'}: at most ${formatDuration(MAX_SCHEDULE_AHEAD_MS)} ahead`);
        }
        if (at > now) {
          // A worker's deadline is recorded as such, so the audit tells it from an operator's schedule.
          const schedule = await tasks.schedule(id, at, body.reason, app.sourceOf(ctx, isDeadlineReason(body.reason) ? 'deadline' : 'scheduled'));
          const reply: ScheduledReply = { id, scheduledAt: isoTime(schedule.at) };
          if (schedule.reason !== undefined) reply.reason = schedule.reason;
          sendJson(ctx.res, 202, reply);
          return;
        }
        const record = await tasks.cancel(id, app.sourceOf(ctx, 'v1'), body.reason);
        // The record kept may be one an ancestor's cancel gave the task: answered as the caller may read it.
        sendJson(ctx.res, 200, recordToWire(tasks.recordAsRead(record, ctx.caller.scope)));
      },
    },
    {
      // Drops the cancel scheduled for the task: 200 {"unscheduled": true} when there was one, false when
      // not (nothing to drop is not an error). A cancel already made stays: it sticks to the id for --ttl.
      method: 'POST',
      pattern: /^\/v1\/tasks\/([^/]+)\/unschedule$/,
      right: 'cancel',
      scope: 'path-id',
      handle: async (ctx) => {
        const id = taskIdParam(ctx);
        const dropped = await tasks.unschedule(id);
        const reply: UnscheduledReply = { id, unscheduled: dropped !== undefined, ...(dropped ? { scheduledAt: isoTime(dropped.at) } : {}) };
        sendJson(ctx.res, 200, reply);
      },
    },
    {
      // Whether the task is cancelled, and what the server knows of its life.
      method: 'GET',
      pattern: /^\/v1\/tasks\/([^/]+)$/,
      right: 'status',
      scope: 'path-id',
      handle: async (ctx) => {
        const id = taskIdParam(ctx);
        const { record, schedule, status, parents, children } = await tasks.task(id, STATUS_CHILDREN, ctx.caller.scope);
        const reply: TaskReply = { id, cancelled: record !== undefined };
        if (record) reply.record = anyRecordToWire(record);
        if (schedule) {
          reply.scheduled = {
            at: isoTime(schedule.at),
            ...(schedule.reason === undefined ? {} : { reason: schedule.reason }),
            ...(schedule.by === undefined ? {} : { by: { ...schedule.by } }),
          };
        }
        if (status) reply.status = statusToWire(status);
        // Those the caller's scope covers (TaskService.task): another team's task is not named, even as a parent.
        if (parents.length > 0) reply.parents = [...parents];
        if (children.ids.length > 0) reply.children = childrenPage(children, STATUS_CHILDREN);
        sendJson(ctx.res, 200, reply);
      },
    },
    {
      // Statuses in id order, one page at a time: ?state=lost&limit=100&after=<last id of the page before>.
      method: 'GET',
      pattern: /^\/v1\/tasks$/,
      right: 'list',
      handle: async (ctx) => {
        const query = parseInput(taskListQuerySchema, queryObject(ctx.search));
        // A page is a few milliseconds of work: it takes its turn, so a crowd of listings arriving at once
        // does not hold up every other request until the last page is out.
        await nextTurn();
        if (query.parent !== undefined) {
          // A parent's children, paged by child id; with a state, a page holds those of its children in it.
          checkScope(ctx.caller, [query.parent]);
          const page = childrenPage(await tasks.children(query.parent, query.after, query.limit + 1, ctx.caller.scope), query.limit, query.state);
          sendJson(ctx.res, 200, page);
          return;
        }
        // Each reads as GET /v1/tasks/:id shows it (see TaskService.list); a scoped token's page holds only its own tasks.
        const { statuses, reasons, next } = await tasks.list(query, ctx.caller.scope);
        const reply: TaskListReply = {
          tasks: statuses.map((s) => listedTask(s.id, s, reasons.get(s.id))),
        };
        if (next !== undefined) reply.next = next;
        sendJson(ctx.res, 200, reply);
      },
    },
    {
      // Cancels scheduled for later (cancel --after/--at, a worker's --timeout), in id order, a page at a
      // time: ?limit=100&after=<last id of the page before>. A resource of their own: a scheduled task may
      // have no status yet, or a status of its own beside the schedule.
      method: 'GET',
      pattern: /^\/v1\/schedules$/,
      right: 'list',
      handle: async (ctx) => {
        const query = parseInput(scheduleListQuerySchema, queryObject(ctx.search));
        await nextTurn();
        // One more than asked tells whether another page follows; a scoped token's page holds only its own tasks.
        const found = await tasks.schedules(query.after, query.limit + 1, ctx.caller.scope);
        const page = found.slice(0, query.limit);
        const reply: ScheduleListReply = {
          schedules: page.map((s) => ({
            id: s.id,
            at: isoTime(s.at),
            ...(s.reason === undefined ? {} : { reason: s.reason }),
            ...(s.by === undefined ? {} : { by: { ...s.by } }),
          })),
        };
        if (found.length > query.limit) reply.next = page.at(-1)!.id;
        sendJson(ctx.res, 200, reply);
      },
    },
    {
      // A worker's report of how the task ended; idempotent, so workers retry it freely.
      method: 'POST',
      pattern: /^\/v1\/tasks\/([^/]+)\/report$/,
      right: 'report',
      scope: 'path-id',
      handle: async (ctx) => {
        const id = taskIdParam(ctx);
        const body = parseInput(reportRequestSchema, await readJson(ctx.req, app.options.maxBodyBytes));
        const { parents, ...report } = body;
        if (parents) checkScope(ctx.caller, parents);
        // As the caller may read it (TaskService.report): a stop through an ancestor outside its scope names nothing of it.
        const status = await tasks.report(id, report, parents, ctx.caller.scope, app.linkerOf(ctx));
        sendJson(ctx.res, 200, { id, ...statusToWire(status) });
      },
    },
  ];
}

/**
 * A page of children as the wire lists tasks: those of `found.ids` (one more than `limit` were asked for,
 * telling whether another page follows) that have a status, optionally only those in `state`.
 */
function childrenPage(found: ChildrenPage, limit: number, state?: TaskLifeState): TaskListReply {
  const page = found.ids.slice(0, limit);
  const byId = new Map(found.statuses.map((s) => [s.id, s]));
  const tasks = page.flatMap((id) => {
    const status = byId.get(id);
    if (!status || (state !== undefined && status.state !== state)) return [];
    return [listedTask(id, status, found.reasons.get(id))];
  });
  return found.ids.length > limit ? { tasks, next: page.at(-1)! } : { tasks };
}

/** A task as a listing shows it: its status, and the reason of its cancel when there is one. */
function listedTask(id: string, status: TaskStatus, reason: string | undefined): TaskListReply['tasks'][number] {
  return reason === undefined ? { id, ...statusToWire(status) } : { id, ...statusToWire(status), reason };
}
