import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ROW_KINDS, type RowKind } from '../core/store.ts';
import type { TaskUpdate } from '../core/task-updates.ts';

/**
 * A count kept as a plain number and handed to prom-client when /metrics is scraped. For what is counted
 * on every watch: a prom-client `inc` builds and hashes a label string each time, about 8% of the
 * instructions of answering a re-poll of a cancelled id.
 */
export class Tally {
  value = 0;

  inc(by = 1): void {
    this.value += by;
  }
}

const OUTCOMES = ['cancelled', 'timeout', 'gone'] as const;

/** The server's Prometheus metrics, in a registry of its own so two servers in one process never mix. */
export class ServerMetrics {
  readonly registry = new Registry();
  /** Cancels made, by route, counted on every cancel (see Tally); a route shows once it had one. */
  readonly #cancelsByRoute = new Map<string, Tally>();
  /** Answered watches per outcome, counted on every watch (see Tally). */
  readonly watchAnswered: Readonly<Record<(typeof OUTCOMES)[number], Tally>> = { cancelled: new Tally(), timeout: new Tally(), gone: new Tally() };
  readonly notifyLatency = new Histogram({
    name: 'taskctl_notify_latency_seconds',
    help: 'From a cancel reaching this server to a waiting watch being answered.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly rejectedWatches = new Tally();

  readonly lostTasks = new Counter({
    name: 'taskctl_tasks_lost_total',
    help: 'Tasks marked lost: a worker was watching, then nothing for longer than the lease.',
    registers: [this.registry],
  });

  readonly forgottenTasks = new Counter({
    name: 'taskctl_tasks_forgotten_total',
    help: 'Task statuses removed by retention (nobody watched them for longer than --retention).',
    registers: [this.registry],
  });

  readonly webhookDeliveryAttempts = new Counter({
    name: 'taskctl_webhook_deliveries_total',
    help: 'Webhook delivery tries, by outcome: delivered, failed (retried later), dropped (given up after --webhook-retry).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly webhookDeliveries = {
    delivered: this.webhookDeliveryAttempts.labels({ outcome: 'delivered' }),
    failed: this.webhookDeliveryAttempts.labels({ outcome: 'failed' }),
    dropped: this.webhookDeliveryAttempts.labels({ outcome: 'dropped' }),
  } as const;
  readonly webhookTimeouts = new Counter({
    name: 'taskctl_webhook_timeouts_total',
    help: 'Webhook tries cut at their deadline (10s from connecting to the last byte of the answer); each is also counted as failed or dropped.',
    registers: [this.registry],
  });

  readonly droppedConnections = new Counter({
    name: 'taskctl_connections_dropped_total',
    help: 'Connections closed on arrival because --max-connections were open.',
    registers: [this.registry],
  });

  /** Counts what a task update counts (cancels by route, tasks lost, tasks forgotten): a subscriber of the task service. */
  readonly countTaskUpdate = (update: TaskUpdate): void => {
    if (update.kind === 'cancelled') this.#countCancel(update.by.route);
    else if (update.kind === 'state' && update.status.state === 'lost') this.lostTasks.inc();
    else if (update.kind === 'forgotten') this.forgottenTasks.inc(update.count);
  };

  #countCancel(route: string): void {
    let tally = this.#cancelsByRoute.get(route);
    if (!tally) this.#cancelsByRoute.set(route, (tally = new Tally()));
    tally.inc();
  }

  /** Gauges read when scraped: open watches and parked connections, how many tasks the store tracks, how many ids the open watches hold. */
  observe(sources: {
    openWatches: () => number;
    parkedConnections: () => number;
    trackedTasks: () => Promise<number>;
    watchedIds: () => number;
    queuedDeliveries?: () => Promise<number>;
    /** The store's kind (memory, sqlite, redis, postgres) and its tally of rows it could not read. */
    unreadableRows?: { readonly store: string; readonly counts: () => ReadonlyMap<RowKind, number> };
  }): void {
    const unreadable = sources.unreadableRows;
    if (unreadable) {
      new Counter({
        name: 'taskctl_store_unreadable_rows_total',
        help: 'Rows the store could not read (corrupt JSON, a state this taskctl does not know), by kind: left out of answers, each counted every time it is met.',
        labelNames: ['store', 'kind'] as const,
        registers: [this.registry],
        collect() {
          this.reset();
          // Every kind shows from the start, at 0, so that an alert on it has a series to read.
          for (const kind of ROW_KINDS) this.inc({ store: unreadable.store, kind }, unreadable.counts().get(kind) ?? 0);
        },
      });
    }
    new Gauge({
      name: 'taskctl_open_watches',
      help: 'Watch requests being held open now.',
      registers: [this.registry],
      collect() {
        this.set(sources.openWatches());
      },
    });
    new Gauge({
      name: 'taskctl_parked_connections',
      help: 'Connections of held watches and event streams that gave back their HTTP parser (past 256 held; plain HTTP only).',
      registers: [this.registry],
      collect() {
        this.set(sources.parkedConnections());
      },
    });
    const queued = sources.queuedDeliveries;
    if (queued) {
      // Each outcome shows from the start, at 0, so that a rate or an alert on it has a series to read.
      for (const outcome of Object.values(this.webhookDeliveries)) outcome.inc(0);
      this.webhookTimeouts.inc(0);
      new Gauge({
        name: 'taskctl_webhook_queue',
        help: 'Webhook deliveries queued: not yet made, retrying, or waiting for their next try.',
        registers: [this.registry],
        async collect() {
          this.set(await queued().catch(() => Number.NaN));
        },
      });
    }
    new Gauge({
      name: 'taskctl_tasks_tracked',
      help: 'Task statuses the store holds (watched, ended or lost, until retention forgets them).',
      registers: [this.registry],
      async collect() {
        // A store that cannot answer (Redis down) leaves the gauge unknown, not the whole scrape failed.
        this.set(await sources.trackedTasks().catch(() => Number.NaN));
      },
    });
    new Gauge({
      name: 'taskctl_watched_ids',
      help: 'Ids held across all open watches (an id in two watches counts twice); capped by --max-watched-ids.',
      registers: [this.registry],
      collect() {
        this.set(sources.watchedIds());
      },
    });
  }

  constructor() {
    const { watchAnswered, rejectedWatches } = this;
    const cancelsByRoute = this.#cancelsByRoute;
    new Counter({
      name: 'taskctl_cancels_total',
      help: 'Cancels made, by route: seed, v1, scheduled (made when their time came), or deadline (a worker --timeout the server made).',
      labelNames: ['route'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [route, tally] of cancelsByRoute) this.inc({ route }, tally.value);
      },
    });
    new Counter({
      name: 'taskctl_watch_requests_total',
      help: 'Watch requests answered, by outcome: cancelled, timeout, or gone (client left or server stopping).',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const outcome of OUTCOMES) this.inc({ outcome }, watchAnswered[outcome].value);
      },
    });
    new Counter({
      name: 'taskctl_watches_rejected_total',
      help: 'Watch requests refused with 503 because too many watches, or watched ids, were open.',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(rejectedWatches.value);
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'taskctl_' });
    // prom-client names three gauges with a _total suffix, which Prometheus reserves for counters
    // (promtool check metrics refuses them); the same counts stay available without the suffix.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(`taskctl_${name}`);
    }
  }
}
