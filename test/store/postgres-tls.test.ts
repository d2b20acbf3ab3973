// The PostgreSQL store over TLS, with the URL's own options (sslmode, sslrootcert), against a private
// PostgreSQL that serves a certificate from a test CA.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import postgres from 'postgres';
import { StoreUnavailableError } from '../../src/core/store.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { PrivatePostgres, postgresTestsEnabled } from '../helpers/postgres.ts';
import { TestCa } from '../helpers/tls.ts';

const enabled = postgresTestsEnabled() && PrivatePostgres.binaries() !== undefined;
let ca: TestCa;
let other: TestCa;
let server: PrivatePostgres;

test.before(async () => {
  if (!enabled) return;
  ca = TestCa.create('pg-ca');
  other = TestCa.create('other-ca');
  server = await PrivatePostgres.start(ca.issue('localhost'));
});
test.after(async () => {
  if (!enabled) return;
  await server.stop();
  ca.remove();
  other.remove();
});

test('sslmode=verify-full with sslrootcert: connected over TLS, the server checked against the CA', async () => {
  const store = await PostgresStore.connect(server.url(`?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca.certPath)}`), {
    schema: 'tls',
    applicationName: 'taskctl tls-check',
  });
  const admin = postgres(server.url('?sslmode=require'), { max: 1, onnotice: () => {} });
  try {
    const now = Date.now();
    await store.insert({ id: 'over-tls', cancelledAt: now, expiresAt: now + 60_000 }, now);
    assert.is((await store.find(['over-tls'], now)).length, 1);
    // Seen from the server: every taskctl connection (the pool's and the listening one) is encrypted.
    const rows = await admin`SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'taskctl tls-check'`;
    assert.ok(rows.length >= 2, `${rows.length} connections`);
    assert.ok(
      rows.every((row) => row.ssl === true),
      'all over TLS',
    );
  } finally {
    await store.close();
    await admin.end();
  }
});

test('a server certificate from another CA is refused at connect, in one line naming the store', async () => {
  try {
    await PostgresStore.connect(server.url(`?sslmode=verify-full&sslrootcert=${encodeURIComponent(other.certPath)}`), { schema: 'tls' });
    assert.unreachable('connected to a server its CA did not sign');
  } catch (error) {
    assert.instance(error, StoreUnavailableError);
    assert.match(
      (error as Error).message,
      /^cannot (reach|use) postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?sslmode=verify-full&sslrootcert=.*: .*(certificate|self.signed)/i,
    );
    assert.not.match((error as Error).message, /\n/);
  }
});

test('sslmode=require encrypts without checking the certificate (libpq does the same)', async () => {
  const store = await PostgresStore.connect(server.url('?sslmode=require'), { schema: 'tls_require' });
  await store.check();
  await store.close();
});

if (enabled) test.run();
