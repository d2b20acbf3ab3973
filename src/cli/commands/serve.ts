import { once } from 'node:events';
import { z } from 'zod';
import { DEFAULT_TTL_MS } from '../../core/canceler.ts';
import { formatDuration } from '../../core/duration.ts';
import { DEFAULT_MAX_OPEN_WATCHES, DEFAULT_WATCH_TIMEOUT_MS, MAX_BODY_BYTES, MAX_WATCH_TIMEOUT_MS } from '../../protocol/limits.ts';
import { durationSchema } from '../../protocol/schemas.ts';
import { startServer } from '../../server/listen.ts';
import { defaultSqlitePath, openStore } from '../../store/open-store.ts';
import { type CommandDefinition, ExitCode, UsageError } from '../context.ts';
import { createLogger, type Logger } from '../log.ts';
import { validateOptions, wantsTui } from '../options.ts';
import type { ServerObserver } from '../../server/app.ts';
import { ServeActivity } from '../../server/serve-activity.ts';

const optionsSchema = z.object({
  host: z.string().min(1),
  port: z.number().int('must be a whole number').min(0).max(65535),
  store: z.string().min(1),
  watchTimeout: durationSchema.pipe(z.number().min(1_000, 'at least 1s').max(MAX_WATCH_TIMEOUT_MS, `at most ${formatDuration(MAX_WATCH_TIMEOUT_MS)}`)),
  ttl: durationSchema.pipe(z.number().min(1_000, 'at least 1s')),
  maxWatches: z.number().int('must be a whole number').min(1),
  token: z.string().min(1, 'must not be empty').optional(),
  insecure: z.boolean(),
  json: z.boolean(),
  tui: z.boolean(),
});

type ServeArgs = {
  host: string;
  port: number;
  store?: string;
  watchTimeout: string;
  ttl: string;
  maxWatches: number;
  token?: string;
  insecure: boolean;
  json: boolean;
  tui: boolean;
};

/** Log lines for what the server does: one per cancel and per failure. */
function loggingObserver(log: Logger): ServerObserver {
  return {
    cancelled: (record, source) => log.info('cancelled', { id: record.id, reason: record.reason, from: source.address, route: source.route }),
    failed: (error, request) => log.error('request failed', { ...request, error: (error as Error)?.message ?? String(error) }),
  };
}

/** Loopback addresses: nothing outside this machine can reach a server bound to them. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export const serveCommand: CommandDefinition<ServeArgs> = {
  command: 'serve',
  describe: 'Run the cancel server that workers long-poll',
  builder: (yargs) =>
    yargs
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
      .option('port', { alias: 'p', type: 'number', default: 8080, describe: 'Port to listen on (0 picks a free one)' })
      .option('store', {
        type: 'string',
        describe: `Where cancels are kept: sqlite:PATH, memory [default: sqlite:${defaultSqlitePath()}]`,
      })
      .option('watch-timeout', { type: 'string', default: formatDuration(DEFAULT_WATCH_TIMEOUT_MS), describe: `Longest a watch is held (max ${formatDuration(MAX_WATCH_TIMEOUT_MS)})` })
      .option('ttl', { type: 'string', default: formatDuration(DEFAULT_TTL_MS), describe: 'How long a cancel is remembered' })
      .option('max-watches', { type: 'number', default: DEFAULT_MAX_OPEN_WATCHES, describe: 'Watches held open at once; more get 503 + Retry-After' })
      .option('token', { type: 'string', describe: 'Require Authorization: Bearer <token> (env TASKCTL_TOKEN)' })
      .option('insecure', { type: 'boolean', default: false, describe: 'Allow a non-loopback --host without a token' })
      .option('json', { type: 'boolean', default: false, describe: 'Log NDJSON lines to stdout' })
      .option('tui', { type: 'boolean', default: true, describe: 'Show the dashboard on a terminal (--no-tui for log lines)' })
      .example('taskctl serve', 'serve on 127.0.0.1:8080 with the embedded store')
      .example('TASKCTL_TOKEN=s3cret taskctl serve --host 0.0.0.0', 'serve the network, token required') as never,
  run: async (args, { stdout, stderr, env, shutdown }) => {
    const options = validateOptions(optionsSchema, {
      ...args,
      store: args.store ?? env.TASKCTL_STORE ?? `sqlite:${defaultSqlitePath(env)}`,
      token: args.token ?? (env.TASKCTL_TOKEN || undefined),
    });
    if (!isLoopback(options.host) && !options.token && !options.insecure) {
      throw new UsageError(`refusing to listen on ${options.host} without a token: set --token or TASKCTL_TOKEN, or pass --insecure if anyone on that network may cancel tasks`);
    }
    const log = createLogger(options.json ? stdout : stderr, options.json ? 'json' : 'plain');
    const store = await openStore(options.store);
    const dashboard = wantsTui(stdout, env, args) ? new ServeActivity({ url: `http://${options.host}:${options.port}`, store: store.description }) : undefined;
    const onBackgroundError = (error: unknown) =>
      dashboard ? dashboard.failed(error) : log.error('background task failed', { error: (error as Error)?.message ?? String(error) });
    let server;
    try {
      server = await startServer({
        host: options.host,
        port: options.port,
        store,
        ttlMs: options.ttl,
        watchTimeoutMs: options.watchTimeout,
        maxOpenWatches: options.maxWatches,
        maxBodyBytes: MAX_BODY_BYTES,
        token: options.token,
        observer: dashboard ?? loggingObserver(log),
        onBackgroundError,
      });
    } catch (error) {
      await store.close();
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'EADDRINUSE' ? 'address already in use' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
      stderr.write(`taskctl: cannot listen on ${options.host}:${options.port}: ${why}\n`);
      return ExitCode.failure;
    }
    const started = { url: server.url, store: store.description, watchTimeout: formatDuration(options.watchTimeout), ttl: formatDuration(options.ttl), auth: options.token ? 'token' : 'none' };
    let closeDashboard = () => {};
    if (dashboard) {
      dashboard.listening(server.url);
      const ui = await import('../../ui/render-serve.tsx');
      closeDashboard = ui.renderServe(dashboard, server.openWatches, { stdout, stderr });
    } else {
      log.info('listening', started);
    }
    if (!shutdown.aborted) await once(shutdown, 'abort');
    closeDashboard();
    log.info('stopping', { signal: String(shutdown.reason), openWatches: server.openWatches() });
    await server.close();
    log.info('stopped');
    return ExitCode.ok;
  },
};
