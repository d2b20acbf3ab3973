// Whatever ends `work`, no command it started lives on: a bug (an exception nobody caught) or an impatient
// second Ctrl-C stop every command's whole process group first; a hang-up stops them as SIGTERM does.
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunningServer } from '../../src/server/listen.ts';
import { CliProcess, isAlive } from '../helpers/cli.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

let server: RunningServer;
test.before(async () => {
  server = await startTestServer({ watchTimeoutMs: 2_000 });
});
test.after(() => server.close());

const crashFixture = fileURLToPath(new URL('../fixtures/crash-on-sigusr2.ts', import.meta.url));
// A shell that starts a grandchild in its group and prints its pid; with `stubborn` both ignore SIGTERM.
const family = (stubborn: boolean) => ['--', 'sh', '-c', `${stubborn ? 'trap "" TERM; ' : ''}sleep 1000 & echo "grandchild $!"; wait`];
const grandchildren = (stdout: string) => [...stdout.matchAll(/"line":"grandchild (\d+)"/g)].map((m) => Number(m[1]));

test('an internal failure stops every command (SIGTERM, SIGKILL after --grace), then exits 70 with one line', async () => {
  const polite = new CliProcess(['work', 'crash-1', '--json', '--grace', '1s', '--server', server.url, ...family(false)], {
    nodeArgs: ['--import', crashFixture],
  });
  const stubborn = new CliProcess(['work', 'crash-2', '--json', '--grace', '1s', '--server', server.url, ...family(true)], {
    nodeArgs: ['--import', crashFixture],
  });
  for (const work of [polite, stubborn]) {
    await work.waitFor(/"line":"grandchild \d+"/);
    work.kill('SIGUSR2');
  }
  for (const work of [polite, stubborn]) {
    const result = await work.exited;
    assert.is(result.code, 70);
    assert.is(result.stderr, 'taskctl: internal error: forced internal failure (TASKCTL_DEBUG=1 shows where)\n');
    const [grandchild] = grandchildren(result.stdout);
    const leader = Number(/"event":"started".*"pid":(\d+)/.exec(result.stdout)![1]);
    assert.ok(grandchild && leader);
    await eventually(() => !isAlive(grandchild!) && !isAlive(leader), `the command group of ${result.stdout.match(/crash-\d/)} to be gone`, 3_000);
  }
});

test('a second Ctrl-C exits at once, and still no command outlives work', async () => {
  const work = new CliProcess(['work', 'impatient', '--json', '--grace', '60s', '--server', server.url, ...family(true)]);
  await work.waitFor(/"line":"grandchild \d+"/);
  work.kill('SIGINT');
  await work.waitFor(/"event":"killing".*"SIGTERM"/);
  work.kill('SIGINT');
  const result = await work.exited;
  assert.is(result.code, 130);
  const [grandchild] = grandchildren(result.stdout);
  await eventually(() => !isAlive(grandchild!), 'the stubborn grandchild to be killed', 3_000);
});

test('SIGHUP (a closed terminal, a dropped SSH session) stops every command as SIGTERM does: grace, then SIGKILL', async () => {
  const work = new CliProcess(['work', 'hung-up', '--json', '--grace', '1s', '--server', server.url, ...family(true)]);
  await work.waitFor(/"line":"grandchild \d+"/);
  work.kill('SIGHUP');
  const result = await work.exited;
  assert.is(result.code, 130);
  assert.match(result.stdout, /"event":"interrupted".*"signal":"SIGHUP"/);
  // Both ignore SIGTERM: only the SIGKILL after the grace ends them.
  assert.match(result.stdout, /"event":"killing".*"signal":"SIGKILL"/);
  const [grandchild] = grandchildren(result.stdout);
  const leader = Number(/"event":"started".*"pid":(\d+)/.exec(result.stdout)![1]);
  assert.ok(grandchild && leader);
  await eventually(() => !isAlive(grandchild!) && !isAlive(leader), 'the command group to be gone', 3_000);
});

test.run();
