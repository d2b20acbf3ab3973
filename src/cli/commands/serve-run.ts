import { once } from 'node:events';
import { z } from 'zod';
import { readFileSync } from 'node:fs';
import { MAX_BODY_BYTES, MAX_TTL_MS, MAX_WATCH_TIMEOUT_MS } from '../../protocol/limits.ts';
import { formatDuration } from '../../core/duration.ts';
import { StoreUnavailableError } from '../../core/store.ts';
import type { ServerObserver } from '../../server/app.ts';
import { TASK_LIFE_STATES, type TaskLifeState } from '../../core/task-status.ts';
import { DEFAULT_WEBHOOK_EVENTS, DEFAULT_WEBHOOK_RETRY_MS } from '../../server/webhook-defaults.ts';
import { endpointLabel, type WebhookConfig } from '../../server/webhooks.ts';
import type { TaskEventObserver } from '../../core/task-events.ts';
import { parseTokensFile, type TokenEntry, TokensFileError } from '../../server/auth.ts';
import { startServer, type TlsConfig } from '../../server/listen.ts';
import { ServeActivity } from '../../server/serve-activity.ts';
import { bundledWebAssets } from '../../server/web-assets.ts';
import { defaultSqlitePath } from '../../store/data-path.ts';
import { openStore } from '../../store/open-store.ts';
import { PG_SCHEMA_PATTERN } from '../../store/postgres/defaults.ts';
import { type CommandContext, ExitCode, UsageError } from '../context.ts';
import { youngGenerationByHeld } from '../heap-tuning.ts';
import { createLogger, type Logger, refusalLog } from '../log.ts';
import { type KeyPair, readCertificates, readKeyPair, readText } from '../tls-files.ts';
import { printable } from '../../core/printable.ts';
import { durationOptionSchema, validateOptions, wantsTui, wholeNumberOption } from '../options.ts';
import type { ServeArgs } from './serve.ts';

/** Where clients present it, a token with spaces around it could never match: refuse it at start. */
const tokenSchema = z
  .string()
  .refine((token) => token.trim().length > 0, 'must not be empty')
  .refine((token) => token.trim() === token, 'must not start or end with whitespace (a stray newline from a file?)');

// The store holds an undelivered event no longer than this.
const MAX_WEBHOOK_RETRY_MS = 30 * 24 * 3_600_000;
// The event window's bounds: the memory store keeps its window in RAM, and a resume from further back is
// better served by listing the tasks again.
const MAX_EVENT_WINDOW = 1_000_000;
const MAX_EVENT_WINDOW_AGE_MS = 7 * 24 * 3_600_000;

const webhookUrlSchema = z
  .string()
  .max(2_048)
  .refine((text) => URL.canParse(text) && ['http:', 'https:'].includes(new URL(text).protocol), 'must be an http:// or https:// URL');

const optionsSchema = z.object({
  host: z.string().min(1),
  port: wholeNumberOption(0, 65535),
  store: z.string().min(1),
  watchTimeout: durationOptionSchema.pipe(
    z
      .number()
      .min(1_000, 'at least 1s')
      .max(MAX_WATCH_TIMEOUT_MS, `at most ${formatDuration(MAX_WATCH_TIMEOUT_MS)}`),
  ),
  ttl: durationOptionSchema.pipe(
    z
      .number()
      .min(1_000, 'at least 1s')
      .max(MAX_TTL_MS, `at most ${formatDuration(MAX_TTL_MS)}`),
  ),
  maxWatches: wholeNumberOption(1),
  maxConnections: wholeNumberOption(1),
  token: tokenSchema.optional(),
  insecure: z.boolean(),
  json: z.boolean(),
  tui: z.boolean(),
  ui: z.boolean(),
  redisPrefix: z.string().max(200).optional(),
  pgSchema: z
    .string()
    .regex(PG_SCHEMA_PATTERN, 'must be a lower-case SQL name of at most 40 characters (letters, digits, _)')
    // PostgreSQL's own schemas: taskctl's tables have no place there.
    .refine((name) => !/^(pg_|information_schema$)/.test(name), "names one of PostgreSQL's own schemas (pg_*, information_schema): pick another")
    .optional(),
  pgPoolSize: wholeNumberOption(1, 1_000).optional(),
  lease: durationOptionSchema.pipe(z.number().min(1_000, 'at least 1s')).optional(),
  retention: durationOptionSchema.pipe(z.number().min(1_000, 'at least 1s')),
  maxWatchedIds: wholeNumberOption(1),
  maxEventStreams: wholeNumberOption(1),
  tokenShare: z.number({ error: 'must be a percent, more than 0 and at most 100' }).gt(0, 'must be more than 0').max(100, 'at most 100 (percent)'),
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  clientCa: z.string().min(1).optional(),
  tlsMinVersion: z.enum(['1.2', '1.3']),
  tokens: z.string().min(1).optional(),
  webhook: z.array(webhookUrlSchema).optional(),
  webhookSecret: tokenSchema.optional(),
  webhookEvents: z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((state) => state.trim())
        .filter(Boolean),
    )
    .pipe(
      z
        .array(z.enum(TASK_LIFE_STATES as [TaskLifeState, ...TaskLifeState[]], { message: `each must be one of ${TASK_LIFE_STATES.join(', ')}` }))
        .min(1, 'name at least one state'),
    ),
  webhookRetry: durationOptionSchema.pipe(
    z
      .number()
      .min(1_000, 'at least 1s')
      .max(MAX_WEBHOOK_RETRY_MS, `at most ${formatDuration(MAX_WEBHOOK_RETRY_MS)}`),
  ),
  eventWindow: wholeNumberOption(1, MAX_EVENT_WINDOW),
  eventWindowAge: durationOptionSchema.pipe(
    z
      .number()
      .min(1_000, 'at least 1s')
      .max(MAX_EVENT_WINDOW_AGE_MS, `at most ${formatDuration(MAX_EVENT_WINDOW_AGE_MS)}`),
  ),
});

type ServeOptions = z.output<typeof optionsSchema>;

/** The tokens file's entries; a file that cannot be read or has a bad line is one UsageError naming it. */
function loadTokens(path: string): TokenEntry[] {
  const text = readText('--tokens', path);
  try {
    return parseTokensFile(text);
  } catch (error) {
    if (error instanceof TokensFileError) throw new UsageError(`--tokens: ${printable(path)} ${error.message}`);
    throw error;
  }
}

/** The certificate, key and client CA to serve with, read and checked; undefined for plain HTTP. */
function loadTls(options: ServeOptions): (TlsConfig & { leaf: KeyPair['leaf'] }) | undefined {
  if (options.tlsCert === undefined || options.tlsKey === undefined) return undefined;
  const pair = readKeyPair('--tls-cert', options.tlsCert, '--tls-key', options.tlsKey);
  return {
    ...pair,
    minVersion: options.tlsMinVersion,
    ...(options.clientCa !== undefined ? { clientCa: readCertificates('--client-ca', options.clientCa) } : {}),
  };
}

/** Where and what to send, when --webhook is given; a receiver cannot trust an unsigned event, so a secret is required. */
function webhookConfig(options: ServeOptions): WebhookConfig | undefined {
  if (!options.webhook?.length) return undefined;
  if (options.webhookSecret === undefined)
    throw new UsageError('--webhook needs --webhook-secret (or TASKCTL_WEBHOOK_SECRET): receivers check the signature with it');
  return { endpoints: [...new Set(options.webhook)], secret: options.webhookSecret, events: new Set(options.webhookEvents), retryMs: options.webhookRetry };
}

/** A certificate as a log line shows it. */
function describeCertificate(leaf: KeyPair['leaf']): string {
  return `${leaf.subject.replace(/\n/g, ', ')} serial ${leaf.serialNumber}, expires ${new Date(leaf.validTo).toISOString()}`;
}

/**
 * The default cap on open connections: well under this process's open-file limit, so that connections
 * alone can never take the descriptors the store and the listening socket need.
 */
export function defaultMaxConnections(): number {
  try {
    const soft = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]);
    if (soft > 0) return Math.max(64, Math.floor(soft * 0.9) - 50);
  } catch {
    // Not Linux: no cheap way to ask.
  }
  return 4_096;
}

/** Log lines for what the server does: one per cancel and per failure. */
function loggingObserver(log: Logger): ServerObserver {
  return {
    cancelled: (record, source) =>
      source.repeat
        ? log.info('cancelled again, the first cancel stands', {
            id: record.id,
            reason: source.reason,
            by: source.name,
            from: source.address,
            route: source.route,
          })
        : log.info('cancelled', { id: record.id, reason: record.reason, by: source.name, from: source.address, route: source.route }),
    stoppedThroughParent: (ids, parent, linkedBy) =>
      log.info('stopped through a parent', {
        ids: ids.length <= 5 ? ids.join(',') : `${ids.slice(0, 5).join(',')},… (${ids.length})`,
        parent: parent.id,
        cancelledBy: parent.by?.name,
        linkedBy: linkedBy.name,
        from: linkedBy.address,
      }),
    childrenCancelled: (record, marked, ms) => {
      if (marked > 0) log.info('children cancelled', { parent: record.id, children: marked, ms: Math.round(ms) });
    },
    failed: (error, request) => log.error('request failed', { ...request, error: (error as Error)?.message ?? String(error) }),
    // Without the path, so that the same refusal again (a worker with a revoked token, a stranger probing)
    // is counted in the logger's once-a-minute summary rather than written each time.
    refused: refusalLog(log),
    webhooks: {
      failed: (endpoint, error, givenUp) => log.error(givenUp ? 'webhook given up' : 'webhook failed', { endpoint, error }),
    },
  };
}

/** Log lines for task events: one per task that went lost on this server (servers sharing a store each log their own). */
function loggingTaskObserver(log: Logger, origin: string): TaskEventObserver {
  return {
    taskEvent: ({ change, origin: from, id, status }) => {
      if (change !== 'lost' || from !== origin) return;
      log.info('lost', { id, worker: status?.worker ? `${status.worker.host}:${status.worker.pid}` : undefined });
    },
  };
}

/** Loopback addresses: nothing outside this machine can reach a server bound to them. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Serves until SIGINT/SIGTERM, then stops cleanly. */
export async function runServe(args: ServeArgs, { stdout, stderr, env, shutdown, onHangup }: CommandContext): Promise<number> {
  const options = validateOptions(optionsSchema, {
    ...args,
    store: args.store ?? env.TASKCTL_STORE ?? `sqlite:${defaultSqlitePath(env)}`,
    token: args.token ?? (env.TASKCTL_TOKEN || undefined),
    tokens: args.tokens ?? (env.TASKCTL_TOKENS_FILE || undefined),
    maxConnections: args.maxConnections ?? defaultMaxConnections(),
    webhookSecret: args.webhookSecret ?? (env.TASKCTL_WEBHOOK_SECRET || undefined),
    webhookEvents: args.webhookEvents ?? DEFAULT_WEBHOOK_EVENTS.join(','),
    webhookRetry: args.webhookRetry ?? formatDuration(DEFAULT_WEBHOOK_RETRY_MS),
  });
  const webhooks = webhookConfig(options);
  const leaseMs = options.lease ?? 3 * options.watchTimeout;
  if (!(options.retention > leaseMs)) {
    throw new UsageError(`--retention must be longer than the lease (${formatDuration(leaseMs)}), or watched tasks could be forgotten`);
  }
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined))
    throw new UsageError(`${options.tlsCert === undefined ? '--tls-cert' : '--tls-key'}: missing; give --tls-cert and --tls-key together`);
  if (options.clientCa !== undefined && options.tlsCert === undefined)
    throw new UsageError('--client-ca: client certificates need TLS; give --tls-cert and --tls-key too');
  if (!isLoopback(options.host) && !options.token && !options.tokens && !options.insecure) {
    throw new UsageError(
      `refusing to listen on ${options.host} without a token: set --token or TASKCTL_TOKEN (or --tokens), or pass --insecure if anyone on that network may cancel tasks`,
    );
  }
  // Read now, so a file that cannot be used stops the start in one line, before anything listens.
  const tokens = options.tokens !== undefined ? loadTokens(options.tokens) : undefined;
  const tls = loadTls(options);
  if (!tls && !isLoopback(options.host)) {
    stderr.write(
      `taskctl: warning: serving plain HTTP on ${options.host}: tokens travel in clear text unless a TLS proxy is in front (--tls-cert and --tls-key serve HTTPS)\n`,
    );
  }
  const log = createLogger(options.json ? stdout : stderr, options.json ? 'json' : 'plain');
  let store: Awaited<ReturnType<typeof openStore>>;
  try {
    store = await openStore(options.store, {
      redisKeyPrefix: options.redisPrefix,
      retentionMs: options.retention,
      pgSchema: options.pgSchema,
      pgPoolSize: options.pgPoolSize,
    });
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    stderr.write(`taskctl: ${error.message}\n`);
    return ExitCode.unavailable;
  }
  const dashboard = wantsTui(stdout, env, args) ? new ServeActivity({ url: `http://${options.host}:${options.port}`, store: store.description }) : undefined;
  const onBackgroundError = (error: unknown) =>
    dashboard ? dashboard.failed(error) : log.error('background task failed', { error: (error as Error)?.message ?? String(error) });
  // Once per kind of row: /metrics counts every one (taskctl_store_unreadable_rows_total).
  store.unreadable.onFirst((row) => {
    if (dashboard)
      dashboard.failed(new Error(`the store holds a ${row.kind} row it cannot read${row.key === undefined ? '' : ` (${row.key})`}: ${row.why}; left out`));
    else log.error('unreadable store row', { kind: row.kind, key: row.key, why: row.why, note: 'left out; further ones are only counted in /metrics' });
  });
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      host: options.host,
      port: options.port,
      store,
      ttlMs: options.ttl,
      leaseMs,
      retentionMs: options.retention,
      eventWindow: { maxEvents: options.eventWindow, maxAgeMs: options.eventWindowAge },
      maxWatchedIds: options.maxWatchedIds,
      watchTimeoutMs: options.watchTimeout,
      maxOpenWatches: options.maxWatches,
      maxEventStreams: options.maxEventStreams,
      tokenShare: options.tokenShare / 100,
      maxConnections: options.maxConnections,
      maxBodyBytes: MAX_BODY_BYTES,
      token: options.token,
      tokens,
      tls,
      webhooks,
      observer: dashboard ?? loggingObserver(log),
      onBackgroundError,
      onHeldChanged: youngGenerationByHeld(env),
      webAssets: options.ui ? bundledWebAssets() : undefined,
      // For the bench's same-run comparison of what parking costs (TASKCTL_NO_PARKING=1): never parks.
      ...(env.TASKCTL_NO_PARKING === '1' ? { parkFrom: Number.POSITIVE_INFINITY } : {}),
    });
  } catch (error) {
    await store.close();
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'address already in use' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    stderr.write(`taskctl: cannot listen on ${options.host}:${options.port}: ${why}\n`);
    return ExitCode.failure;
  }
  const auth = [tokens ? `tokens file (${tokens.length})` : '', options.token ? 'token' : ''].filter(Boolean).join(' + ') || 'none';
  const started = {
    url: server.url,
    store: store.description,
    watchTimeout: formatDuration(options.watchTimeout),
    ttl: formatDuration(options.ttl),
    auth,
    ...(webhooks ? { webhooks: webhooks.endpoints.map(endpointLabel).join(' '), webhookEvents: [...webhooks.events].join(',') } : {}),
    ...(tls ? { certificate: describeCertificate(tls.leaf), clientCertificates: tls.clientCa ? 'required' : 'no' } : {}),
  };
  // Each file is reloaded on its own: a bad tokens file does not hold back a renewed certificate, nor the reverse.
  const running = server;
  let tlsInForce: TlsConfig | undefined = tls && {
    cert: tls.cert,
    key: tls.key,
    minVersion: tls.minVersion,
    ...(tls.clientCa !== undefined ? { clientCa: tls.clientCa } : {}),
  };
  const reloadFailed = (what: string, error: unknown) => {
    const message = `reloading ${what} failed, the old one stays in force: ${(error as Error)?.message ?? String(error)}`;
    if (dashboard) dashboard.failed(new Error(message));
    else log.error(message);
  };
  const reload = () => {
    if (options.tokens !== undefined) {
      try {
        const entries = loadTokens(options.tokens);
        const ended = running.replaceTokens(entries);
        if (!dashboard)
          log.info('reloaded tokens', { tokens: entries.length, watchesEnded: ended.watches, streamsEnded: ended.streams, tasksStopped: ended.tasksStopped });
      } catch (error) {
        reloadFailed('the tokens file', error);
      }
    }
    if (tlsInForce) {
      // The certificate and the client CA are each read on their own too: a bad CA file must not hold back
      // a renewed certificate (which may be days from expiring), nor the reverse.
      let pair: KeyPair | undefined;
      let clientCa: string | undefined;
      try {
        pair = readKeyPair('--tls-cert', options.tlsCert!, '--tls-key', options.tlsKey!);
      } catch (error) {
        reloadFailed('the certificate', error);
      }
      if (options.clientCa !== undefined) {
        try {
          clientCa = readCertificates('--client-ca', options.clientCa);
        } catch (error) {
          reloadFailed('the client CA', error);
        }
      }
      if (pair !== undefined || clientCa !== undefined) {
        const next: TlsConfig = { ...tlsInForce, ...(pair ? { cert: pair.cert, key: pair.key } : {}), ...(clientCa !== undefined ? { clientCa } : {}) };
        try {
          running.reloadTls(next);
          tlsInForce = next;
          if (!dashboard && pair) log.info('reloaded certificate', { certificate: describeCertificate(pair.leaf) });
          if (!dashboard && clientCa !== undefined) log.info('reloaded client CA', { clientCa: options.clientCa });
        } catch (error) {
          reloadFailed('the certificate', error);
        }
      }
    }
    if (options.tokens === undefined && !tls && !dashboard) log.info('SIGHUP: nothing to reload (no --tokens, no --tls-cert)');
  };
  const stopHangups = onHangup?.(reload) ?? (() => {});
  const stopFollowing = server.events.subscribe(dashboard ?? loggingTaskObserver(log, server.events.origin));
  let closeDashboard = () => {};
  if (dashboard) {
    dashboard.listening(server.url, server.events.origin);
    const ui = await import('../../ui/render-serve.tsx');
    closeDashboard = ui.renderServe(dashboard, { openWatches: server.openWatches, trackedTasks: server.trackedTasks }, { stdout, stderr });
  } else {
    log.info('listening', started);
  }
  if (!shutdown.aborted) await once(shutdown, 'abort');
  stopHangups();
  stopFollowing();
  closeDashboard();
  log.info('stopping', { signal: String(shutdown.reason), openWatches: server.openWatches() });
  try {
    await server.close();
    log.info('stopped');
  } finally {
    // Writes the lines the logger gathered (see createLogger), also when closing failed.
    log.close();
  }
  return ExitCode.ok;
}
