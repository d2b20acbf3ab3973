import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  type CancelRecord,
  type CancelStore,
  type Delivery,
  type LinkCheck,
  type ParentLink,
  type ScheduledCancel,
  type StatusChange,
  type StatusQuery,
  type StatusUpdate,
  StoreUnavailableError,
} from '../../core/store.ts';
import { nextTurn } from '../../core/turns.ts';
import { eventBody, fromDeliveryRow, linksOfRows, parseEvent, parseSource, parseStatus, parseStatuses } from '../rows.ts';
import { lastActivity, type TaskStatus } from '../../core/task-status.ts';
import type { EventWindowBounds, TaskEvent, TaskEventDraft } from '../../core/task-events.ts';
import { LinkTurns } from '../link-turns.ts';
import { UnreadableRowTally } from '../unreadable-rows.ts';
import { migrate } from './schema.ts';

interface Row {
  id: string;
  reason: string | null;
  cancelled_at: number;
  expires_at: number;
  /** JSON of a CancelSource; NULL in rows written before it was kept. */
  cancelled_by: string | null;
}

/**
 * How far a write must be on disk before it resolves. `fsync`: on the disk itself (cancel records and
 * schedules: a cancel answered 200 survives a power cut). `commit`: committed, so it survives the process
 * being killed, and on disk with the next fsync'd commit or checkpoint (task statuses: bookkeeping that a
 * crash of the whole machine may set back by a moment, written in bulk without an fsync per batch).
 */
type Durability = 'fsync' | 'commit';

interface PendingWrite {
  run(): unknown;
  /** Rows it writes: what a transaction's budget is counted in. */
  readonly rows: number;
  readonly durability: Durability;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface ScheduleRow {
  id: string;
  at: number;
  reason: string | null;
  scheduled_by: string | null;
}

interface StatusRow {
  body: string;
}

interface OutboxStatements {
  readonly enqueue: StatementSync;
  readonly due: StatementSync;
  readonly claim: StatementSync;
  readonly finish: StatementSync;
  readonly retry: StatementSync;
  readonly count: StatementSync;
}

interface DeliveryRow {
  id: string;
  event_id: string;
  endpoint: string;
  body: string;
  created_at: number;
  attempts: number;
  next_at: number;
}

interface LinkStatements {
  readonly unlink: StatementSync;
  readonly link: StatementSync;
  readonly load: StatementSync;
  readonly children: StatementSync;
  readonly parentsAmong: StatementSync;
  readonly forget: StatementSync;
}

// Every synchronous step is kept small, so that no single call holds the event loop for more than a few
// milliseconds: look-ups take at most this many ids at a time, and a transaction writes at most this many
// rows before the rest waits for the next turn of the event loop.
const IDS_PER_STEP = 500;
const ROWS_PER_TRANSACTION = 250;
// Freed pages are handed back to the file system a few at a time once this many have piled up.
const FREE_PAGES_BEFORE_VACUUM = 1_024;
const PAGES_PER_VACUUM_STEP = 128;

/**
 * Records and task statuses in one SQLite file (WAL). A cancel record or schedule resolves only once its
 * transaction is on disk (fsync'd); statuses once committed (see Durability). Writes that arrive in the
 * same turn of the event loop share one transaction, so one fsync serves them all, and no transaction
 * takes more than a small budget of rows. For a single server; servers that share records use Redis.
 */
export class SqliteStore implements CancelStore {
  readonly description: string;
  readonly unreadable = new UnreadableRowTally();
  readonly #db: DatabaseSync;
  readonly #select: StatementSync;
  readonly #upsert: StatementSync;
  readonly #findMany: StatementSync;
  readonly #sweep: StatementSync;
  readonly #updateStatus: StatementSync;
  readonly #insertStatus: StatementSync;
  readonly #loadVersioned: StatementSync;
  readonly #loadStatuses: StatementSync;
  readonly #listAll: StatementSync;
  readonly #listByState: StatementSync;
  readonly #findQuiet: StatementSync;
  readonly #findInactive: StatementSync;
  readonly #forgetStatuses: StatementSync;
  readonly #saveSchedule: StatementSync;
  readonly #loadSchedules: StatementSync;
  readonly #dueSchedules: StatementSync;
  readonly #listSchedules: StatementSync;
  readonly #deleteSchedule: StatementSync;
  readonly #freePages: StatementSync;
  readonly #links: LinkStatements;
  readonly #outbox: OutboxStatements;
  #pending: PendingWrite[] = [];
  #flushScheduled = false;
  #statusCount: number;
  #synchronous: 'FULL' | 'NORMAL' = 'FULL';
  #vacuuming = false;

  readonly #onClose: () => void;

  /** `onClose` runs once the file is closed (to give back its lock). */
  constructor(
    readonly path: string,
    options: { onClose?: () => void } = {},
  ) {
    this.#onClose = options.onClose ?? (() => {});
    this.description = `sqlite:${path}`;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.#db = new DatabaseSync(path);
    this.#db.exec('PRAGMA busy_timeout = 5000');
    // Numbered steps (schema.ts) bring a file of any earlier release forward; one made by a newer taskctl is
    // refused. First, since the first step chooses how freed pages are handed back, before any table exists.
    migrate(this.#db);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      PRAGMA journal_size_limit = 16777216;
    `);
    this.#links = this.#prepareLinks();
    this.#outbox = this.#prepareOutbox();
    this.#select = this.#db.prepare('SELECT * FROM cancels WHERE id = ? AND expires_at > ?');
    this.#upsert = this.#db.prepare('INSERT OR REPLACE INTO cancels (id, reason, cancelled_at, expires_at, cancelled_by) VALUES (?, ?, ?, ?, ?)');
    // One statement for any number of ids: they travel as one JSON array.
    this.#findMany = this.#db.prepare('SELECT * FROM cancels WHERE id IN (SELECT value FROM json_each(?)) AND expires_at > ?');
    this.#sweep = this.#db.prepare(`DELETE FROM cancels WHERE id IN (SELECT id FROM cancels WHERE expires_at <= ? LIMIT ${ROWS_PER_TRANSACTION})`);
    this.#saveSchedule = this.#db.prepare('INSERT OR REPLACE INTO schedules (id, at, reason, scheduled_by) VALUES (?, ?, ?, ?)');
    this.#listSchedules = this.#db.prepare('SELECT * FROM schedules WHERE id > ? ORDER BY id LIMIT ?');
    this.#loadSchedules = this.#db.prepare('SELECT * FROM schedules WHERE id IN (SELECT value FROM json_each(?))');
    this.#dueSchedules = this.#db.prepare('SELECT * FROM schedules WHERE at <= ? ORDER BY at LIMIT ?');
    this.#deleteSchedule = this.#db.prepare('DELETE FROM schedules WHERE id = ?');
    // Conditional on the version read, though nothing can come between within the transaction: the same
    // compare-and-set as the shared stores, so the version column means one thing everywhere.
    this.#updateStatus = this.#db.prepare(
      'UPDATE task_status SET state = ?, last_seen_at = ?, active_at = ?, body = ?, version = version + 1 WHERE id = ? AND version = ?',
    );
    this.#insertStatus = this.#db.prepare('INSERT INTO task_status (id, state, last_seen_at, active_at, body, version) VALUES (?, ?, ?, ?, ?, 1)');
    this.#loadVersioned = this.#db.prepare('SELECT id, body, version FROM task_status WHERE id IN (SELECT value FROM json_each(?))');
    this.#loadStatuses = this.#db.prepare('SELECT body FROM task_status WHERE id IN (SELECT value FROM json_each(?))');
    this.#listAll = this.#db.prepare('SELECT body FROM task_status WHERE id > ? ORDER BY id LIMIT ?');
    this.#listByState = this.#db.prepare('SELECT body FROM task_status WHERE state = ? AND id > ? ORDER BY id LIMIT ?');
    this.#findQuiet = this.#db.prepare("SELECT body FROM task_status WHERE state IN ('watching', 'cancel_requested') AND last_seen_at < ? LIMIT ?");
    this.#findInactive = this.#db.prepare('SELECT id FROM task_status WHERE active_at < ? ORDER BY active_at LIMIT ?');
    this.#forgetStatuses = this.#db.prepare('DELETE FROM task_status WHERE id IN (SELECT value FROM json_each(?)) AND active_at < ?');
    this.#freePages = this.#db.prepare('PRAGMA freelist_count');
    // Counted once at start (a scan); kept up to date by every insert and delete from then on.
    this.#statusCount = (this.#db.prepare('SELECT count(*) AS n FROM task_status').get() as { n: number }).n;
    this.#events = this.#openEventLog();
  }

  #prepareOutbox(): OutboxStatements {
    return {
      enqueue: this.#db.prepare(
        'INSERT OR IGNORE INTO webhook_outbox (id, event_id, endpoint, body, created_at, attempts, next_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      due: this.#db.prepare('SELECT * FROM webhook_outbox WHERE next_at <= ? ORDER BY next_at LIMIT ?'),
      claim: this.#db.prepare('UPDATE webhook_outbox SET next_at = ? WHERE id = ?'),
      finish: this.#db.prepare('DELETE FROM webhook_outbox WHERE id = ?'),
      retry: this.#db.prepare('UPDATE webhook_outbox SET attempts = ?, next_at = ? WHERE id = ?'),
      count: this.#db.prepare('SELECT count(*) AS n FROM webhook_outbox'),
    };
  }

  #prepareLinks(): LinkStatements {
    return {
      unlink: this.#db.prepare('DELETE FROM task_parents WHERE child = ?'),
      link: this.#db.prepare('INSERT OR IGNORE INTO task_parents (parent, child, linked_by) VALUES (?, ?, ?)'),
      load: this.#db.prepare('SELECT child, parent, linked_by FROM task_parents WHERE child IN (SELECT value FROM json_each(?))'),
      children: this.#db.prepare('SELECT child FROM task_parents WHERE parent = ? AND child > ? ORDER BY child LIMIT ?'),
      // One index probe per id: a parent with 100,000 children is not read to learn that it has one.
      parentsAmong: this.#db.prepare('SELECT value AS id FROM json_each(?) WHERE EXISTS (SELECT 1 FROM task_parents WHERE parent = value)'),
      forget: this.#db.prepare(
        'DELETE FROM task_parents WHERE child IN (SELECT value FROM json_each(?) WHERE NOT EXISTS (SELECT 1 FROM task_status WHERE id = value))',
      ),
    };
  }

  insert(record: CancelRecord, now: number): Promise<CancelRecord> {
    return this.#write(1, 'fsync', () => {
      const live = this.#select.get(record.id, now) as Row | undefined;
      if (live) return this.#fromRow(live);
      this.#upsert.run(record.id, record.reason ?? null, record.cancelledAt, record.expiresAt, record.by ? JSON.stringify(record.by) : null);
      return record;
    });
  }

  async find(ids: readonly string[], now: number): Promise<CancelRecord[]> {
    if (ids.length === 1) {
      const row = this.#select.get(ids[0]!, now) as Row | undefined;
      return row ? [this.#fromRow(row)] : [];
    }
    return this.#inSteps(ids, (step) => (this.#findMany.all(JSON.stringify(step), now) as unknown as Row[]).map((row) => this.#fromRow(row)));
  }

  async loadStatuses(ids: readonly string[]): Promise<TaskStatus[]> {
    return this.#inSteps(ids, (step) => parseStatuses(this.#loadStatuses.all(JSON.stringify(step)) as unknown as StatusRow[], this.unreadable));
  }

  /**
   * A step of ids per transaction: each read, applied and written inside it (the write lock is held from
   * its start, so nothing comes between and nothing is retried), many steps sharing a group commit.
   */
  async updateStatuses(ids: readonly string[], update: StatusUpdate): Promise<StatusChange[]> {
    const unique = [...new Set(ids)];
    const writes: Promise<StatusChange[]>[] = [];
    for (let i = 0; i < unique.length; i += ROWS_PER_TRANSACTION) {
      const step = unique.slice(i, i + ROWS_PER_TRANSACTION);
      writes.push(
        this.#write(step.length, 'commit', () => {
          const rows = this.#loadVersioned.all(JSON.stringify(step)) as unknown as Array<{ id: string; body: string; version: number }>;
          const stored = new Map(rows.map((row) => [row.id, row]));
          const changes: StatusChange[] = [];
          for (const id of step) {
            const row = stored.get(id);
            // A row that cannot be read is replaced as if there were none (it is counted as it is met).
            const before = row === undefined ? undefined : parseStatus(row.body, this.unreadable, id);
            const after = update(before, id);
            if (after === undefined || after === before) continue;
            const columns = [after.state, after.lastSeenAt ?? null, lastActivity(after), JSON.stringify(after)] as const;
            if (row === undefined) {
              this.#insertStatus.run(id, ...columns);
              this.#statusCount++;
            } else if (Number(this.#updateStatus.run(...columns, id, row.version).changes) !== 1) {
              throw new Error(`the status of ${id} changed inside a write transaction`);
            }
            changes.push({ before, after });
          }
          return changes;
        }),
      );
    }
    return (await Promise.all(writes)).flat();
  }

  async listStatuses(query: StatusQuery): Promise<TaskStatus[]> {
    const rows =
      query.state === undefined ? this.#listAll.all(query.after ?? '', query.limit) : this.#listByState.all(query.state, query.after ?? '', query.limit);
    return parseStatuses(rows as unknown as StatusRow[], this.unreadable);
  }

  async findQuiet(seenBefore: number, limit: number): Promise<TaskStatus[]> {
    return parseStatuses(this.#findQuiet.all(seenBefore, limit) as unknown as StatusRow[], this.unreadable);
  }

  async findInactive(before: number, limit: number): Promise<string[]> {
    return (this.#findInactive.all(before, limit) as Array<{ id: string }>).map((row) => row.id);
  }

  async forgetStatuses(ids: readonly string[], inactiveBefore: number): Promise<number> {
    let forgotten = 0;
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < ids.length; i += ROWS_PER_TRANSACTION) {
      const step = ids.slice(i, i + ROWS_PER_TRANSACTION);
      writes.push(
        this.#write(step.length, 'commit', () => {
          const removed = Number(this.#forgetStatuses.run(JSON.stringify(step), inactiveBefore).changes);
          this.#statusCount -= removed;
          forgotten += removed;
        }),
      );
    }
    await Promise.all(writes);
    this.#vacuumSoon();
    return forgotten;
  }

  async countStatuses(): Promise<number> {
    return this.#statusCount;
  }

  schedule(schedule: ScheduledCancel): Promise<void> {
    return this.#write(
      1,
      'fsync',
      () => void this.#saveSchedule.run(schedule.id, schedule.at, schedule.reason ?? null, schedule.by ? JSON.stringify(schedule.by) : null),
    );
  }

  async loadSchedules(ids: readonly string[]): Promise<ScheduledCancel[]> {
    return this.#inSteps(ids, (step) => (this.#loadSchedules.all(JSON.stringify(step)) as unknown as ScheduleRow[]).map((row) => this.#fromScheduleRow(row)));
  }

  async listSchedules(after: string | undefined, limit: number): Promise<ScheduledCancel[]> {
    return (this.#listSchedules.all(after ?? '', limit) as unknown as ScheduleRow[]).map((row) => this.#fromScheduleRow(row));
  }

  async dueSchedules(now: number, limit: number): Promise<ScheduledCancel[]> {
    return (this.#dueSchedules.all(now, limit) as unknown as ScheduleRow[]).map((row) => this.#fromScheduleRow(row));
  }

  #fromScheduleRow(row: ScheduleRow): ScheduledCancel {
    const schedule: ScheduledCancel = row.reason === null ? { id: row.id, at: Number(row.at) } : { id: row.id, at: Number(row.at), reason: row.reason };
    const by = row.scheduled_by === null ? undefined : parseSource(row.scheduled_by, this.unreadable, 'schedule', row.id);
    return by === undefined ? schedule : { ...schedule, by };
  }

  #fromRow(row: Row): CancelRecord {
    const base = { id: row.id, cancelledAt: Number(row.cancelled_at), expiresAt: Number(row.expires_at) };
    const record: CancelRecord = row.reason === null ? base : { ...base, reason: row.reason };
    const by = row.cancelled_by === null ? undefined : parseSource(row.cancelled_by, this.unreadable, 'cancel', row.id);
    return by === undefined ? record : { ...record, by };
  }

  unschedule(id: string): Promise<void> {
    return this.#write(1, 'fsync', () => void this.#deleteSchedule.run(id));
  }

  // Parent links.

  readonly #linkTurns = new LinkTurns();

  saveParents(links: readonly ParentLink[], check?: LinkCheck): Promise<void> {
    return this.#linkTurns.save(links, check, this, () => this.#saveParents(links));
  }

  async #saveParents(links: readonly ParentLink[]): Promise<void> {
    const writes: Promise<void>[] = [];
    // A link writes a row per parent and deletes the old ones: counted as parents + 1 rows of the budget.
    for (let i = 0; i < links.length; ) {
      const step: ParentLink[] = [];
      for (let rows = 0; i < links.length && (step.length === 0 || rows + links[i]!.parents.length + 1 <= ROWS_PER_TRANSACTION); i++) {
        rows += links[i]!.parents.length + 1;
        step.push(links[i]!);
      }
      const rows = step.reduce((n, link) => n + link.parents.length + 1, 0);
      writes.push(
        this.#write(rows, 'commit', () => {
          for (const { child, parents, linkedBy } of step) {
            this.#links.unlink.run(child);
            for (const parent of parents) this.#links.link.run(parent, child, linkedBy ?? null);
          }
        }),
      );
    }
    await Promise.all(writes);
  }

  async loadParents(ids: readonly string[]): Promise<ParentLink[]> {
    const rows = await this.#inSteps(
      ids,
      (step) => this.#links.load.all(JSON.stringify(step)) as unknown as Array<{ child: string; parent: string; linked_by: string | null }>,
    );
    return linksOfRows(rows);
  }

  async listChildren(parent: string, after: string | undefined, limit: number): Promise<string[]> {
    return (this.#links.children.all(parent, after ?? '', limit) as Array<{ child: string }>).map((row) => row.child);
  }

  async parentsAmong(ids: readonly string[]): Promise<string[]> {
    return this.#inSteps(ids, (step) => (this.#links.parentsAmong.all(JSON.stringify(step)) as Array<{ id: string }>).map((row) => row.id));
  }

  async forgetParents(ids: readonly string[]): Promise<number> {
    let forgotten = 0;
    const writes: Promise<void>[] = [];
    for (let i = 0; i < ids.length; i += ROWS_PER_TRANSACTION) {
      const step = ids.slice(i, i + ROWS_PER_TRANSACTION);
      writes.push(this.#write(step.length, 'commit', () => void (forgotten += Number(this.#links.forget.run(JSON.stringify(step)).changes))));
    }
    await Promise.all(writes);
    return forgotten;
  }

  async enqueueDeliveries(deliveries: readonly Delivery[]): Promise<void> {
    const writes: Promise<void>[] = [];
    for (let i = 0; i < deliveries.length; i += ROWS_PER_TRANSACTION) {
      const step = deliveries.slice(i, i + ROWS_PER_TRANSACTION);
      writes.push(
        this.#write(step.length, 'commit', () => {
          for (const d of step) this.#outbox.enqueue.run(d.id, d.eventId, d.endpoint, d.body, d.createdAt, d.attempts, d.nextAt);
        }),
      );
    }
    await Promise.all(writes);
  }

  claimDeliveries(now: number, leaseMs: number, limit: number): Promise<Delivery[]> {
    return this.#write(limit, 'commit', () => {
      const rows = this.#outbox.due.all(now, limit) as unknown as DeliveryRow[];
      for (const row of rows) this.#outbox.claim.run(now + leaseMs, row.id);
      return rows.map((row) => fromDeliveryRow(row, now + leaseMs));
    });
  }

  finishDelivery(id: string): Promise<void> {
    return this.#write(1, 'commit', () => void this.#outbox.finish.run(id));
  }

  retryDelivery(id: string, attempts: number, nextAt: number): Promise<void> {
    return this.#write(1, 'commit', () => void this.#outbox.retry.run(attempts, nextAt, id));
  }

  async countDeliveries(): Promise<number> {
    // The outbox is small (what endpoints have not taken yet), so counting it is cheap.
    return (this.#outbox.count.get() as { n: number }).n;
  }

  /** Deletes expired records a transaction's budget at a time, however many expired at once. */
  async sweep(now: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const step = await this.#write(ROWS_PER_TRANSACTION, 'commit', () => Number(this.#sweep.run(now).changes));
      removed += step;
      if (step < ROWS_PER_TRANSACTION) break;
    }
    this.#vacuumSoon();
    return removed;
  }

  async check(): Promise<void> {
    this.#db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    while (this.#pending.length > 0) this.#flush();
    if (this.#db.isOpen) this.#db.close();
    this.#onClose();
  }

  /** Runs `lookUp` over `ids` a step at a time, letting other work run between the steps. */
  async #inSteps<T>(ids: readonly string[], lookUp: (step: readonly string[]) => T[]): Promise<T[]> {
    if (ids.length <= IDS_PER_STEP) return ids.length === 0 ? [] : lookUp(ids);
    const found: T[] = [];
    for (let i = 0; i < ids.length; i += IDS_PER_STEP) {
      if (i > 0) await nextTurn();
      found.push(...lookUp(ids.slice(i, i + IDS_PER_STEP)));
    }
    return found;
  }

  /** Runs `work` inside a coming group transaction; resolves once that transaction is as durable as asked. */
  #write<T>(rows: number, durability: Durability, work: () => T): Promise<T> {
    // A write after close (a sweep or a progress flush that was on its way) fails as its caller can handle,
    // rather than in a later turn with no one to tell.
    if (!this.#db.isOpen) return Promise.reject(new StoreUnavailableError(`${this.description} is closed`));
    return new Promise((resolve, reject) => {
      this.#pending.push({ run: work, rows, durability, resolve: resolve as (value: unknown) => void, reject });
      this.#scheduleFlush();
    });
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
      if (this.#pending.length > 0) this.#scheduleFlush();
    });
  }

  /** Commits the pending writes that fit one transaction's budget (always at least one). */
  #flush(): void {
    let rows = 0;
    let count = 0;
    while (count < this.#pending.length && (count === 0 || rows + this.#pending[count]!.rows <= ROWS_PER_TRANSACTION)) {
      rows += this.#pending[count]!.rows;
      count++;
    }
    const batch = this.#pending.splice(0, count);
    if (batch.length === 0) return;
    const results: unknown[] = [];
    try {
      // In WAL mode NORMAL commits without an fsync; a FULL commit later makes everything before it durable.
      const synchronous = batch.some((write) => write.durability === 'fsync') ? 'FULL' : 'NORMAL';
      if (synchronous !== this.#synchronous) this.#db.exec(`PRAGMA synchronous = ${(this.#synchronous = synchronous)}`);
      this.#db.exec('BEGIN IMMEDIATE');
      for (const write of batch) results.push(write.run());
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      batch.forEach((write) => write.reject(error));
      return;
    }
    batch.forEach((write, i) => write.resolve(results[i]));
  }

  /** Once enough pages are free, gives them back to the file system a step at a time between requests. */
  #vacuumSoon(): void {
    if (this.#vacuuming || !this.#db.isOpen) return;
    if ((this.#freePages.get() as { freelist_count: number }).freelist_count < FREE_PAGES_BEFORE_VACUUM) return;
    this.#vacuuming = true;
    let free = Infinity;
    const step = () => {
      if (!this.#db.isOpen) return;
      this.#db.exec(`PRAGMA incremental_vacuum(${PAGES_PER_VACUUM_STEP})`);
      const left = (this.#freePages.get() as { freelist_count: number }).freelist_count;
      // Stop when done, or when a step frees nothing (pages held by an open reader come back later).
      if (left > 0 && left < free) setImmediate(step);
      else this.#vacuuming = false;
      free = left;
    };
    setImmediate(step);
  }

  // ---- The task event window ----

  readonly #events: EventStatements;

  #openEventLog(): EventStatements {
    return {
      last: this.#db.prepare('SELECT last FROM event_sequence WHERE id = 1'),
      setLast: this.#db.prepare('UPDATE event_sequence SET last = ? WHERE id = 1'),
      oldest: this.#db.prepare('SELECT min(seq) AS seq FROM task_events'),
      insert: this.#db.prepare('INSERT INTO task_events (seq, at, body) VALUES (?, ?, ?)'),
      read: this.#db.prepare('SELECT seq, at, body FROM task_events WHERE seq > ? ORDER BY seq LIMIT ?'),
      // Drops from the oldest end, a bounded number of rows at a time.
      dropUpTo: this.#db.prepare('DELETE FROM task_events WHERE seq IN (SELECT seq FROM task_events WHERE seq <= ? ORDER BY seq LIMIT ?)'),
      oldestTimes: this.#db.prepare('SELECT seq, at FROM task_events ORDER BY seq LIMIT ?'),
    };
  }

  #lastSeq(): number {
    return Number((this.#events.last.get() as { last: number }).last);
  }

  /**
   * Each step of at most a transaction's budget of events takes the next seqs inside its transaction (read
   * from the table there, so a rolled-back step leaves no hole), and drops as many of the oldest beyond
   * `keep` plus a little more: trimming keeps pace with appending without ever deleting much at once.
   */
  async appendEvents(drafts: readonly TaskEventDraft[], keep: number): Promise<TaskEvent[]> {
    const steps: Promise<TaskEvent[]>[] = [];
    for (let i = 0; i < drafts.length; i += ROWS_PER_TRANSACTION) {
      const step = drafts.slice(i, i + ROWS_PER_TRANSACTION);
      steps.push(
        this.#write(step.length, 'commit', () => {
          let last = this.#lastSeq();
          const appended = step.map((draft) => {
            const event: TaskEvent = { ...draft, seq: ++last };
            this.#events.insert.run(event.seq, event.at, eventBody(event));
            return event;
          });
          this.#events.setLast.run(last);
          this.#events.dropUpTo.run(last - keep, step.length + 64);
          return appended;
        }),
      );
    }
    return (await Promise.all(steps)).flat();
  }

  async readEvents(after: number, limit: number): Promise<{ events: TaskEvent[] } & EventWindowBounds> {
    const rows = limit > 0 ? (this.#events.read.all(after, limit) as unknown as EventRow[]) : [];
    const events = rows.flatMap((row) => parseEvent(Number(row.seq), Number(row.at), row.body, this.unreadable) ?? []);
    const last = this.#lastSeq();
    const oldest = (this.#events.oldest.get() as { seq: number | null }).seq;
    return { events, oldest: oldest === null ? last + 1 : Number(oldest), last };
  }

  async trimEvents(before: number, limit: number): Promise<number> {
    let dropped = 0;
    while (dropped < limit) {
      const budget = Math.min(ROWS_PER_TRANSACTION, limit - dropped);
      const step = await this.#write(budget, 'commit', () => {
        // Events are appended in time order: the old ones are a prefix of the table.
        const rows = this.#events.oldestTimes.all(budget) as unknown as Array<{ seq: number; at: number }>;
        let upTo: number | undefined;
        for (const row of rows) {
          if (Number(row.at) >= before) break;
          upTo = Number(row.seq);
        }
        return upTo === undefined ? 0 : Number(this.#events.dropUpTo.run(upTo, budget).changes);
      });
      dropped += step;
      if (step < budget) break;
    }
    if (dropped > 0) this.#vacuumSoon();
    return dropped;
  }
}

// ---- The task event window: a table of the most recent events by seq, and the sequence's last value ----

interface EventStatements {
  readonly last: StatementSync;
  readonly setLast: StatementSync;
  readonly oldest: StatementSync;
  readonly insert: StatementSync;
  readonly read: StatementSync;
  readonly dropUpTo: StatementSync;
  readonly oldestTimes: StatementSync;
}

interface EventRow {
  seq: number;
  at: number;
  body: string;
}
