import { DEFAULT_TTL_MS } from '../../core/canceler.ts';
import { formatDuration } from '../../core/duration.ts';
import { DEFAULT_EVENT_WINDOW } from '../../core/task-events.ts';
import {
  DEFAULT_MAX_EVENT_STREAMS,
  DEFAULT_MAX_OPEN_WATCHES,
  DEFAULT_MAX_WATCHED_IDS,
  DEFAULT_RETENTION_MS,
  DEFAULT_TOKEN_SHARE,
  DEFAULT_WATCH_TIMEOUT_MS,
  MAX_WATCH_TIMEOUT_MS,
} from '../../protocol/limits.ts';
import { defaultSqlitePath } from '../../store/data-path.ts';
import { DEFAULT_PG_POOL_SIZE, DEFAULT_PG_SCHEMA } from '../../store/postgres/defaults.ts';
import type { CommandDefinition } from '../context.ts';
import { DEFAULT_WEBHOOK_EVENTS, DEFAULT_WEBHOOK_RETRY_MS } from '../../server/webhook-defaults.ts';

export type ServeArgs = {
  host: string;
  port: number;
  store?: string;
  watchTimeout: string;
  ttl: string;
  maxWatches: number;
  maxConnections?: number;
  token?: string;
  insecure: boolean;
  json: boolean;
  webhook?: string[];
  webhookSecret?: string;
  webhookEvents?: string;
  webhookRetry?: string;
  tui: boolean;
  ui: boolean;
  redisPrefix?: string;
  pgSchema?: string;
  pgPoolSize?: number;
  lease?: string;
  retention: string;
  maxWatchedIds: number;
  maxEventStreams: number;
  tokenShare: number;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  tlsMinVersion: string;
  tokens?: string;
  eventWindow: number;
  eventWindowAge: string;
};

export const serveCommand: CommandDefinition<ServeArgs> = {
  command: 'serve',
  describe: 'Run the cancel server that workers long-poll',
  builder: (yargs) =>
    yargs
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
      .option('port', { alias: 'p', type: 'number', default: 8080, describe: 'Port to listen on (0 picks a free one)' })
      .option('store', {
        type: 'string',
        describe: `Where cancels are kept: sqlite:PATH, memory, or to share them between servers redis://[user:pass@]host:port/db (rediss:// for TLS) or postgres://user:pass@host:port/db (?sslmode=verify-full, ?listen=off behind PgBouncer) (env TASKCTL_STORE) [default: sqlite:${defaultSqlitePath()}]`,
      })
      .option('redis-prefix', { type: 'string', describe: 'Key prefix in Redis, so installations can share one [default: "taskctl:"]' })
      .option('pg-schema', {
        type: 'string',
        describe: `PostgreSQL schema for taskctl's tables, so installations can share one database [default: "${DEFAULT_PG_SCHEMA}"]`,
      })
      .option('pg-pool-size', {
        type: 'number',
        describe: `Connections to PostgreSQL for queries, besides the one that listens [default: ${DEFAULT_PG_POOL_SIZE}]`,
      })
      .option('watch-timeout', {
        type: 'string',
        default: formatDuration(DEFAULT_WATCH_TIMEOUT_MS),
        describe: `Longest a watch is held (max ${formatDuration(MAX_WATCH_TIMEOUT_MS)})`,
      })
      .option('lease', { type: 'string', describe: 'Silence after which a watched task is lost [default: 3 x --watch-timeout]' })
      .option('retention', {
        type: 'string',
        default: formatDuration(DEFAULT_RETENTION_MS),
        describe: 'Forget a task (status, history) nobody has watched for this long',
      })
      .option('ttl', { type: 'string', default: formatDuration(DEFAULT_TTL_MS), describe: 'How long a cancel is remembered' })
      .option('max-watches', { type: 'number', default: DEFAULT_MAX_OPEN_WATCHES, describe: 'Watches held open at once; more get 503 + Retry-After' })
      .option('max-watched-ids', { type: 'number', default: DEFAULT_MAX_WATCHED_IDS, describe: 'Ids held across all open watches; more get 503 + Retry-After' })
      .option('max-event-streams', {
        type: 'number',
        default: DEFAULT_MAX_EVENT_STREAMS,
        describe: 'Event streams held open at once (apart from watches); more get 503 + Retry-After',
      })
      .option('token-share', {
        type: 'number',
        default: DEFAULT_TOKEN_SHARE * 100,
        describe: 'Percent of each cap (watches, watched ids, event streams) one token of --tokens may hold',
      })
      .option('max-connections', { type: 'number', describe: 'Connections open at once; more are closed on arrival [default: 90% of the open-file limit]' })
      .option('token', { type: 'string', describe: 'Require Authorization: Bearer <token>; an admin token named "admin" (env TASKCTL_TOKEN)' })
      .option('tokens', {
        type: 'string',
        describe: 'File of role-scoped tokens, one "NAME ROLE sha256:HEX" a line; SIGHUP reloads it (env TASKCTL_TOKENS_FILE)',
      })
      .option('tls-cert', { type: 'string', describe: 'Serve HTTPS with this PEM certificate (a chain after it is sent too); SIGHUP reloads it' })
      .option('tls-key', { type: 'string', describe: 'PEM private key of --tls-cert' })
      .option('tls-min-version', {
        type: 'string',
        choices: ['1.2', '1.3'],
        default: '1.2',
        describe: 'Oldest TLS version accepted; TLS 1.2 is offered with ECDHE and AEAD ciphers only',
      })
      .option('client-ca', { type: 'string', describe: 'Require client certificates signed by this PEM CA (mutual TLS; needs --tls-cert)' })
      .option('webhook', {
        type: 'string',
        array: true,
        describe: 'POST an event to this URL when a task ends or is lost (repeatable); needs --webhook-secret',
      })
      .option('webhook-secret', { type: 'string', describe: 'Signs every webhook event (HMAC-SHA256; env TASKCTL_WEBHOOK_SECRET)' })
      .option('webhook-events', { type: 'string', describe: `Task states that are sent, comma-separated [default: ${DEFAULT_WEBHOOK_EVENTS.join(',')}]` })
      .option('webhook-retry', { type: 'string', describe: `How long an undelivered event is retried [default: ${formatDuration(DEFAULT_WEBHOOK_RETRY_MS)}]` })
      .option('event-window', {
        type: 'number',
        default: DEFAULT_EVENT_WINDOW.maxEvents,
        describe: 'Events kept for event-stream clients to resume from (at most 1000000)',
      })
      .option('event-window-age', {
        type: 'string',
        default: formatDuration(DEFAULT_EVENT_WINDOW.maxAgeMs),
        describe: 'Longest an event is kept for resuming (at most 7d)',
      })
      .option('insecure', { type: 'boolean', default: false, describe: 'Allow a non-loopback --host without a token' })
      .option('json', { type: 'boolean', default: false, describe: 'Log NDJSON lines to stdout' })
      .option('tui', { type: 'boolean', default: true, describe: 'Show the dashboard on a terminal (--no-tui for log lines)' })
      .option('ui', { type: 'boolean', default: true, describe: 'Serve the web page at / (--no-ui: / is a 404 like any unknown route)' })
      .example('taskctl serve', 'serve on 127.0.0.1:8080 with the embedded store')
      .example('TASKCTL_TOKEN=s3cret taskctl serve --host 0.0.0.0', 'serve the network, token required')
      .example('taskctl serve --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem --tokens tokens.txt', 'serve HTTPS with role-scoped tokens')
      .epilogue(
        'SIGHUP reloads --tokens, --tls-cert, --tls-key and --client-ca; a file that cannot be used is logged and the old one stays in force.\n\n' +
          'Exit codes: 0 stopped cleanly (SIGINT/SIGTERM), 1 cannot listen, 2 usage error (a bad value, or a certificate, key or tokens file that ' +
          'cannot be read or used), 3 the store is unavailable at start, 70 internal error.',
      ) as never,
  // Loaded only when the command runs, so --help and --version stay fast.
  run: (args, context) => import('./serve-run.ts').then((m) => m.runServe(args, context)),
};
