// The sqlite file's schema as numbered steps, the version it is at kept in `PRAGMA user_version`. A file
// made before versions were kept (user_version 0, by taskctl 0.1 and its earlier builds) may be at any point
// of steps 1 to 8, each of which had its own "add it if missing" check then: those steps look before they
// change anything, so any such file is brought forward whatever it holds.
import type { DatabaseSync } from 'node:sqlite';
import { sequenceStart } from '../../core/store.ts';

/** One step of the schema, applied once, in order. */
export interface SqliteMigration {
  readonly version: number;
  /** Why the step exists, for whoever reads the list. */
  readonly why: string;
  readonly up: (db: DatabaseSync) => void;
  /** False for a step that cannot run in a transaction (VACUUM); such a step must be safe to run again. */
  readonly transaction?: false;
}

/** Raised when a file was made by a newer taskctl: an older one must not write to it. */
export class SchemaTooNewError extends Error {
  override name = 'SchemaTooNewError';
}

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    why: 'pages freed by deletes go back to the file system (see incremental vacuum): chosen before the first table, or the file rebuilt once',
    transaction: false,
    up(db) {
      if ((db.prepare('PRAGMA auto_vacuum').get() as { auto_vacuum: number }).auto_vacuum === 2) return;
      db.exec('PRAGMA auto_vacuum = INCREMENTAL');
      if (tableNames(db).size > 0) db.exec('VACUUM');
    },
  },
  {
    version: 2,
    why: 'cancel records and task statuses',
    up(db) {
      db.exec(`
        CREATE TABLE IF NOT EXISTS cancels (id TEXT PRIMARY KEY, reason TEXT, cancelled_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS cancels_by_expiry ON cancels (expires_at);
        CREATE TABLE IF NOT EXISTS task_status (id TEXT PRIMARY KEY, state TEXT NOT NULL, last_seen_at INTEGER, body TEXT NOT NULL) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS task_status_by_state ON task_status (state, id);
        CREATE INDEX IF NOT EXISTS task_status_by_last_seen ON task_status (last_seen_at) WHERE state IN ('watching', 'cancel_requested');
      `);
    },
  },
  {
    version: 3,
    why: 'scheduled cancels',
    up(db) {
      db.exec(`
        CREATE TABLE IF NOT EXISTS schedules (id TEXT PRIMARY KEY, at INTEGER NOT NULL, reason TEXT) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS schedules_by_time ON schedules (at);
      `);
    },
  },
  {
    version: 4,
    why: 'retention finds old tasks by their last activity: the column, filled from what each status says',
    up(db) {
      if (!columnNames(db, 'task_status').has('active_at')) {
        db.exec(`
          ALTER TABLE task_status ADD COLUMN active_at INTEGER NOT NULL DEFAULT 0;
          UPDATE task_status SET active_at = max(coalesce(json_extract(body, '$.since'), 0), coalesce(last_seen_at, 0)) WHERE json_valid(body);
        `);
      }
      db.exec('CREATE INDEX IF NOT EXISTS task_status_by_activity ON task_status (active_at)');
    },
  },
  {
    version: 5,
    why: 'who asked for a cancel or a schedule (rows from before read as asked by nobody known)',
    up(db) {
      if (!columnNames(db, 'cancels').has('cancelled_by')) db.exec('ALTER TABLE cancels ADD COLUMN cancelled_by TEXT');
      if (!columnNames(db, 'schedules').has('scheduled_by')) db.exec('ALTER TABLE schedules ADD COLUMN scheduled_by TEXT');
    },
  },
  {
    version: 6,
    why: 'parent links: one row per (parent, child), keyed by parent so children page by id, with an index by child',
    up(db) {
      db.exec(`
        CREATE TABLE IF NOT EXISTS task_parents (parent TEXT NOT NULL, child TEXT NOT NULL, PRIMARY KEY (parent, child)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS task_parents_by_child ON task_parents (child);
      `);
    },
  },
  {
    version: 7,
    why: 'the webhook outbox',
    up(db) {
      db.exec(`
        CREATE TABLE IF NOT EXISTS webhook_outbox (
          id TEXT PRIMARY KEY, event_id TEXT NOT NULL, endpoint TEXT NOT NULL, body TEXT NOT NULL,
          created_at INTEGER NOT NULL, attempts INTEGER NOT NULL, next_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS webhook_outbox_by_due ON webhook_outbox (next_at);
      `);
    },
  },
  {
    version: 8,
    why: 'the task event window, its sequence starting at the time (see sequenceStart)',
    up(db) {
      db.exec(`
        CREATE TABLE IF NOT EXISTS task_events (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS event_sequence (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL);
      `);
      db.prepare('INSERT OR IGNORE INTO event_sequence (id, last) VALUES (1, ?)').run(sequenceStart(Date.now()));
    },
  },
  {
    version: 9,
    why: 'status versions, for writes conditional on the version read (compare-and-set); statuses from before are at version 1',
    up(db) {
      db.exec('ALTER TABLE task_status ADD COLUMN version INTEGER NOT NULL DEFAULT 1');
    },
  },
  {
    version: 10,
    why: "who made each link (the token's name, on every row of the child's links), so a cancel through it can name them",
    up(db) {
      db.exec('ALTER TABLE task_parents ADD COLUMN linked_by TEXT');
    },
  },
];

/**
 * Brings the file to the newest of `migrations`, a step at a time, each in its own transaction with the
 * version it reaches; resolves with that version. A file newer than this taskctl knows is refused.
 */
export function migrate(db: DatabaseSync, migrations: readonly SqliteMigration[] = SQLITE_MIGRATIONS): number {
  const newest = migrations.at(-1)?.version ?? 0;
  const current = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
  if (current > newest) throw new SchemaTooNewError(`it is at schema version ${current}, newer than this taskctl knows (${newest}): upgrade taskctl`);
  for (const step of migrations) {
    if (step.version <= current) continue;
    if (step.transaction === false) {
      step.up(db);
      db.exec(`PRAGMA user_version = ${step.version}`);
      continue;
    }
    db.exec('BEGIN IMMEDIATE');
    try {
      step.up(db);
      db.exec(`PRAGMA user_version = ${step.version}`);
      db.exec('COMMIT');
    } catch (error) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw error;
    }
  }
  return Math.max(current, newest);
}

function tableNames(db: DatabaseSync): Set<string> {
  return new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((row) => row.name));
}

function columnNames(db: DatabaseSync, table: string): Set<string> {
  return new Set((db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((row) => row.name));
}
