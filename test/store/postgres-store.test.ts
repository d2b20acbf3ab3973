import { hostname } from 'node:os';
import * as assert from 'uvu/assert';
import { saveStatuses, StoreUnavailableError } from '../../src/core/store.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { type Migration, MIGRATIONS } from '../../src/store/postgres/schema.ts';
import { postgresTestsEnabled, TestDatabase } from '../helpers/postgres.ts';
import { sharedStoreSuite } from './shared-store-suite.ts';
import { storeSuite } from './store-suite.ts';

const enabled = postgresTestsEnabled();
let database: TestDatabase | undefined;
let schemas = 0;

const test = storeSuite('postgres store', async () => {
  database ??= await TestDatabase.create();
  // A fresh schema per test: rows from one test never leak into the next.
  const schema = `s${schemas++}`;
  const store = await PostgresStore.connect(database.url, { schema });
  const db = database;
  return {
    store,
    raw: {
      status: async (id, state, body) =>
        void (await db.query((sql) => sql`INSERT INTO ${sql(`${schema}.task_status`)} (id, state, active_at, body) VALUES (${id}, ${state}, 0, ${body})`)),
      event: async (body) =>
        void (await db.query(
          (sql) => sql`
            WITH next AS (UPDATE ${sql(`${schema}.event_sequence`)} SET last = last + 1 RETURNING last)
            INSERT INTO ${sql(`${schema}.task_events`)} (seq, at, body) SELECT last, 1, ${body} FROM next`,
        )),
    },
    cleanup: () => store.close(),
  };
});

test('an empty database gets the schema at the newest version; a second start changes nothing', async () => {
  const store = await PostgresStore.connect(database!.url, { schema: 'fresh' });
  await store.close();
  const again = await PostgresStore.connect(database!.url, { schema: 'fresh' });
  await again.close();
  const versions = await database!.query((sql) => sql`SELECT version FROM fresh.schema_version`);
  assert.equal(
    versions.map((row) => row.version),
    [MIGRATIONS.at(-1)!.version],
    'one row, the newest version',
  );
  const tables = await database!.query((sql) => sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'fresh' ORDER BY table_name`);
  assert.ok(
    ['cancels', 'task_status', 'schedules', 'task_parents', 'webhook_outbox', 'task_events'].every((name) => tables.some((t) => t.table_name === name)),
  );
});

test('servers starting together on an empty database take turns under the advisory lock: all start, one schema', async () => {
  const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresStore.connect(database!.url, { schema: 'together' })));
  const now = Date.now();
  await stores[0]!.insert({ id: 'seen-by-all', cancelledAt: now, expiresAt: now + 60_000 }, now);
  for (const store of stores) assert.is((await store.find(['seen-by-all'], now)).length, 1);
  await Promise.all(stores.map((store) => store.close()));
});

test('a database at the previous schema version is migrated forward, keeping its rows', async () => {
  const next: Migration = { version: MIGRATIONS.at(-1)!.version + 1, statements: ['ALTER TABLE {schema}.cancels ADD COLUMN note text'] };
  const old = await PostgresStore.connect(database!.url, { schema: 'upgraded' });
  const now = Date.now();
  await old.insert({ id: 'kept', reason: 'before the upgrade', cancelledAt: now, expiresAt: now + 60_000 }, now);
  await old.close();
  const upgraded = await PostgresStore.connect(database!.url, { schema: 'upgraded', migrations: [...MIGRATIONS, next] });
  assert.equal(
    (await upgraded.find(['kept'], now)).map((r) => r.reason),
    ['before the upgrade'],
  );
  await upgraded.close();
  const [row] = await database!.query((sql) => sql`SELECT version FROM upgraded.schema_version`);
  assert.is(row!.version, next.version);
  const columns = await database!.query(
    (sql) => sql`SELECT column_name FROM information_schema.columns WHERE table_schema = 'upgraded' AND table_name = 'cancels'`,
  );
  assert.ok(
    columns.some((c) => c.column_name === 'note'),
    'the new version applied',
  );

  try {
    await PostgresStore.connect(database!.url, { schema: 'upgraded' });
    assert.unreachable('an older taskctl must not use a newer schema');
  } catch (error) {
    assert.instance(error, StoreUnavailableError);
    assert.match(
      (error as Error).message,
      new RegExp(`schema upgraded is at version ${next.version}, newer than this taskctl knows \\(${next.version - 1}\\): upgrade taskctl`),
    );
  }
});

test('two schemas in one database do not see each other', async () => {
  const a = await PostgresStore.connect(database!.url, { schema: 'team_a' });
  const b = await PostgresStore.connect(database!.url, { schema: 'team_b' });
  const now = Date.now();
  await a.insert({ id: 'shared-id', cancelledAt: now, expiresAt: now + 10_000 }, now);
  assert.is((await a.find(['shared-id'], now)).length, 1);
  assert.is((await b.find(['shared-id'], now)).length, 0);
  await Promise.all([a.close(), b.close()]);
});

test('connections are named taskctl in pg_stat_activity, for a DBA to find; the pool size is kept to', async () => {
  const store = await PostgresStore.connect(database!.url, { schema: 'named', poolSize: 2, applicationName: 'taskctl pool-test' });
  const now = Date.now();
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      store.find([`x${i}`], now).then(() => saveStatuses(store, [{ id: `x${i}`, state: 'watching', since: now, history: [] }])),
    ),
  );
  const rows = await database!.query(
    (sql) => sql`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${database!.name} AND application_name = 'taskctl pool-test'`,
  );
  // The pool's connections and the listening one.
  assert.ok(rows[0]!.n >= 2 && rows[0]!.n <= 3, `${rows[0]!.n} connections`);
  await store.close();
  const unnamed = await PostgresStore.connect(database!.url, { schema: 'named' });
  const names = await database!.query(
    (sql) => sql`SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname = ${database!.name} AND application_name LIKE 'taskctl %pid%'`,
  );
  assert.equal(
    names.map((row) => row.application_name),
    [`taskctl ${hostname()} pid ${process.pid}`],
    'by default: the machine and the process',
  );
  await unnamed.close();
});

test('an unreachable PostgreSQL is a clear error at connect time, without the password', async () => {
  try {
    await PostgresStore.connect('postgres://taskctl:s3cret@127.0.0.1:9/db', { connectTimeoutMs: 1_000 });
    assert.unreachable();
  } catch (error) {
    assert.instance(error, StoreUnavailableError);
    assert.match((error as Error).message, /^cannot reach postgres:\/\/taskctl:\*\*\*@127\.0\.0\.1:9\/db: .*ECONNREFUSED/);
  }
});

const shared = sharedStoreSuite('postgres store shared by two servers', async () => {
  database ??= await TestDatabase.create();
  const schema = `shared${schemas++}`;
  const a = await PostgresStore.connect(database.url, { schema });
  const b = await PostgresStore.connect(database.url, { schema });
  return { a, b, cleanup: async () => void (await Promise.all([a.close(), b.close()])) };
});

shared.after(async () => {
  await database?.drop();
});

if (enabled) {
  test.run();
  shared.run();
}
