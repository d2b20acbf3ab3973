import { hostname } from 'node:os';
import postgres, { type Helper, type Sql, type TransactionSql } from 'postgres';
import {
  type CancelRecord,
  type CancelStore,
  type Delivery,
  type LinkCheck,
  type LinkReader,
  type ParentLink,
  type RemoteCancelListener,
  type ScheduledCancel,
  SENT_MARKER_MS,
  type StatusChange,
  type StatusQuery,
  type StatusUpdate,
  StoreUnavailableError,
} from '../../core/store.ts';
import { InvalidInputError } from '../../core/task-id.ts';
import { lastActivity, type TaskStatus } from '../../core/task-status.ts';
import { type EventLogListener, type EventWindowBounds, sequenceStart, type TaskEvent, type TaskEventDraft } from '../../core/task-events.ts';
import { DEFAULT_BACKSTOP_MS, DEFAULT_PG_POOL_SIZE, DEFAULT_PG_SCHEMA, DEFAULT_POLL_MS } from './defaults.ts';
import { type Migration, MIGRATIONS, migrate } from './schema.ts';
import { PostgresListener } from './listener.ts';
import { parsePostgresSpec } from './url.ts';
import { idChunks, idsOf } from './notify-payload.ts';
import { eventBody, fromDeliveryRow, linksOfRows, parseEvent, parseStatus, parseStatuses } from '../rows.ts';
import { type StatusWrite, updateByCompareAndSet, type VersionedStatus } from '../status-cas.ts';
import { UnreadableRowTally } from '../unreadable-rows.ts';
import { type CancelRow, type DeliveryRow, type EventRow, fromCancelRow, fromScheduleRow, type ScheduleRow } from './rows.ts';

export interface PostgresStoreOptions {
  /** The schema taskctl's tables live in, so installations can share one database. */
  readonly schema?: string;
  /** Connections to keep for queries (the listening connection is one more). */
  readonly poolSize?: number;
  /** How a DBA finds these connections in pg_stat_activity; the URL's own `application_name` wins. */
  readonly applicationName?: string;
  /** How long to wait for PostgreSQL to accept a connection. */
  readonly connectTimeoutMs?: number;
  /** How often every held id is looked up again while listening: what a lost notification can cost at most. */
  readonly backstopMs?: number;
  /** How often every held id is looked up with `?listen=off`: the delay of a cancel made on another server. */
  readonly pollMs?: number;
  /** The schema's versions (tests give more, to see a database migrated forward). */
  readonly migrations?: readonly Migration[];
}

// A query that has not finished by then is cancelled and answered as unavailable: a database or network that
// went silent must not hold a cancel's answer for as long as TCP takes to notice.
const QUERY_TIMEOUT_S = 5;
// Rows per statement and per transaction: each stays short, however many ids a call is given.
const ROWS_PER_STEP = 1_000;
// Cancels in one group commit.
const CANCELS_PER_TRANSACTION = 500;

/** Errors after which the same work may simply be sent again: the connection went, the database is still there. */
const CONNECTION_LOST = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'ECONNRESET',
  'EPIPE',
  '57P01',
  '57P02',
  '08006',
  '08003',
  '08000',
]);
/** Errors that say the database could not be reached at all (rather than refusing something). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'CONNECT_TIMEOUT', ...CONNECTION_LOST]);
// Two transactions that locked rows in opposite orders: one is rolled back, and retried.
const CONFLICT = new Set(['40P01', '40001']);

interface PendingCancel {
  readonly record: CancelRecord;
  readonly now: number;
  resolve(record: CancelRecord): void;
  reject(error: unknown): void;
}

/** Status writes by compare-and-set; resolves with the ids whose version had moved on. */
interface PendingStatuses {
  readonly statuses: readonly StatusWrite[];
  resolve(lost: Set<string>): void;
  reject(error: unknown): void;
}

/** A write that joins the next group commit as it is (the batched kinds, cancels and statuses, have their own lists). */
interface PendingWrite {
  readonly rows: number;
  /** False when sending it again after a lost connection could do it twice (events appended twice). */
  readonly resendable: boolean;
  run(tx: TransactionSql, notices: GroupNotices): Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** What the writes of one group ask to tell other servers at its end. */
interface GroupNotices {
  eventsAppended: boolean;
}

/** Writes that share one transaction. */
interface Group {
  readonly cancels: PendingCancel[];
  readonly statuses: PendingStatuses[];
  readonly writes: PendingWrite[];
}

interface PendingFind {
  readonly ids: readonly string[];
  resolve(rows: Map<string, CancelRecord>): void;
  reject(error: unknown): void;
}

/** Every table, as a schema-qualified identifier for the queries. */
type Tables = Record<'cancels' | 'status' | 'statusCount' | 'schedules' | 'parents' | 'outbox' | 'sent' | 'events' | 'sequence', Helper<string>>;

/**
 * Records in PostgreSQL, shared by every server pointed at the same database and schema. A cancel is
 * answered once its transaction is committed; cancels arriving together share one transaction and one
 * NOTIFY. Notifications are only a hint that wakes watches at once: the tables are the truth, looked up
 * again after the listening connection comes back and every few seconds (the backstop), so a lost
 * notification delays a wake-up but never loses it.
 */
export class PostgresStore implements CancelStore {
  readonly description: string;
  readonly unreadable = new UnreadableRowTally();
  readonly #sql: Sql;
  readonly #t: Tables;
  readonly #cancelChannel: string;
  /** The name of the advisory lock every checked link save of this schema takes (see saveParents). */
  readonly #linksLock: string;
  readonly #eventChannel: string;
  readonly #listeners = new Set<RemoteCancelListener>();
  readonly #eventListeners = new Set<EventLogListener>();
  readonly #timer: NodeJS.Timeout;
  readonly #pollMs: number;
  #listener: PostgresListener | undefined;
  /** While the listening connection is gone: looks up what is held as often as with listen=off. */
  #gapTimer: NodeJS.Timeout | undefined;
  #pending: Group = { cancels: [], statuses: [], writes: [] };
  /** Which lanes have a group commit on its way. */
  readonly #committing = { cancels: false, writes: false };
  #commitScheduled = false;
  #pendingFinds: PendingFind[] = [];
  #closed = false;

  private constructor(sql: Sql, description: string, schema: string, listening: boolean, repeatMs: number, pollMs: number) {
    this.#sql = sql;
    this.#pollMs = pollMs;
    this.description = description;
    const table = (name: string) => sql(`${schema}.${name}`);
    this.#t = {
      cancels: table('cancels'),
      status: table('task_status'),
      statusCount: table('status_count'),
      schedules: table('schedules'),
      parents: table('task_parents'),
      outbox: table('webhook_outbox'),
      sent: table('webhook_sent'),
      events: table('task_events'),
      sequence: table('event_sequence'),
    };
    this.#cancelChannel = `${schema}.cancels`;
    this.#linksLock = `taskctl links ${schema}`;
    this.#eventChannel = `${schema}.events`;
    // Every held id looked up again: the backstop while listening, the only way to hear of other servers'
    // cancels with listen=off. Without notifications the event log is read as often too (while listening,
    // the event hub's own slow poll is its backstop).
    this.#timer = setInterval(() => {
      this.#listeners.forEach((l) => l.resynced());
      if (!listening) this.#eventListeners.forEach((l) => l.appended());
    }, repeatMs);
    this.#timer.unref();
  }

  /**
   * Connects, creates or migrates the schema, and starts listening (unless the URL says `listen=off`);
   * fails with StoreUnavailableError if PostgreSQL cannot be reached or used.
   */
  static async connect(spec: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const { url, shown, listen, hasApplicationName } = parsePostgresSpec(spec);
    const schema = options.schema ?? DEFAULT_PG_SCHEMA;
    const connectionOptions = {
      connect_timeout: Math.ceil((options.connectTimeoutMs ?? 5_000) / 1_000),
      // Reconnecting quickly after an outage, but not in a tight loop.
      backoff: (attempt: number) => reconnectDelayMs(attempt) / 1_000,
      ...(hasApplicationName ? {} : { connection: { application_name: (options.applicationName ?? defaultApplicationName()).slice(0, 63) } }),
    };
    let sql: Sql;
    try {
      sql = postgres(url, { ...connectionOptions, max: options.poolSize ?? DEFAULT_PG_POOL_SIZE, query_timeout: QUERY_TIMEOUT_S, onnotice: () => {} });
    } catch (error) {
      // The library reads sslrootcert and the like while it sets up: a file it cannot read is the user's to fix.
      throw new InvalidInputError(`--store ${shown}: ${describe(error)}`);
    }
    const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    const store = new PostgresStore(
      sql,
      `postgres:${shown}${schema === DEFAULT_PG_SCHEMA ? '' : ` schema ${schema}`}`,
      schema,
      listen,
      listen ? (options.backstopMs ?? DEFAULT_BACKSTOP_MS) : pollMs,
      pollMs,
    );
    try {
      await migrate(sql, schema, options.migrations ?? MIGRATIONS);
      // The event sequence starts at the time when this schema has none (see sequenceStart).
      await sql`INSERT INTO ${store.#t.sequence} (last) VALUES (${sequenceStart(Date.now())}) ON CONFLICT DO NOTHING`;
      if (listen) await store.#listen(url, connectionOptions, (options.connectTimeoutMs ?? 5_000) + QUERY_TIMEOUT_S * 1_000);
    } catch (error) {
      await store.close();
      const code = (error as { code?: string }).code ?? '';
      throw new StoreUnavailableError(`${UNREACHABLE.has(code) ? 'cannot reach' : 'cannot use'} ${shown}: ${describe(error)}`);
    }
    return store;
  }

  /**
   * LISTENs on a connection of its own. Each time it is listening again after a gap, whatever was notified
   * meanwhile is lost: everything held is looked up again. During the gap, what is held is looked up as
   * often as with listen=off (once the database answers), so a cancel made on another server then waits
   * for a poll, not for the backstop.
   */
  async #listen(url: string, connection: ConstructorParameters<typeof PostgresListener>[1], attemptTimeoutMs: number): Promise<void> {
    const listener = new PostgresListener(url, connection, {
      channels: [this.#cancelChannel, this.#eventChannel],
      onNotify: (channel, payload) => {
        if (channel === this.#cancelChannel) for (const id of idsOf(payload)) this.#listeners.forEach((l) => l.cancelled(id));
        else if (channel === this.#eventChannel) this.#eventListeners.forEach((l) => l.appended());
      },
      onListening: (again) => {
        clearInterval(this.#gapTimer);
        this.#gapTimer = undefined;
        if (again) this.#resyncAll();
      },
      onGap: () => {
        if (this.#closed || this.#gapTimer) return;
        this.#gapTimer = setInterval(() => {
          // Only once the database answers, so an outage is not also a look-up that fails every poll.
          this.#sql`SELECT 1`.then(
            () => this.#gapTimer && this.#resyncAll(),
            () => {},
          );
        }, this.#pollMs);
        this.#gapTimer.unref();
      },
      retryMs: reconnectDelayMs,
      attemptTimeoutMs,
    });
    this.#listener = listener;
    await listener.start();
  }

  #resyncAll(): void {
    this.#listeners.forEach((l) => l.resynced());
    this.#eventListeners.forEach((l) => l.resynced());
  }

  // ---- Group commit: writes arriving together share one transaction, and its one fsync ----

  /**
   * Commits what is pending in `lane`, a group at a time: while one transaction is on its way, the writes
   * arriving pile up for the next, so under load each commit serves many. Cancels have a lane of their
   * own, so that a cancel never waits behind the bookkeeping of the one before (its status, its event):
   * a cancel group inserts its cancels in one statement and sends one NOTIFY; a group of the other lane
   * saves its statuses in one statement and runs its other writes in the order they came.
   */
  async #commitLane(lane: 'cancels' | 'writes'): Promise<void> {
    if (this.#committing[lane]) return;
    this.#committing[lane] = true;
    try {
      for (let group = this.#takeGroup(lane); group; group = this.#takeGroup(lane)) await this.#commitGroup(group);
    } finally {
      this.#committing[lane] = false;
    }
  }

  /** The next group of `lane`: at most a step of rows of each kind (always at least one write when any is pending). */
  #takeGroup(lane: 'cancels' | 'writes'): Group | undefined {
    const pending = this.#pending;
    if (lane === 'cancels')
      return pending.cancels.length > 0 ? { cancels: pending.cancels.splice(0, CANCELS_PER_TRANSACTION), statuses: [], writes: [] } : undefined;
    if (pending.statuses.length + pending.writes.length === 0) return undefined;
    let statusRows = 0;
    let statusCount = 0;
    while (statusCount < pending.statuses.length && (statusCount === 0 || statusRows + pending.statuses[statusCount]!.statuses.length <= ROWS_PER_STEP)) {
      statusRows += pending.statuses[statusCount++]!.statuses.length;
    }
    let writeRows = 0;
    let writeCount = 0;
    while (writeCount < pending.writes.length && (writeCount === 0 || writeRows + pending.writes[writeCount]!.rows <= ROWS_PER_STEP)) {
      writeRows += pending.writes[writeCount++]!.rows;
    }
    return { cancels: [], statuses: pending.statuses.splice(0, statusCount), writes: pending.writes.splice(0, writeCount) };
  }

  async #commitGroup({ cancels, statuses, writes }: Group): Promise<void> {
    let stored: Map<string, CancelRecord>;
    let results: unknown[];
    let written: Set<string>;
    try {
      [stored, written, results] = await this.#transaction(
        async (tx) => {
          const notices: GroupNotices = { eventsAppended: false };
          const records = cancels.length > 0 ? await this.#insertCancels(tx, cancels) : new Map<string, CancelRecord>();
          const won =
            statuses.length > 0
              ? await this.#compareAndSetIn(
                  tx,
                  statuses.flatMap((pending) => pending.statuses),
                )
              : new Set<string>();
          const done: unknown[] = [];
          for (const write of writes) done.push(await write.run(tx, notices));
          if (notices.eventsAppended) await tx`SELECT pg_notify(${this.#eventChannel}, '')`;
          return [records, won, done] as const;
        },
        { resendOnLostConnection: writes.every((write) => write.resendable) },
      );
    } catch (error) {
      for (const pending of [...cancels, ...statuses, ...writes]) pending.reject(error);
      return;
    }
    for (const pending of cancels) {
      const record = stored.get(pending.record.id);
      if (record) pending.resolve(record);
      else pending.reject(new StoreUnavailableError('postgres did not confirm the cancel'));
    }
    // Of two writes of one id in a group only the first was sent: the other lost, and is made again.
    for (const pending of statuses) {
      const lost = new Set<string>();
      for (const write of pending.statuses) {
        if (written.has(write.id)) written.delete(write.id);
        else lost.add(write.id);
      }
      pending.resolve(lost);
    }
    writes.forEach((write, i) => write.resolve(results[i]));
  }

  /** Starts the lanes' commits on the next turn; a lane already committing takes what arrives before it ends. */
  #commitSoon(): void {
    if (this.#commitScheduled) return;
    this.#commitScheduled = true;
    setImmediate(() => {
      this.#commitScheduled = false;
      void this.#commitLane('cancels');
      void this.#commitLane('writes');
    });
  }

  #hasPending(): boolean {
    return this.#pending.cancels.length + this.#pending.statuses.length + this.#pending.writes.length > 0;
  }

  /** Runs `run` in the next group commit; resolves with its result once that transaction is committed. */
  #write<T>(rows: number, run: (tx: TransactionSql, notices: GroupNotices) => Promise<T>, { resendable = true } = {}): Promise<T> {
    return new Promise((resolve, reject) => {
      this.#pending.writes.push({ rows, resendable, run, resolve: resolve as (value: unknown) => void, reject });
      this.#commitSoon();
    });
  }

  // ---- Cancel records ----

  /** Joins the next group commit: one transaction (and one NOTIFY) for every cancel that arrived meanwhile. */
  insert(record: CancelRecord, now: number): Promise<CancelRecord> {
    return new Promise((resolve, reject) => {
      this.#pending.cancels.push({ record, now, resolve, reject });
      this.#commitSoon();
    });
  }

  /**
   * In `tx`: stores each cancel unless its id has a live record, notifies other servers, and returns what
   * each id now holds. The statements are sent together (pipelined) and run in order.
   */
  async #insertCancels(tx: TransactionSql, group: readonly PendingCancel[]): Promise<Map<string, CancelRecord>> {
    // The first cancel of an id in the group is the one stored; those after it find it live, as they would
    // one transaction later. Grouped by `now` (nearly always one value), since liveness is judged at it.
    const firsts = new Map<string, PendingCancel>();
    for (const pending of group) if (!firsts.has(pending.record.id)) firsts.set(pending.record.id, pending);
    const inserts = [...Map.groupBy(firsts.values(), (pending) => pending.now)].map(([now, pendings]) => {
      const records = pendings.map((p) => p.record);
      return tx`
        INSERT INTO ${this.#t.cancels} (id, reason, cancelled_at, expires_at, cancelled_by)
        SELECT * FROM unnest(${records.map((r) => r.id)}::text[], ${records.map((r) => r.reason ?? null)}::text[],
          ${records.map((r) => r.cancelledAt)}::bigint[], ${records.map((r) => r.expiresAt)}::bigint[],
          ${records.map((r) => (r.by ? JSON.stringify(r.by) : null))}::text[])
        ON CONFLICT (id) DO UPDATE SET reason = EXCLUDED.reason, cancelled_at = EXCLUDED.cancelled_at,
          expires_at = EXCLUDED.expires_at, cancelled_by = EXCLUDED.cancelled_by
        WHERE ${this.#t.cancels}.expires_at <= ${now}`;
    });
    const ids = [...firsts.keys()];
    // Read in the same transaction: what was stored here, or the live record another transaction committed.
    const stored = tx<CancelRow[]>`SELECT * FROM ${this.#t.cancels} WHERE id = ANY(${ids}::text[])`;
    // One NOTIFY per group (in as many payloads as the 8,000-byte limit needs): every server takes
    // PostgreSQL's notify lock at commit once per notifying transaction, so one per cancel would serialise
    // every commit.
    const notified = idChunks(ids).map((chunk) => tx`SELECT pg_notify(${this.#cancelChannel}, ${chunk})`);
    const [, rows] = await Promise.all([Promise.all(inserts), stored, Promise.all(notified)]);
    return new Map(rows.map((row) => [row.id, fromCancelRow(row, this.unreadable)]));
  }

  /** Look-ups arriving together (a notification names many ids, each looked up on its own) share one query. */
  async find(ids: readonly string[], now: number): Promise<CancelRecord[]> {
    if (ids.length === 0) return [];
    const found = await new Promise<Map<string, CancelRecord>>((resolve, reject) => {
      if (this.#pendingFinds.length === 0) setImmediate(() => void this.#findPending());
      this.#pendingFinds.push({ ids, resolve, reject });
    });
    const live: CancelRecord[] = [];
    for (const id of new Set(ids)) {
      const record = found.get(id);
      if (record && record.expiresAt > now) live.push(record);
    }
    return live;
  }

  async #findPending(): Promise<void> {
    const finds = this.#pendingFinds;
    this.#pendingFinds = [];
    try {
      const ids = [...new Set(finds.flatMap((find) => find.ids))];
      const found = new Map<string, CancelRecord>();
      // A page at a time: the backstop looks up every held id, which may be a great many.
      for (let i = 0; i < ids.length; i += ROWS_PER_STEP) {
        const rows = await this.#run(() => this.#sql<CancelRow[]>`SELECT * FROM ${this.#t.cancels} WHERE id = ANY(${ids.slice(i, i + ROWS_PER_STEP)}::text[])`);
        for (const row of rows) found.set(row.id, fromCancelRow(row, this.unreadable));
      }
      finds.forEach((find) => find.resolve(found));
    } catch (error) {
      finds.forEach((find) => find.reject(error));
    }
  }

  /** Deletes expired records a step at a time, however many expired at once. */
  async sweep(now: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const result = await this.#run(
        () => this.#sql`DELETE FROM ${this.#t.cancels} WHERE id IN (SELECT id FROM ${this.#t.cancels} WHERE expires_at <= ${now} LIMIT ${ROWS_PER_STEP})`,
      );
      removed += result.count;
      if (result.count < ROWS_PER_STEP) return removed;
    }
  }

  async check(): Promise<void> {
    await this.#run(() => this.#sql`SELECT 1`);
  }

  // ---- Task statuses ----

  async loadStatuses(ids: readonly string[]): Promise<TaskStatus[]> {
    return this.#inSteps(ids, async (step) =>
      parseStatuses(await this.#sql<Array<{ body: string }>>`SELECT body FROM ${this.#t.status} WHERE id = ANY(${step}::text[])`, this.unreadable),
    );
  }

  /**
   * Compare-and-set rounds (see status-cas.ts): the statuses and their versions read outside any
   * transaction, the conditional writes joining the next group commit, a step of rows at a time.
   */
  updateStatuses(ids: readonly string[], update: StatusUpdate): Promise<StatusChange[]> {
    return updateByCompareAndSet(ids, update, {
      read: async (pending) => {
        const rows = await this.#inSteps(
          pending,
          (step) =>
            this.#sql<Array<{ id: string; body: string; version: string }>>`SELECT id, body, version FROM ${this.#t.status} WHERE id = ANY(${step}::text[])`,
        );
        return new Map<string, VersionedStatus>(
          rows.map((row) => [row.id, { status: parseStatus(row.body, this.unreadable, row.id), version: Number(row.version) }]),
        );
      },
      write: async (writes) => {
        const steps: Array<Promise<Set<string>>> = [];
        for (let i = 0; i < writes.length; i += ROWS_PER_STEP) {
          const step = writes.length <= ROWS_PER_STEP ? writes : writes.slice(i, i + ROWS_PER_STEP);
          steps.push(new Promise((resolve, reject) => this.#pending.statuses.push({ statuses: step, resolve, reject })));
        }
        this.#commitSoon();
        return new Set((await Promise.all(steps)).flatMap((lost) => [...lost]));
      },
    });
  }

  /**
   * In `tx`, in one statement: each write whose stored version is still the one it expects (none stored:
   * 0) is written as the next version; resolves with the ids written. A row another server changed since
   * it was read fails the version check (PostgreSQL checks it again on the newest row when it had to wait
   * for that row), and so does an insert of an id another server inserted first. Rows are taken in id
   * order, so two servers writing the same tasks rarely deadlock (and a deadlock is retried, see #run).
   */
  async #compareAndSetIn(tx: TransactionSql, writes: readonly StatusWrite[]): Promise<Set<string>> {
    const first = new Map<string, StatusWrite>();
    for (const write of writes) if (!first.has(write.id)) first.set(write.id, write);
    const sorted = [...first.values()].sort((a, b) => compareIds(a.id, b.id));
    const statuses = sorted.map((write) => write.status);
    const rows = await tx<Array<{ id: string }>>`
      WITH input AS (
        SELECT * FROM unnest(${sorted.map((w) => w.id)}::text[], ${sorted.map((w) => w.expected)}::bigint[], ${statuses.map((s) => s.state)}::text[],
          ${statuses.map((s) => s.lastSeenAt ?? null)}::bigint[], ${statuses.map(lastActivity)}::bigint[], ${statuses.map((s) => JSON.stringify(s))}::text[])
          AS w(id, expected, state, last_seen_at, active_at, body)
      ),
      updated AS (
        UPDATE ${this.#t.status} AS s SET state = w.state, last_seen_at = w.last_seen_at, active_at = w.active_at, body = w.body, version = s.version + 1
        FROM input AS w WHERE w.expected > 0 AND s.id = w.id AND s.version = w.expected
        RETURNING s.id
      ),
      inserted AS (
        INSERT INTO ${this.#t.status} (id, state, last_seen_at, active_at, body, version)
        SELECT id, state, last_seen_at, active_at, body, 1 FROM input WHERE expected = 0
        ON CONFLICT (id) DO NOTHING
        RETURNING id
      ),
      counted AS (
        UPDATE ${this.#t.statusCount} SET n = n + (SELECT count(*) FROM inserted) WHERE EXISTS (SELECT 1 FROM inserted)
      )
      SELECT id FROM updated UNION ALL SELECT id FROM inserted`;
    return new Set(rows.map((row) => row.id));
  }

  async listStatuses(query: StatusQuery): Promise<TaskStatus[]> {
    const after = query.after ?? '';
    const rows = await this.#run(() =>
      query.state === undefined
        ? this.#sql<Array<{ body: string }>>`SELECT body FROM ${this.#t.status} WHERE id > ${after} ORDER BY id LIMIT ${query.limit}`
        : this.#sql<
            Array<{ body: string }>
          >`SELECT body FROM ${this.#t.status} WHERE state = ${query.state} AND id > ${after} ORDER BY id LIMIT ${query.limit}`,
    );
    return parseStatuses(rows, this.unreadable);
  }

  async findQuiet(seenBefore: number, limit: number): Promise<TaskStatus[]> {
    const rows = await this.#run(
      () => this.#sql<Array<{ body: string }>>`
        SELECT body FROM ${this.#t.status} WHERE state IN ('watching', 'cancel_requested') AND last_seen_at < ${seenBefore} LIMIT ${limit}`,
    );
    return parseStatuses(rows, this.unreadable);
  }

  async findInactive(before: number, limit: number): Promise<string[]> {
    const rows = await this.#run(
      () => this.#sql<Array<{ id: string }>>`SELECT id FROM ${this.#t.status} WHERE active_at < ${before} ORDER BY active_at LIMIT ${limit}`,
    );
    return rows.map((row) => row.id);
  }

  /** The activity check is part of the delete, so a status saved meanwhile (by any server) is kept. */
  async forgetStatuses(ids: readonly string[], inactiveBefore: number): Promise<number> {
    let forgotten = 0;
    for (let i = 0; i < ids.length; i += ROWS_PER_STEP) {
      const step = ids.slice(i, i + ROWS_PER_STEP);
      const [row] = await this.#run(
        () => this.#sql<Array<{ gone: string }>>`
          WITH gone AS (DELETE FROM ${this.#t.status} WHERE id = ANY(${step}::text[]) AND active_at < ${inactiveBefore} RETURNING 1),
            counted AS (UPDATE ${this.#t.statusCount} SET n = n - (SELECT count(*) FROM gone))
          SELECT count(*) AS gone FROM gone`,
      );
      forgotten += Number(row?.gone ?? 0);
    }
    return forgotten;
  }

  async countStatuses(): Promise<number> {
    const [row] = await this.#run(() => this.#sql<Array<{ n: string }>>`SELECT n FROM ${this.#t.statusCount}`);
    return Number(row?.n ?? 0);
  }

  // ---- Scheduled cancels ----

  async schedule(schedule: ScheduledCancel): Promise<void> {
    await this.#write(
      1,
      (tx) => tx`
        INSERT INTO ${this.#t.schedules} (id, at, reason, scheduled_by)
        VALUES (${schedule.id}, ${schedule.at}, ${schedule.reason ?? null}, ${schedule.by ? JSON.stringify(schedule.by) : null})
        ON CONFLICT (id) DO UPDATE SET at = EXCLUDED.at, reason = EXCLUDED.reason, scheduled_by = EXCLUDED.scheduled_by`,
    );
  }

  async loadSchedules(ids: readonly string[]): Promise<ScheduledCancel[]> {
    return this.#inSteps(ids, async (step) =>
      (await this.#sql<ScheduleRow[]>`SELECT * FROM ${this.#t.schedules} WHERE id = ANY(${step}::text[])`).map((row) => fromScheduleRow(row, this.unreadable)),
    );
  }

  async listSchedules(after: string | undefined, limit: number): Promise<ScheduledCancel[]> {
    const rows = await this.#run(() => this.#sql<ScheduleRow[]>`SELECT * FROM ${this.#t.schedules} WHERE id > ${after ?? ''} ORDER BY id LIMIT ${limit}`);
    return rows.map((row) => fromScheduleRow(row, this.unreadable));
  }

  async dueSchedules(now: number, limit: number): Promise<ScheduledCancel[]> {
    const rows = await this.#run(() => this.#sql<ScheduleRow[]>`SELECT * FROM ${this.#t.schedules} WHERE at <= ${now} ORDER BY at, id LIMIT ${limit}`);
    return rows.map((row) => fromScheduleRow(row, this.unreadable));
  }

  async unschedule(id: string): Promise<void> {
    await this.#write(1, (tx) => tx`DELETE FROM ${this.#t.schedules} WHERE id = ${id}`);
  }

  // ---- Parent links: one row per (parent, child) ----

  /**
   * With `check`: in a transaction of its own that first takes this schema's links lock (a transaction-scoped
   * advisory lock, which every checked save of every server takes), so the check reads every link saved
   * before it and none is saved until this one commits.
   */
  async saveParents(links: readonly ParentLink[], check?: LinkCheck): Promise<void> {
    const latest = [...new Map(links.map((link) => [link.child, link])).values()];
    if (check === undefined) return this.#saveParentsInGroups(latest);
    // The check's refusal reaches the caller as it is, not as the store being unavailable.
    let refused: { error: unknown } | undefined;
    await this.#transaction(async (tx) => {
      refused = undefined;
      await tx`SELECT pg_advisory_xact_lock(hashtext(${this.#linksLock}))`;
      await check(latest, this.#linkReader(tx)).catch((error: unknown) => {
        refused = { error };
        throw error;
      });
      for (let i = 0; i < latest.length; i += ROWS_PER_STEP) await this.#writeLinks(tx, latest.slice(i, i + ROWS_PER_STEP));
    }).catch((error: unknown) => {
      throw refused ? refused.error : error;
    });
  }

  async #saveParentsInGroups(latest: readonly ParentLink[]): Promise<void> {
    const steps: Promise<unknown>[] = [];
    for (let i = 0; i < latest.length; i += ROWS_PER_STEP) {
      const step = latest.slice(i, i + ROWS_PER_STEP);
      const rows = step.reduce((n, link) => n + link.parents.length, step.length);
      steps.push(this.#write(rows, (tx) => this.#writeLinks(tx, step)));
    }
    await Promise.all(steps);
  }

  async #writeLinks(tx: TransactionSql, step: readonly ParentLink[]): Promise<void> {
    const rows = step.flatMap((link) => link.parents.map((parent) => [parent, link.child, link.linkedBy ?? null] as const));
    await tx`DELETE FROM ${this.#t.parents} WHERE child = ANY(${step.map((link) => link.child)}::text[])`;
    await tx`
      INSERT INTO ${this.#t.parents} (parent, child, linked_by)
      SELECT * FROM unnest(${rows.map(([parent]) => parent)}::text[], ${rows.map(([, child]) => child)}::text[], ${rows.map(([, , by]) => by)}::text[])
      ON CONFLICT DO NOTHING`;
  }

  /** The reads of links a check makes inside a checked save's transaction. */
  #linkReader(tx: TransactionSql): LinkReader {
    return {
      loadParents: async (ids) => {
        const rows: Array<{ child: string; parent: string; linked_by: string | null }> = [];
        for (let i = 0; i < ids.length; i += ROWS_PER_STEP) rows.push(...(await this.#parentRows(tx, ids.slice(i, i + ROWS_PER_STEP))));
        return linksOfRows(rows);
      },
      listChildren: async (parent, after, limit) => (await this.#childRows(tx, parent, after, limit)).map((row) => row.child),
      parentsAmong: async (ids) => {
        const found: string[] = [];
        for (let i = 0; i < ids.length; i += ROWS_PER_STEP)
          found.push(...(await this.#parentsAmongRows(tx, ids.slice(i, i + ROWS_PER_STEP))).map((row) => row.id));
        return found;
      },
    };
  }

  #parentRows(sql: Sql | TransactionSql, ids: readonly string[]) {
    return sql<
      Array<{ child: string; parent: string; linked_by: string | null }>
    >`SELECT child, parent, linked_by FROM ${this.#t.parents} WHERE child = ANY(${ids as string[]}::text[])`;
  }

  #childRows(sql: Sql | TransactionSql, parent: string, after: string | undefined, limit: number) {
    return sql<
      Array<{ child: string }>
    >`SELECT child FROM ${this.#t.parents} WHERE parent = ${parent} AND child > ${after ?? ''} ORDER BY child LIMIT ${limit}`;
  }

  /** One index probe per id: a parent with 100,000 children is not read to learn that it has one. */
  #parentsAmongRows(sql: Sql | TransactionSql, ids: readonly string[]) {
    return sql<Array<{ id: string }>>`
      SELECT id FROM unnest(${ids as string[]}::text[]) AS given(id) WHERE EXISTS (SELECT 1 FROM ${this.#t.parents} WHERE parent = given.id)`;
  }

  async loadParents(ids: readonly string[]): Promise<ParentLink[]> {
    return linksOfRows(await this.#inSteps(ids, (step) => this.#parentRows(this.#sql, step)));
  }

  async listChildren(parent: string, after: string | undefined, limit: number): Promise<string[]> {
    return (await this.#run(() => this.#childRows(this.#sql, parent, after, limit))).map((row) => row.child);
  }

  async parentsAmong(ids: readonly string[]): Promise<string[]> {
    return (await this.#inSteps(ids, (step) => this.#parentsAmongRows(this.#sql, step))).map((row) => row.id);
  }

  async forgetParents(ids: readonly string[]): Promise<number> {
    let forgotten = 0;
    for (let i = 0; i < ids.length; i += ROWS_PER_STEP) {
      const step = ids.slice(i, i + ROWS_PER_STEP);
      const result = await this.#run(
        () => this.#sql`
          DELETE FROM ${this.#t.parents} AS link WHERE child = ANY(${step}::text[])
            AND NOT EXISTS (SELECT 1 FROM ${this.#t.status} AS status WHERE status.id = link.child)`,
      );
      forgotten += result.count;
    }
    return forgotten;
  }

  // ---- Webhook deliveries (the outbox) ----

  async enqueueDeliveries(deliveries: readonly Delivery[]): Promise<void> {
    const recentlySent = Date.now() - SENT_MARKER_MS;
    for (let i = 0; i < deliveries.length; i += ROWS_PER_STEP) {
      const step = deliveries.slice(i, i + ROWS_PER_STEP);
      await this.#run(
        () => this.#sql`
          INSERT INTO ${this.#t.outbox} (id, event_id, endpoint, body, created_at, attempts, next_at)
          SELECT * FROM unnest(${step.map((d) => d.id)}::text[], ${step.map((d) => d.eventId)}::text[], ${step.map((d) => d.endpoint)}::text[],
            ${step.map((d) => d.body)}::text[], ${step.map((d) => d.createdAt)}::bigint[], ${step.map((d) => d.attempts)}::integer[],
            ${step.map((d) => d.nextAt)}::bigint[]) AS d(id, event_id, endpoint, body, created_at, attempts, next_at)
          WHERE NOT EXISTS (SELECT 1 FROM ${this.#t.sent} AS sent WHERE sent.id = d.id AND sent.finished_at > ${recentlySent})
          ON CONFLICT (id) DO NOTHING`,
      );
    }
  }

  /** Rows another server is claiming right now are skipped, not waited for. */
  async claimDeliveries(now: number, leaseMs: number, limit: number): Promise<Delivery[]> {
    const rows = await this.#run(
      () => this.#sql<DeliveryRow[]>`
        WITH due AS (
          SELECT id, next_at FROM ${this.#t.outbox} WHERE next_at <= ${now} ORDER BY next_at, id LIMIT ${limit} FOR UPDATE SKIP LOCKED
        )
        UPDATE ${this.#t.outbox} AS outbox SET next_at = ${now + leaseMs} FROM due WHERE outbox.id = due.id
        RETURNING outbox.*, due.next_at AS due_at`,
    );
    rows.sort((a, b) => Number(a.due_at) - Number(b.due_at) || compareIds(a.id, b.id));
    return rows.map((row) => fromDeliveryRow(row, now + leaseMs));
  }

  /** Forgets the delivery and remembers it was made for an hour (dropping a few markers older than that). */
  async finishDelivery(id: string): Promise<void> {
    const now = Date.now();
    await this.#run(
      () => this.#sql`
        WITH done AS (DELETE FROM ${this.#t.outbox} WHERE id = ${id}),
          old AS (DELETE FROM ${this.#t.sent} WHERE id IN (SELECT id FROM ${this.#t.sent} WHERE finished_at < ${now - SENT_MARKER_MS} LIMIT 16))
        INSERT INTO ${this.#t.sent} (id, finished_at) VALUES (${id}, ${now}) ON CONFLICT (id) DO UPDATE SET finished_at = EXCLUDED.finished_at`,
    );
  }

  async retryDelivery(id: string, attempts: number, nextAt: number): Promise<void> {
    await this.#run(() => this.#sql`UPDATE ${this.#t.outbox} SET attempts = ${attempts}, next_at = ${nextAt} WHERE id = ${id}`);
  }

  async countDeliveries(): Promise<number> {
    // The outbox is small (what endpoints have not taken yet), so counting it is cheap.
    const [row] = await this.#run(() => this.#sql<Array<{ n: string }>>`SELECT count(*) AS n FROM ${this.#t.outbox}`);
    return Number(row?.n ?? 0);
  }

  // ---- The task event window: a table of the most recent events by seq, and the sequence's last value ----

  /**
   * Each step takes its seqs from the sequence row, whose lock it holds until it commits: appends from
   * every server commit in seq order, so a reader never sees a seq before the ones below it. The oldest
   * events beyond `keep` go in the same step, and one NOTIFY tells every server.
   */
  async appendEvents(drafts: readonly TaskEventDraft[], keep: number): Promise<TaskEvent[]> {
    const steps: Promise<TaskEvent[]>[] = [];
    for (let i = 0; i < drafts.length; i += ROWS_PER_STEP) {
      const step = drafts.slice(i, i + ROWS_PER_STEP);
      steps.push(
        this.#write(
          step.length,
          async (tx, notices) => {
            const [row] = await tx<Array<{ last: string }>>`UPDATE ${this.#t.sequence} SET last = last + ${step.length} RETURNING last`;
            const last = Number(row!.last);
            const events = step.map((draft, j): TaskEvent => ({ ...draft, seq: last - step.length + 1 + j }));
            await tx`
              INSERT INTO ${this.#t.events} (seq, at, body)
              SELECT * FROM unnest(${events.map((e) => e.seq)}::bigint[], ${events.map((e) => e.at)}::bigint[], ${events.map(eventBody)}::text[])`;
            await tx`DELETE FROM ${this.#t.events} WHERE seq IN (SELECT seq FROM ${this.#t.events} WHERE seq <= ${last - keep} ORDER BY seq LIMIT ${step.length + 64})`;
            notices.eventsAppended = true;
            return events;
          },
          // Sent again after a lost connection, a step that did commit would append its events twice.
          { resendable: false },
        ),
      );
    }
    return (await Promise.all(steps)).flat();
  }

  async readEvents(after: number, limit: number): Promise<{ events: TaskEvent[] } & EventWindowBounds> {
    const rows =
      limit > 0
        ? await this.#run(() => this.#sql<EventRow[]>`SELECT seq, at, body FROM ${this.#t.events} WHERE seq > ${after} ORDER BY seq LIMIT ${limit}`)
        : [];
    // Read after the events, so `last` is never below one of them.
    const [bounds] = await this.#run(
      () => this.#sql<Array<{ last: string; oldest: string | null }>>`SELECT last, (SELECT min(seq) FROM ${this.#t.events}) AS oldest FROM ${this.#t.sequence}`,
    );
    const last = Number(bounds?.last ?? 0);
    return {
      events: rows.flatMap((row) => parseEvent(Number(row.seq), Number(row.at), row.body, this.unreadable) ?? []),
      oldest: bounds?.oldest == null ? last + 1 : Number(bounds.oldest),
      last,
    };
  }

  async trimEvents(before: number, limit: number): Promise<number> {
    let dropped = 0;
    while (dropped < limit) {
      const budget = Math.min(ROWS_PER_STEP, limit - dropped);
      // Events are appended in time order: the old ones are a prefix of the table.
      const rows = await this.#run(() => this.#sql<Array<{ seq: string; at: string }>>`SELECT seq, at FROM ${this.#t.events} ORDER BY seq LIMIT ${budget}`);
      let upTo: number | undefined;
      for (const row of rows) {
        if (Number(row.at) >= before) break;
        upTo = Number(row.seq);
      }
      if (upTo === undefined) break;
      const result = await this.#run(() => this.#sql`DELETE FROM ${this.#t.events} WHERE seq <= ${upTo}`);
      dropped += result.count;
      if (result.count < budget) break;
    }
    return dropped;
  }

  subscribeEvents(listener: EventLogListener): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  subscribe(listener: RemoteCancelListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#listeners.clear();
    this.#eventListeners.clear();
    // Writes already taken are committed (or refused) before the connections go.
    while (this.#committing.cancels || this.#committing.writes || this.#hasPending()) {
      if (this.#hasPending()) this.#commitSoon();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    clearInterval(this.#gapTimer);
    await this.#listener?.close();
    await this.#sql.end({ timeout: 2 });
  }

  // ---- Running queries ----

  /** Runs `lookUp` over `ids` a step at a time. */
  async #inSteps<T>(ids: readonly string[], lookUp: (step: string[]) => Promise<readonly T[]>): Promise<T[]> {
    const found: T[] = [];
    for (let i = 0; i < ids.length; i += ROWS_PER_STEP) found.push(...(await this.#run(() => lookUp(ids.slice(i, i + ROWS_PER_STEP)))));
    return found;
  }

  /** Runs `work` in a transaction (see #run for what is retried). */
  #transaction<T>(work: (tx: TransactionSql) => Promise<T>, options: { resendOnLostConnection?: boolean } = {}): Promise<T> {
    return this.#run(() => this.#sql.begin(work) as Promise<T>, options);
  }

  /**
   * Runs a query, sending it again when its connection was lost under it (a killed backend, a restart) or
   * it lost a race for rows with another server: every write here gives the same result when repeated.
   * Anything else, and a second failure, is StoreUnavailableError, which the API answers with 503.
   */
  async #run<T>(query: () => Promise<T>, { resendOnLostConnection = true } = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await query();
      } catch (error) {
        const code = (error as { code?: string }).code ?? '';
        const again = CONFLICT.has(code) || (resendOnLostConnection && CONNECTION_LOST.has(code));
        if (attempt < 3 && !this.#closed && again) continue;
        throw new StoreUnavailableError(`postgres unavailable: ${describe(error)}`);
      }
    }
  }
}

/** The wait before reconnect attempt `attempt`: quick after an outage, but never a tight loop. */
function reconnectDelayMs(attempt: number): number {
  return Math.min(100 * 2 ** attempt, 2_000);
}

/** Orders ids as the database's "C" collation does: by UTF-8 bytes. */
function compareIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** What connections are called in pg_stat_activity: taskctl, and which machine and process. */
function defaultApplicationName(): string {
  return `taskctl ${hostname()} pid ${process.pid}`;
}

/** An error as one line: the library's message, with PostgreSQL's code when it gave one. */
function describe(error: unknown): string {
  const { message, code } = error as { message?: string; code?: string };
  const text = (message ?? String(error)).split('\n')[0]!;
  return code && !text.includes(code) ? `${text} (${code})` : text;
}
