import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

/** The PostgreSQL the tests use (trust auth); PGTEST_URL points them at another. */
export const PG_ADMIN_URL = process.env.PGTEST_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Whether the PostgreSQL tests run. Without a server answering they are skipped, loudly; in CI (where
 * .ci/run installs and starts one) its absence fails the run instead.
 */
export function postgresTestsEnabled(): boolean {
  const url = new URL(PG_ADMIN_URL);
  if (spawnSync('pg_isready', ['-h', url.hostname, '-p', url.port || '5432'], { stdio: 'ignore' }).status === 0) return true;
  if (process.env.CI) throw new Error(`PostgreSQL does not answer at ${url.host}, and CI must run the PostgreSQL tests`);
  console.warn(`SKIPPED: PostgreSQL does not answer at ${url.host}, so the PostgreSQL tests did not run`);
  return false;
}

/** A database of its own for one test file, created empty and dropped (with whatever is connected to it) at the end. */
export class TestDatabase {
  private constructor(
    readonly name: string,
    readonly url: string,
  ) {}

  static async create(): Promise<TestDatabase> {
    const name = `taskctl_test_${randomBytes(6).toString('hex')}`;
    await withAdmin((sql) => sql.unsafe(`CREATE DATABASE ${name}`));
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${name}`;
    return new TestDatabase(name, url.toString());
  }

  /** Runs `work` on a connection to this database, closed after. */
  async query<T>(work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    const sql = postgres(this.url, { max: 1, onnotice: () => {} });
    try {
      return await work(sql);
    } finally {
      await sql.end({ timeout: 1 });
    }
  }

  /** Ends every connection taskctl holds to this database, as a DBA (or a failover) would; resolves with how many. */
  async terminateTaskctlConnections(): Promise<number> {
    return withAdmin(async (sql) => {
      const rows = await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${this.name} AND application_name LIKE 'taskctl%'`;
      return rows.length;
    });
  }

  async drop(): Promise<void> {
    await withAdmin((sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`));
  }
}

async function withAdmin<T>(work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(PG_ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    return await work(sql);
  } finally {
    await sql.end({ timeout: 1 });
  }
}
