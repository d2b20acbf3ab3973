import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { postgresTestsEnabled, TestDatabase } from '../helpers/postgres.ts';
import { freePort } from '../helpers/tcp-proxy.ts';

const enabled = postgresTestsEnabled();
let database: TestDatabase;

test.before(async () => {
  if (enabled) database = await TestDatabase.create();
});
test.after(async () => {
  if (enabled) await database.drop();
});

/** `taskctl serve` on a fixed port (so it can come back on it) and the test database. */
async function serve(port: number): Promise<CliProcess> {
  const server = new CliProcess(['serve', '--port', String(port), '--store', database.url, '--pg-schema', 'cli', '--json', '--watch-timeout', '1m']);
  // Generous: a loaded machine can take seconds to start a server from source.
  await server.waitFor(/^\{.*"listening".*\}$/m, 30_000);
  return server;
}

test('two serve processes on one PostgreSQL: work on A hears a cancel sent to B; both killed -9 and restarted, the cancel is still known', async () => {
  const [portA, portB] = [await freePort(), await freePort()];
  let [a, b] = [await serve(portA), await serve(portB)];
  const [urlA, urlB] = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];
  let worker: CliProcess | undefined;
  try {
    assert.match(a.stdout, /"store":"postgres:postgres:\/\/postgres@127\.0\.0\.1:5432\/taskctl_test_[0-9a-f]+ schema cli"/);
    worker = new CliProcess(['work', 'pg-1', '--json', '--server', urlA]);
    await worker.waitFor(/"event":"connected"/);
    assert.is((await runCli(['cancel', 'pg-1', '--reason', 'from B', '--server', urlB])).code, 0);
    await worker.waitFor(/"event":"cancelled".*"task":"pg-1"/, 5_000);
    assert.is((await worker.exited).code, 0);

    a.kill('SIGKILL');
    b.kill('SIGKILL');
    await Promise.all([a.exited, b.exited]);
    [a, b] = [await serve(portA), await serve(portB)];
    for (const url of [urlA, urlB]) {
      const reply = await (await fetch(`${url}/v1/watch?ids=pg-1&timeout=1s`)).json();
      assert.equal(reply.cancelled, ['pg-1'], `${url} still knows the cancel`);
      assert.is(reply.records[0].reason, 'from B');
    }
  } finally {
    worker?.kill();
    a.kill();
    b.kill();
    await Promise.all([a.exited, b.exited]);
  }
});

test('serve with an unreachable PostgreSQL (from TASKCTL_STORE) says so in one line, without the password, and exits 3', async () => {
  const result = await runCli(['serve', '--port', '0'], { env: { TASKCTL_STORE: 'postgres://taskctl:s3cret@127.0.0.1:9/taskctl' } });
  assert.is(result.code, 3);
  assert.match(result.stderr, /^taskctl: cannot reach postgres:\/\/taskctl:\*\*\*@127\.0\.0\.1:9\/taskctl: connect ECONNREFUSED 127\.0\.0\.1:9\n$/);
});

test('a password given as ?password= is not shown either', async () => {
  const result = await runCli(['serve', '--port', '0', '--store', 'postgres://taskctl@127.0.0.1:9/taskctl?password=s3cret']);
  assert.is(result.code, 3);
  assert.not.match(result.stderr, 's3cret');
  assert.match(result.stderr, 'password=***');
});

test('a --store URL taskctl cannot use is a usage error in one line', async () => {
  const result = await runCli(['serve', '--port', '0', '--store', 'postgres://127.0.0.1/db?listen=sometimes']);
  assert.is(result.code, 2);
  assert.match(result.stderr, /^taskctl: --store: listen="sometimes": use listen=off .*\n$/);
  const schema = await runCli(['serve', '--port', '0', '--store', 'postgres://127.0.0.1/db', '--pg-schema', 'Robert"); DROP TABLE']);
  assert.is(schema.code, 2);
  assert.match(schema.stderr, /^taskctl: --pg-schema: must be a lower-case SQL name/);
  for (const own of ['information_schema', 'pg_catalog', 'pg_temp']) {
    const refused = await runCli(['serve', '--port', '0', '--store', 'postgres://127.0.0.1/db', '--pg-schema', own]);
    assert.is(refused.code, 2, own);
    assert.match(refused.stderr, /^taskctl: --pg-schema: names one of PostgreSQL's own schemas/);
  }
});

test('serve --help names the PostgreSQL store and its options', async () => {
  const help = (await runCli(['serve', '--help'])).stdout.replace(/\s+/g, ' ');
  for (const text of ['postgres://', 'listen=off', '--pg-schema', '--pg-pool-size', 'TASKCTL_STORE']) assert.match(help, text, `serve --help: ${text}`);
});

if (enabled) test.run();
