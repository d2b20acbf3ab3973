// Scheduled cancels in the tables, and dropping one: `cancel ID --after`, `status ID`, `cancel ID --unschedule`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.ts';
import { startTestServer } from '../helpers/server.ts';

test('status shows a scheduled cancel; --unschedule drops it, once; the task then shows nothing scheduled', async () => {
  const server = await startTestServer();
  const at = ['--server', server.url];
  try {
    assert.is((await runCli(['cancel', 's1', '--after', '2h', '--reason', 'nightly window', ...at])).code, 0);
    const scheduled = await runCli(['status', 's1', ...at]);
    assert.is(scheduled.code, 0, scheduled.stderr);
    assert.match(scheduled.stdout, /^s1\s+scheduled\s+cancel scheduled at \S+Z in 1h59m by anonymous \(nightly window\)$/m);
    const dropped = await runCli(['cancel', 's1', '--unschedule', ...at]);
    assert.is(dropped.code, 0, dropped.stderr);
    assert.match(dropped.stdout, /^dropped the cancel of s1 scheduled at \d{4}-\d\d-\d\dT\S+Z\n$/);
    const after = await runCli(['status', 's1', '--json', ...at]);
    assert.is(JSON.parse(after.stdout).scheduled, undefined);
    assert.is(JSON.parse(after.stdout).cancelled, false);
    assert.is((await runCli(['cancel', 's1', '--unschedule', ...at])).stdout, 'no cancel was scheduled for s1\n');
    const mixed = await runCli(['cancel', 's1', '--unschedule', '--after', '1h', ...at]);
    assert.is(mixed.code, 2);
    assert.match(mixed.stderr, /^taskctl: Arguments unschedule and after are mutually exclusive/);
  } finally {
    await server.close();
  }
});

test('ls shows scheduled cancels: a row of their own for a task known only by its schedule, the detail of a watched one; GET /v1/schedules pages them', async () => {
  const server = await startTestServer();
  const at = ['--server', server.url];
  try {
    assert.is((await runCli(['cancel', 'later-2', '--after', '2h', '--reason', 'cut-off', ...at])).code, 0);
    assert.is((await runCli(['cancel', 'later-1', '--after', '3h', ...at])).code, 0);
    // A task a worker watches, with a cancel scheduled for it too.
    const watch = fetch(`${server.url}/v1/watch?ids=busy&timeout=2s`).then((r) => r.text());
    assert.is((await runCli(['cancel', 'busy', '--after', '1h', ...at])).code, 0);
    await watch;
    const ls = await runCli(['ls', ...at]);
    assert.is(ls.code, 0, ls.stderr);
    const lines = ls.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^TASK\s+STATE/);
    assert.match(lines[1]!, /^busy\s+watching\s+.*cancel scheduled at \S+Z in 59m/);
    assert.match(lines[2]!, /^later-1\s+scheduled\s+cancel scheduled at \S+Z in 2h59m by anonymous$/);
    assert.match(lines[3]!, /^later-2\s+scheduled\s+cancel scheduled at \S+Z in 1h59m by anonymous \(cut-off\)$/);
    assert.is(lines.length, 4);
    const json = (await runCli(['ls', '--json', ...at])).stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(
      json.filter((task) => task.scheduled).map((task) => task.id),
      ['busy', 'later-1', 'later-2'],
    );
    assert.is((await runCli(['ls', '--state', 'watching', ...at])).stdout.includes('later-1'), false, 'a state filter lists statuses only');
    const only = await runCli(['ls', '--state', 'scheduled', ...at]);
    assert.is(only.code, 0, only.stderr);
    assert.equal(
      only.stdout
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((line) => line.split(/\s+/)[0]),
      ['later-1', 'later-2', 'busy'].sort(),
      'only the tasks with a cancel scheduled',
    );
    const withParent = await runCli(['ls', '--state', 'scheduled', '--parent', 'p', ...at]);
    assert.is(withParent.code, 2);
    assert.match(withParent.stderr, /^taskctl: --state scheduled lists the cancels scheduled for later, of every task; it does not go with --parent\n$/);

    const first = (await (await fetch(`${server.url}/v1/schedules?limit=2`)).json()) as { schedules: Array<{ id: string; reason?: string }>; next?: string };
    assert.equal(
      first.schedules.map((s) => s.id),
      ['busy', 'later-1'],
    );
    assert.is(first.next, 'later-1');
    const rest = (await (await fetch(`${server.url}/v1/schedules?limit=2&after=${first.next}`)).json()) as typeof first;
    assert.equal(
      rest.schedules.map((s) => [s.id, s.reason]),
      [['later-2', 'cut-off']],
    );
    assert.is(rest.next, undefined);
    const bad = await fetch(`${server.url}/v1/schedules?limit=0`);
    assert.is(bad.status, 400);
  } finally {
    await server.close();
  }
});

test.run();
