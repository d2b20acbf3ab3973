import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { CancelRecord, CancelSource, CancelStore, ScheduledCancel, StatusQuery } from '../core/store.ts';
import type { TaskStatus } from '../core/task-status.ts';

interface Row {
  id: string;
  reason: string | null;
  cancelled_at: number;
  expires_at: number;
  /** JSON of a CancelSource; NULL in rows written before it was kept. */
  cancelled_by: string | null;
}

interface PendingWrite {
  run(): unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface ScheduleRow {
  id: string;
  at: number;
  reason: string | null;
  scheduled_by: string | null;
}

function fromScheduleRow(row: ScheduleRow): ScheduledCancel {
  const schedule: ScheduledCancel = row.reason === null ? { id: row.id, at: Number(row.at) } : { id: row.id, at: Number(row.at), reason: row.reason };
  return row.scheduled_by === null ? schedule : { ...schedule, by: parseSource(row.scheduled_by) };
}

/** A stored CancelSource; a value that does not parse (a hand-edited row) reads as unknown rather than failing every look-up. */
function parseSource(text: string): CancelSource {
  try {
    return JSON.parse(text) as CancelSource;
  } catch {
    return { name: 'unknown', address: 'unknown', route: 'v1' };
  }
}

interface StatusRow {
  body: string;
}

/**
 * Records and task statuses in one SQLite file (WAL, synchronous=FULL): a write resolves only after its
 * transaction is on disk. Writes that arrive in the same turn of the event loop share one transaction, so
 * one fsync serves them all. For a single server; servers that share records use Redis.
 */
export class SqliteStore implements CancelStore {
  readonly description: string;
  readonly #db: DatabaseSync;
  readonly #select: StatementSync;
  readonly #upsert: StatementSync;
  readonly #findMany: StatementSync;
  readonly #sweep: StatementSync;
  readonly #saveStatus: StatementSync;
  readonly #loadStatuses: StatementSync;
  readonly #listAll: StatementSync;
  readonly #listByState: StatementSync;
  readonly #findQuiet: StatementSync;
  readonly #saveSchedule: StatementSync;
  readonly #loadSchedules: StatementSync;
  readonly #dueSchedules: StatementSync;
  readonly #deleteSchedule: StatementSync;
  #pending: PendingWrite[] = [];
  #flushScheduled = false;

  constructor(readonly path: string) {
    this.description = `sqlite:${path}`;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.#db = new DatabaseSync(path);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS cancels (
        id TEXT PRIMARY KEY,
        reason TEXT,
        cancelled_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS cancels_by_expiry ON cancels (expires_at);
      CREATE TABLE IF NOT EXISTS task_status (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        last_seen_at INTEGER,
        body TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS task_status_by_state ON task_status (state, id);
      CREATE TABLE IF NOT EXISTS schedules (id TEXT PRIMARY KEY, at INTEGER NOT NULL, reason TEXT) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS schedules_by_time ON schedules (at);
      CREATE INDEX IF NOT EXISTS task_status_by_last_seen ON task_status (last_seen_at) WHERE state IN ('watching', 'cancel_requested');
    `);
    // Databases made before cancels recorded who asked lack these columns; their old rows read as "by nobody known".
    this.#addColumnIfMissing('cancels', 'cancelled_by');
    this.#addColumnIfMissing('schedules', 'scheduled_by');
    this.#select = this.#db.prepare('SELECT * FROM cancels WHERE id = ? AND expires_at > ?');
    this.#upsert = this.#db.prepare('INSERT OR REPLACE INTO cancels (id, reason, cancelled_at, expires_at, cancelled_by) VALUES (?, ?, ?, ?, ?)');
    // One statement for any number of ids: they travel as one JSON array.
    this.#findMany = this.#db.prepare('SELECT * FROM cancels WHERE id IN (SELECT value FROM json_each(?)) AND expires_at > ?');
    this.#sweep = this.#db.prepare('DELETE FROM cancels WHERE expires_at <= ?');
    this.#saveSchedule = this.#db.prepare('INSERT OR REPLACE INTO schedules (id, at, reason, scheduled_by) VALUES (?, ?, ?, ?)');
    this.#loadSchedules = this.#db.prepare('SELECT * FROM schedules WHERE id IN (SELECT value FROM json_each(?))');
    this.#dueSchedules = this.#db.prepare('SELECT * FROM schedules WHERE at <= ? ORDER BY at LIMIT ?');
    this.#deleteSchedule = this.#db.prepare('DELETE FROM schedules WHERE id = ?');
    this.#saveStatus = this.#db.prepare('INSERT OR REPLACE INTO task_status (id, state, last_seen_at, body) VALUES (?, ?, ?, ?)');
    this.#loadStatuses = this.#db.prepare('SELECT body FROM task_status WHERE id IN (SELECT value FROM json_each(?))');
    this.#listAll = this.#db.prepare('SELECT body FROM task_status WHERE id > ? ORDER BY id LIMIT ?');
    this.#listByState = this.#db.prepare('SELECT body FROM task_status WHERE state = ? AND id > ? ORDER BY id LIMIT ?');
    this.#findQuiet = this.#db.prepare(
      "SELECT body FROM task_status WHERE state IN ('watching', 'cancel_requested') AND last_seen_at < ? LIMIT ?",
    );
  }

  insert(record: CancelRecord, now: number): Promise<CancelRecord> {
    return this.#write(() => {
      const live = this.#select.get(record.id, now) as Row | undefined;
      if (live) return fromRow(live);
      this.#upsert.run(record.id, record.reason ?? null, record.cancelledAt, record.expiresAt, record.by ? JSON.stringify(record.by) : null);
      return record;
    });
  }

  async loadStatuses(ids: readonly string[]): Promise<TaskStatus[]> {
    return (this.#loadStatuses.all(JSON.stringify(ids)) as unknown as StatusRow[]).map((row) => JSON.parse(row.body) as TaskStatus);
  }

  saveStatuses(statuses: readonly TaskStatus[]): Promise<void> {
    return this.#write(() => {
      for (const status of statuses) this.#saveStatus.run(status.id, status.state, status.lastSeenAt ?? null, JSON.stringify(status));
    });
  }

  async listStatuses(query: StatusQuery): Promise<TaskStatus[]> {
    const rows = query.state === undefined ? this.#listAll.all(query.after ?? '', query.limit) : this.#listByState.all(query.state, query.after ?? '', query.limit);
    return (rows as unknown as StatusRow[]).map((row) => JSON.parse(row.body) as TaskStatus);
  }

  async findQuiet(seenBefore: number, limit: number): Promise<TaskStatus[]> {
    return (this.#findQuiet.all(seenBefore, limit) as unknown as StatusRow[]).map((row) => JSON.parse(row.body) as TaskStatus);
  }

  schedule(schedule: ScheduledCancel): Promise<void> {
    return this.#write(() => void this.#saveSchedule.run(schedule.id, schedule.at, schedule.reason ?? null, schedule.by ? JSON.stringify(schedule.by) : null));
  }

  async loadSchedules(ids: readonly string[]): Promise<ScheduledCancel[]> {
    return (this.#loadSchedules.all(JSON.stringify(ids)) as unknown as ScheduleRow[]).map(fromScheduleRow);
  }

  async dueSchedules(now: number, limit: number): Promise<ScheduledCancel[]> {
    return (this.#dueSchedules.all(now, limit) as unknown as ScheduleRow[]).map(fromScheduleRow);
  }

  unschedule(id: string): Promise<void> {
    return this.#write(() => void this.#deleteSchedule.run(id));
  }

  #addColumnIfMissing(table: string, column: string): void {
    const columns = this.#db.prepare(`PRAGMA table_info(${table})`).all() as unknown as Array<{ name: string }>;
    if (!columns.some((c) => c.name === column)) this.#db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} TEXT`);
  }

  /** Runs `work` inside the next group transaction; resolves once that transaction is on disk. */
  #write<T>(work: () => T): Promise<T> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ run: work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  async find(ids: readonly string[], now: number): Promise<CancelRecord[]> {
    if (ids.length === 1) {
      const row = this.#select.get(ids[0]!, now) as Row | undefined;
      return row ? [fromRow(row)] : [];
    }
    return (this.#findMany.all(JSON.stringify(ids), now) as unknown as Row[]).map(fromRow);
  }

  async sweep(now: number): Promise<number> {
    return Number(this.#sweep.run(now).changes);
  }

  async check(): Promise<void> {
    this.#db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.#flush();
    if (this.#db.isOpen) this.#db.close();
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const results: unknown[] = [];
    try {
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
}

function fromRow(row: Row): CancelRecord {
  const base = { id: row.id, cancelledAt: Number(row.cancelled_at), expiresAt: Number(row.expires_at) };
  const record: CancelRecord = row.reason === null ? base : { ...base, reason: row.reason };
  return row.cancelled_by === null ? record : { ...record, by: parseSource(row.cancelled_by) };
}
