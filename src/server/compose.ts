// The composition root: a server's parts made from its config and wired together, in the order a request
// meets them from below. Nothing here listens (listen.ts does); nothing else constructs these parts.

import { Canceler, DEFAULT_SWEEP_INTERVAL_MS } from '../core/canceler.ts';
import { type Clock, systemClock } from '../core/clock.ts';
import { TaskEventHub } from '../core/task-events.ts';
import { TaskService } from '../core/task-service.ts';
import type { TaskUpdate, TaskUpdateListener } from '../core/task-updates.ts';
import { type App, createApp, type ServerObserver } from './app.ts';
import type { ServerConfig } from './listen.ts';
import { ServerMetrics } from './metrics.ts';
import { Webhooks } from './webhooks.ts';

/** A server's parts, wired, ready for listen.ts to serve `app`. */
export interface ComposedServer {
  readonly clock: Clock;
  readonly canceler: Canceler;
  /** Every change to a task, and every reading of one. */
  readonly tasks: TaskService;
  /** Task changes as a durable, ordered sequence (shared by every server on the store). */
  readonly events: TaskEventHub;
  readonly metrics: ServerMetrics;
  /** The HTTP request listener. */
  readonly app: App;
  /** Refuses new requests, stops every timer and subscriber; resolves once webhook tries in flight are put back. */
  stop(): Promise<void>;
}

/** Makes a server's parts from `config` and wires them: canceler, task service, its subscribers, webhooks, the app. */
export async function composeServer(config: ServerConfig): Promise<ComposedServer> {
  const clock = config.clock ?? systemClock;
  const onError = config.onBackgroundError ?? (() => {});
  const store = config.store;

  // Cancel records, and the waits on them. Expired records go within half a TTL (and at least once a
  // minute), so a short TTL keeps the store small.
  const canceler = new Canceler({
    store,
    ttlMs: config.ttlMs,
    sweepIntervalMs: Math.min(DEFAULT_SWEEP_INTERVAL_MS, Math.max(1_000, config.ttlMs / 2)),
    clock,
    onError,
  });

  // The task service: the one owner of every change to a task and of how a task reads.
  const tasks = new TaskService({
    store,
    canceler,
    clock,
    leaseMs: config.leaseMs ?? 3 * config.watchTimeoutMs,
    retentionMs: config.retentionMs,
    progressIntervalMs: config.progressIntervalMs,
    onError,
  });

  // Its subscribers: the event log (which the screens, the log, event streams and webhooks follow), the
  // metrics, and the operator's observer.
  const metrics = new ServerMetrics();
  const events = new TaskEventHub({
    log: store,
    // Every task change, completed with what GET /v1/tasks/:id would show.
    snapshot: (ids, wanted) => tasks.snapshot(ids, wanted),
    clock,
    ...(config.eventWindow ? { window: config.eventWindow } : {}),
    onError,
  });
  tasks.subscribe(eventRecorder(events));
  tasks.subscribe(metrics.countTaskUpdate);
  if (config.observer) tasks.subscribe(observerListener(config.observer));
  await events.start();

  // Webhooks follow the event log, as every other reader of task events does.
  const webhooks =
    config.webhooks === undefined
      ? undefined
      : new Webhooks({
          store,
          config: config.webhooks,
          origin: events.origin,
          clock,
          ...(config.observer?.webhooks ? { observer: config.observer.webhooks } : {}),
          onError,
          onOutcome: (outcome) => (outcome === 'timed_out' ? metrics.webhookTimeouts : metrics.webhookDeliveries[outcome]).inc(),
        });
  if (webhooks) events.subscribe(webhooks);

  // The HTTP surface over the service.
  const app = createApp({
    tasks,
    events,
    storeHealth: store,
    eventsHeartbeatMs: config.eventsHeartbeatMs,
    options: { ...config, requireClientCertificate: config.tls?.clientCa !== undefined },
    metrics,
    clock,
    onBackgroundError: onError,
    onHeldChanged: config.onHeldChanged,
    ...(config.observer ? { observer: config.observer } : {}),
  });
  metrics.observe({
    openWatches: app.openWatches,
    parkedConnections: app.parkedConnections,
    trackedTasks: () => store.countStatuses(),
    watchedIds: app.watchedIds,
    ...(webhooks ? { queuedDeliveries: () => store.countDeliveries() } : {}),
    unreadableRows: { store: store.description.split(':')[0]!, counts: () => store.unreadable.counts() },
  });

  return {
    clock,
    canceler,
    tasks,
    events,
    metrics,
    app,
    stop: async () => {
      app.beginShutdown();
      tasks.close();
      events.close();
      // Queued deliveries stay in the store for the next start; tries in flight are put back before it closes.
      await webhooks?.close();
    },
  };
}

/** Each task update that is a task event (a state entered, progress, a schedule made or dropped), recorded in `events`. */
function eventRecorder(events: TaskEventHub): TaskUpdateListener {
  return (update: TaskUpdate) => {
    switch (update.kind) {
      case 'state':
        return events.record(update.status.state, update.status.id, { status: update.status });
      case 'progress':
        return events.record('progress', update.status.id, { status: update.status });
      case 'scheduled':
        return events.record('scheduled', update.schedule.id, { schedule: update.schedule });
      case 'unscheduled':
        return events.record('unscheduled', update.schedule.id, { schedule: undefined });
      default:
        // A cancel shows as the cancel_requested state it leads to; the rest are for the operator.
        return undefined;
    }
  };
}

/** The operator's observer (the log, the serve screen) told of the task updates it follows. */
function observerListener(observer: ServerObserver): TaskUpdateListener {
  return (update: TaskUpdate) => {
    if (update.kind === 'cancelled') observer.cancelled?.(update.record, { ...update.by, reason: update.reason, ...(update.repeat ? { repeat: true } : {}) });
    else if (update.kind === 'stopped_through_parent') observer.stoppedThroughParent?.(update.ids, update.parent, update.linkedBy);
    else if (update.kind === 'children_cancelled') observer.childrenCancelled?.(update.record, update.marked, update.ms);
  };
}
