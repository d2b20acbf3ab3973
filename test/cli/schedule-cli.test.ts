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

test.run();
