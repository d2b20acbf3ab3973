// PostgreSQL itself restarted under two running `taskctl serve` processes and a running `taskctl work`: a
// private PostgreSQL (the shared one on 5432 is every other test's too), stopped as in a crash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import postgres from 'postgres';
import { CliProcess, isAlive } from '../helpers/cli.ts';
import { PrivatePostgres, postgresTestsEnabled } from '../helpers/postgres.ts';
import { eventually } from '../helpers/server.ts';
import { freePort } from '../helpers/tcp-proxy.ts';

const enabled = postgresTestsEnabled() && PrivatePostgres.binaries() !== undefined;
let database: PrivatePostgres;
const processes: CliProcess[] = [];

test.before(async () => {
  if (enabled) database = await PrivatePostgres.start();
});
test.after(async () => {
  for (const running of processes) running.kill('SIGKILL');
  await Promise.all(processes.map((running) => running.exited));
  if (enabled) await database.stop();
});

/** `taskctl serve` on the private PostgreSQL, started from source and ready to answer. */
async function serve(): Promise<string> {
  const port = await freePort();
  const server = new CliProcess(['serve', '--port', String(port), '--store', database.url(), '--json', '--watch-timeout', '5s']);
  processes.push(server);
  // Generous: a loaded machine can take seconds to start a server from source.
  await server.waitFor(/"listening"/, 30_000);
  return `http://127.0.0.1:${port}`;
}

const cancel = (server: string, id: string) =>
  fetch(`${server}/v1/tasks/${id}/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"restart test"}' });
const health = async (server: string) => (await fetch(`${server}/healthz`)).status;
const storedCancels = async () => {
  const sql = postgres(database.url(), { max: 1, onnotice: () => {} });
  try {
    return (await sql`SELECT id FROM taskctl.cancels ORDER BY id`).map((row) => row.id as string);
  } finally {
    await sql.end({ timeout: 1 });
  }
};

/** The pid each task's command printed, once both have started. */
async function commandPids(work: CliProcess): Promise<Record<string, number>> {
  const pids: Record<string, number> = {};
  for (const task of ['kept', 'after']) {
    const [, pid] = await work.waitFor(new RegExp(`"line":"${task} pid=(\\d+)"`), 30_000);
    pids[task] = Number(pid);
  }
  return pids;
}

test('PostgreSQL stopped -m immediate and started again: 503 meanwhile (never a false 200), then healthy by itself, the earlier cancel kept, a new one reaches the running work', async () => {
  const [a, b] = [await serve(), await serve()];
  // Two tasks, each running a command, watched through A; every cancel is sent to B, so it reaches A only
  // through the database (a notification, or A's look-ups).
  const work = new CliProcess([
    'work',
    'kept',
    'after',
    '--json',
    '--server',
    a,
    '--watch-timeout',
    '5s',
    '--',
    'sh',
    '-c',
    'echo "$TASKCTL_TASK_ID pid=$$"; exec sleep 1000',
  ]);
  processes.push(work);
  const pids = await commandPids(work);

  assert.is((await cancel(b, 'kept')).status, 200);
  await work.waitFor(/"event":"exited","ts":[^,]+,"task":"kept","code":null,"signal":"SIGTERM"/, 20_000);
  assert.not.ok(isAlive(pids.kept!), "kept's command is stopped");

  await database.stopImmediately();
  for (const server of [a, b]) {
    const refused = await cancel(server, 'after');
    assert.is(refused.status, 503, `${server}: a cancel while PostgreSQL is down is refused`);
    assert.is((await refused.json()).error.code, 'store_unavailable');
    assert.is(await health(server), 503, `${server}: /healthz says the store is down`);
  }

  await database.startAgain();
  // Nothing is asked of the servers but their health: they get back to the database by themselves.
  for (const server of [a, b]) await eventually(async () => (await health(server)) === 200, `${server}: /healthz 200 again`, 30_000);
  assert.equal(await storedCancels(), ['kept'], 'the acknowledged cancel survived the crash; the refused ones were never stored');
  assert.not.match(work.stdout, /"event":"cancelled"[^\n]*"task":"after"/, 'the running work heard no refused cancel');
  assert.ok(isAlive(pids.after!), "after's command still runs");

  assert.is((await cancel(b, 'after')).status, 200);
  await work.waitFor(/"event":"exited","ts":[^,]+,"task":"after","code":null,"signal":"SIGTERM"/, 20_000);
  assert.not.ok(isAlive(pids.after!), "after's command is stopped");
  assert.is((await work.exited).code, 0, work.stderr);
});

if (enabled) test.run();
