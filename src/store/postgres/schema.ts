import type { Sql, TransactionSql } from 'postgres';

/** One step of the schema: applied once, in order, by the first server that finds the database behind it. */
export interface Migration {
  readonly version: number;
  /** The statements, `{schema}` standing for the quoted schema name. */
  readonly statements: readonly string[];
}

// Ids compare byte by byte ("C" collation), as JavaScript and SQLite compare them: pages of a listing end
// where the next page starts whatever locale the database was made with. Times are milliseconds since the
// epoch (bigint); bodies are the JSON the other stores keep, as text (kept byte for byte, parsed only when read).
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    statements: [
      `CREATE TABLE {schema}.cancels (
        id text COLLATE "C" PRIMARY KEY, reason text, cancelled_at bigint NOT NULL, expires_at bigint NOT NULL, cancelled_by text
      )`,
      'CREATE INDEX cancels_by_expiry ON {schema}.cancels (expires_at)',
      `CREATE TABLE {schema}.task_status (
        id text COLLATE "C" PRIMARY KEY, state text NOT NULL, last_seen_at bigint, active_at bigint NOT NULL, body text NOT NULL
      )`,
      'CREATE INDEX task_status_by_state ON {schema}.task_status (state, id)',
      "CREATE INDEX task_status_by_last_seen ON {schema}.task_status (last_seen_at) WHERE state IN ('watching', 'cancel_requested')",
      'CREATE INDEX task_status_by_activity ON {schema}.task_status (active_at)',
      // How many statuses there are, kept by the writes that add or forget one, so counting reads one row.
      'CREATE TABLE {schema}.status_count (only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row), n bigint NOT NULL)',
      'INSERT INTO {schema}.status_count (n) VALUES (0)',
      'CREATE TABLE {schema}.schedules (id text COLLATE "C" PRIMARY KEY, at bigint NOT NULL, reason text, scheduled_by text)',
      'CREATE INDEX schedules_by_time ON {schema}.schedules (at)',
      'CREATE TABLE {schema}.task_parents (parent text COLLATE "C" NOT NULL, child text COLLATE "C" NOT NULL, PRIMARY KEY (parent, child))',
      'CREATE INDEX task_parents_by_child ON {schema}.task_parents (child)',
      `CREATE TABLE {schema}.webhook_outbox (
        id text PRIMARY KEY, event_id text NOT NULL, endpoint text NOT NULL, body text NOT NULL,
        created_at bigint NOT NULL, attempts integer NOT NULL, next_at bigint NOT NULL
      )`,
      'CREATE INDEX webhook_outbox_by_due ON {schema}.webhook_outbox (next_at)',
      // Deliveries made lately: the same event queued late by another server is not sent twice.
      'CREATE TABLE {schema}.webhook_sent (id text PRIMARY KEY, finished_at bigint NOT NULL)',
      'CREATE INDEX webhook_sent_by_time ON {schema}.webhook_sent (finished_at)',
      'CREATE TABLE {schema}.task_events (seq bigint PRIMARY KEY, at bigint NOT NULL, body text NOT NULL)',
      // The sequence's last value; its row lock orders appends, so seqs become visible in order.
      'CREATE TABLE {schema}.event_sequence (only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row), last bigint NOT NULL)',
    ],
  },
  {
    // Status versions, for writes conditional on the version read (compare-and-set); rows from before are at 1.
    version: 2,
    statements: ['ALTER TABLE {schema}.task_status ADD COLUMN version bigint NOT NULL DEFAULT 1'],
  },
  {
    // Who made each link (the token's name, on every row of the child's links), so a cancel through it can name them.
    version: 3,
    statements: ['ALTER TABLE {schema}.task_parents ADD COLUMN linked_by text'],
  },
];

/** Raised when the database holds a schema newer than this taskctl knows: an older binary must not write to it. */
export class SchemaTooNewError extends Error {
  override name = 'SchemaTooNewError';
}

/**
 * Creates `schema` and brings it to the newest of `migrations`, in one transaction under an advisory lock
 * (per schema name), so that servers starting together take turns: the first migrates, the others find it
 * done. A transaction-scoped lock works behind PgBouncer in transaction mode too. Resolves with the version
 * the schema is at.
 */
export async function migrate(sql: Sql, schema: string, migrations: readonly Migration[] = MIGRATIONS): Promise<number> {
  const quoted = quoteIdentifier(schema);
  const newest = migrations.at(-1)?.version ?? 0;
  return sql.begin(async (tx: TransactionSql) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${`taskctl schema ${schema}`}))`;
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    await tx.unsafe(
      `CREATE TABLE IF NOT EXISTS ${quoted}.schema_version (only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row), version integer NOT NULL)`,
    );
    const [row] = await tx.unsafe<Array<{ version: number }>>(`SELECT version FROM ${quoted}.schema_version`);
    const current = row?.version ?? 0;
    if (current > newest) {
      throw new SchemaTooNewError(`schema ${schema} is at version ${current}, newer than this taskctl knows (${newest}): upgrade taskctl`);
    }
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      for (const statement of migration.statements) await tx.unsafe(statement.replaceAll('{schema}', quoted));
    }
    if (current === 0) await tx.unsafe(`INSERT INTO ${quoted}.schema_version (version) VALUES (${newest})`);
    else if (newest > current) await tx.unsafe(`UPDATE ${quoted}.schema_version SET version = ${newest}`);
    return Math.max(current, newest);
  }) as Promise<number>;
}

/** `name` as a quoted SQL identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
