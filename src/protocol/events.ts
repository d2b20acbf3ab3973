// The event stream on the wire (GET /v1/events, Server-Sent Events) and the progress route: shared by the
// server that writes them and the client that reads them.
import { z } from 'zod';
import type { TaskEvent, TaskSnapshot } from '../core/task-events.ts';
import { statusAsRead, TASK_LIFE_STATES, type TaskLifeState } from '../core/task-status.ts';
import { MAX_IDS_PER_WATCH } from './limits.ts';
import { taskIdSchema, type TaskReply, taskReplySchema } from './schemas.ts';
import { isoTime, recordToWire, statusToWire } from './wire.ts';

/**
 * A task as an event shows it: as GET /v1/tasks/:id does, from its own record, schedule and status (the
 * route adds its parents, its children and a record made from a cancelled ancestor's, which an event
 * does not look up). A task with a live cancel record whose worker has not heard yet (or went quiet)
 * reads as cancel_requested, by whoever asked.
 */
export function taskReplyOf({ id, record, schedule, status }: TaskSnapshot): TaskReply {
  const reply: TaskReply = { id, cancelled: record !== undefined };
  if (record) reply.record = recordToWire(record);
  if (schedule) {
    reply.scheduled = {
      at: isoTime(schedule.at),
      ...(schedule.reason === undefined ? {} : { reason: schedule.reason }),
      ...(schedule.by === undefined ? {} : { by: { ...schedule.by } }),
    };
  }
  if (status) {
    reply.status = statusToWire(statusAsRead(status, record));
  }
  return reply;
}

/** The `data:` of a `task` event: what changed and when, then the task as GET /v1/tasks/:id shows it. */
export const taskEventDataSchema = taskReplySchema.extend({
  /** A state, or scheduled, unscheduled (the schedule was dropped) or progress; a plain string so newer servers' kinds still read. */
  change: z.string(),
  at: z.iso.datetime(),
});
export type TaskEventData = z.infer<typeof taskEventDataSchema>;

export function taskEventData(event: TaskEvent): TaskEventData {
  return { change: event.change, at: isoTime(event.at), ...taskReplyOf(event) };
}

/** The `data:` of a `reset` event: events were lost to the client, which should list the tasks again. */
export const resetDataSchema = z.object({
  reason: z.string(),
  /** The oldest event the server still keeps, and the newest. */
  oldest: z.number().optional(),
  last: z.number().optional(),
});
export type ResetData = z.infer<typeof resetDataSchema>;

/** The state a task event shows the task in ("unknown" when the task has no status, e.g. only a schedule). */
export function shownState(data: Pick<TaskReply, 'status'>): TaskLifeState | 'unknown' {
  return data.status?.state ?? 'unknown';
}

const STATE_FILTER_VALUES = [...TASK_LIFE_STATES, 'unknown'] as const;

/** A seq as it travels (`?since=`, `Last-Event-ID`): a whole number. */
export const eventSeqSchema = z
  .string()
  .regex(/^\d{1,16}$/, 'must be an event id (a whole number) the stream sent')
  .transform(Number);

/** GET /v1/events?since=ID&ids=a,b&state=lost,cancelled. */
export const eventsQuerySchema = z.strictObject({
  since: eventSeqSchema.optional(),
  ids: z.array(taskIdSchema).max(MAX_IDS_PER_WATCH, `at most ${MAX_IDS_PER_WATCH} ids`).optional(),
  state: z
    .string()
    .transform((text) => text.split(',').filter(Boolean))
    .pipe(z.array(z.enum(STATE_FILTER_VALUES, { message: `each state one of ${STATE_FILTER_VALUES.join(', ')}` })).min(1, 'name at least one state'))
    .optional(),
});

/** POST /v1/progress: the latest progress line of each of a worker's tasks. */
export const progressRequestSchema = z.strictObject({
  updates: z
    .array(z.strictObject({ id: taskIdSchema, text: z.string().max(1_000) }))
    .min(1, 'send at least one update')
    .max(MAX_IDS_PER_WATCH, `at most ${MAX_IDS_PER_WATCH} updates`),
});
export type ProgressRequest = z.input<typeof progressRequestSchema>;

export const progressReplySchema = z.object({ accepted: z.number() });

/** One Server-Sent Events frame. `data` is one line of JSON (JSON never holds a raw newline). */
export function sseFrame(frame: { id?: number; event?: string; data?: string }): string {
  return `${frame.event !== undefined ? `event: ${frame.event}\n` : ''}${frame.id !== undefined ? `id: ${frame.id}\n` : ''}${frame.data !== undefined ? `data: ${frame.data}\n` : ''}\n`;
}

export { MAX_EVENT_BYTES } from './limits.ts';

/** How often the server writes a comment line on an idle stream, so proxies keep it open. */
export const EVENTS_HEARTBEAT_MS = 15_000;
