import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The server's Prometheus metrics, in a registry of its own so two servers in one process never mix. */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly openWatches = new Gauge({ name: 'taskctl_open_watches', help: 'Watch requests being held open now.', registers: [this.registry] });
  readonly cancels = new Counter({
    name: 'taskctl_cancels_total',
    help: 'Cancels made, by route: seed, v1, scheduled (made when their time came), or deadline (a worker --timeout the server made).',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly watchRequests = new Counter({
    name: 'taskctl_watch_requests_total',
    help: 'Watch requests answered, by outcome: cancelled, timeout, or gone (client left or server stopping).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  /**
   * The counter of answered watches per outcome, looked up once: a label lookup hashes its labels on every
   * call, and this one is counted on every watch.
   */
  readonly watchAnswered = {
    cancelled: this.watchRequests.labels({ outcome: 'cancelled' }),
    timeout: this.watchRequests.labels({ outcome: 'timeout' }),
    gone: this.watchRequests.labels({ outcome: 'gone' }),
  } as const;
  readonly notifyLatency = new Histogram({
    name: 'taskctl_notify_latency_seconds',
    help: 'From a cancel reaching this server to a waiting watch being answered.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly rejectedWatches = new Counter({
    name: 'taskctl_watches_rejected_total',
    help: 'Watch requests refused with 503 because too many watches, or watched ids, were open.',
    registers: [this.registry],
  });

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

  readonly droppedConnections = new Counter({
    name: 'taskctl_connections_dropped_total',
    help: 'Connections closed on arrival because --max-connections were open.',
    registers: [this.registry],
  });

  /** Gauges read when scraped: how many tasks the store tracks, how many ids the open watches hold. */
  observe(sources: { trackedTasks: () => Promise<number>; watchedIds: () => number }): void {
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
    collectDefaultMetrics({ register: this.registry, prefix: 'taskctl_' });
    // prom-client names three gauges with a _total suffix, which Prometheus reserves for counters
    // (promtool check metrics refuses them); the same counts stay available without the suffix.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(`taskctl_${name}`);
    }
  }
}
