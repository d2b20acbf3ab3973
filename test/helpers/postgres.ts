import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { freePort } from './tcp-proxy.ts';

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

/**
 * A PostgreSQL server of its own (initdb in a temporary folder, a free port, trust auth, no fsync), for
 * what the shared one cannot show: TLS, or a restart (the shared one is other tests' too). Run as the
 * postgres user when the tests run as root, since PostgreSQL refuses to run as root.
 */
export class PrivatePostgres {
  #child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly bin: string,
    private readonly dir: string,
    private readonly settings: Readonly<Record<string, string>>,
    private readonly owner: { uid?: number; gid?: number },
  ) {}

  /** The server binaries' folder, or undefined when PostgreSQL's server is not installed here. */
  static binaries(): string | undefined {
    const root = '/usr/lib/postgresql';
    if (!existsSync(root)) return undefined;
    const newest = readdirSync(root)
      .sort((a, b) => Number(a) - Number(b))
      .at(-1);
    return newest && existsSync(join(root, newest, 'bin', 'initdb')) ? join(root, newest, 'bin') : undefined;
  }

  /**
   * Makes a cluster and starts it; with `tls`, it serves that certificate and key. `maxConnections` is 20
   * unless asked (a test's servers need few).
   */
  static async start(tls?: { certPath: string; keyPath: string }, options: { maxConnections?: number } = {}): Promise<PrivatePostgres> {
    const bin = PrivatePostgres.binaries();
    if (!bin) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
    const owner: { uid?: number; gid?: number } = process.getuid?.() === 0 ? postgresUser() : {};
    const dir = mkdtempSync(join(tmpdir(), 'taskctl-pg-'));
    if (owner.uid !== undefined) chownSync(dir, owner.uid, owner.gid!);
    const data = join(dir, 'data');
    execFileSync(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'], { ...owner, stdio: 'ignore' });
    if (tls) {
      for (const [from, to] of [
        [tls.certPath, 'server.crt'],
        [tls.keyPath, 'server.key'],
      ] as const) {
        copyFileSync(from, join(data, to));
        chmodSync(join(data, to), 0o600);
        if (owner.uid !== undefined) chownSync(join(data, to), owner.uid, owner.gid!);
      }
    }
    const port = await freePort();
    const settings = {
      listen_addresses: '127.0.0.1',
      port: String(port),
      unix_socket_directories: dir,
      ssl: tls ? 'on' : 'off',
      fsync: 'off',
      max_connections: String(options.maxConnections ?? 20),
    };
    const server = new PrivatePostgres(port, bin, dir, settings, owner);
    try {
      await server.startAgain();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** A URL for its postgres database with `query` (e.g. sslmode) added. */
  url(query = ''): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres${query}`;
  }

  /** Starts the server on its data and port (after stopImmediately) and resolves once it accepts connections. */
  async startAgain(): Promise<void> {
    const child = spawn(
      join(this.bin, 'postgres'),
      ['-D', join(this.dir, 'data'), ...Object.entries(this.settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])],
      {
        ...this.owner,
        stdio: 'ignore',
      },
    );
    this.#child = child;
    const deadline = Date.now() + 30_000;
    while (spawnSync('pg_isready', ['-h', '127.0.0.1', '-p', String(this.port)], { stdio: 'ignore' }).status !== 0) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`postgres did not start on port ${this.port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * `pg_ctl stop -m immediate`: every server process quits at once, without a checkpoint, as in a crash;
   * the next start recovers from the WAL. Resolves once the server has exited.
   */
  async stopImmediately(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    execFileSync(join(this.bin, 'pg_ctl'), ['stop', '-D', join(this.dir, 'data'), '-m', 'immediate', '--no-wait'], { ...this.owner, stdio: 'ignore' });
    await exited;
  }

  /** SIGKILLs the server at once, if it runs (its backends end when they see it gone); for an exit handler. */
  killNow(): void {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  /** Kills the server and removes its files. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function postgresUser(): { uid: number; gid: number } {
  const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, 'postgres']).toString().trim()));
  return { uid: uid!, gid: gid! };
}
