import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { CancelRecord, CancelStore } from '../core/store.ts';

interface Row {
  id: string;
  reason: string | null;
  cancelled_at: number;
  expires_at: number;
}

interface PendingInsert {
  record: CancelRecord;
  now: number;
  resolve(record: CancelRecord): void;
  reject(error: unknown): void;
}

/**
 * Records in one SQLite file (WAL, synchronous=FULL): an insert resolves only after its transaction is on
 * disk. Inserts that arrive in the same turn of the event loop share one transaction, so one fsync serves
 * them all. For a single server; servers that share records use Redis.
 */
export class SqliteStore implements CancelStore {
  readonly description: string;
  readonly #db: DatabaseSync;
  readonly #select: StatementSync;
  readonly #upsert: StatementSync;
  readonly #findMany: StatementSync;
  readonly #sweep: StatementSync;
  #pending: PendingInsert[] = [];
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
    `);
    this.#select = this.#db.prepare('SELECT * FROM cancels WHERE id = ? AND expires_at > ?');
    this.#upsert = this.#db.prepare('INSERT OR REPLACE INTO cancels (id, reason, cancelled_at, expires_at) VALUES (?, ?, ?, ?)');
    // One statement for any number of ids: they travel as one JSON array.
    this.#findMany = this.#db.prepare('SELECT * FROM cancels WHERE id IN (SELECT value FROM json_each(?)) AND expires_at > ?');
    this.#sweep = this.#db.prepare('DELETE FROM cancels WHERE expires_at <= ?');
  }

  insert(record: CancelRecord, now: number): Promise<CancelRecord> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ record, now, resolve, reject });
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
    const stored: CancelRecord[] = [];
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      for (const { record, now } of batch) {
        const live = this.#select.get(record.id, now) as Row | undefined;
        if (live) {
          stored.push(fromRow(live));
        } else {
          this.#upsert.run(record.id, record.reason ?? null, record.cancelledAt, record.expiresAt);
          stored.push(record);
        }
      }
      this.#db.exec('COMMIT');
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      batch.forEach((pending) => pending.reject(error));
      return;
    }
    batch.forEach((pending, i) => pending.resolve(stored[i]!));
  }
}

function fromRow(row: Row): CancelRecord {
  const base = { id: row.id, cancelledAt: Number(row.cancelled_at), expiresAt: Number(row.expires_at) };
  return row.reason === null ? base : { ...base, reason: row.reason };
}
