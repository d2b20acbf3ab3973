// A cancel sticks to its id: a worker that comes after it never starts the command, even for a moment
// (a command's side effects cannot be taken back by SIGTERM).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.ts';
import { startTestServer, tempDir } from '../helpers/server.ts';

// A command whose only job is a side effect: the file it writes must never appear.
const touching = (file: string) => ['--', 'sh', '-c', `touch ${file}; sleep 1000`];

test('cancel, then work with a command: the command never starts; one line says so; exit 0', async () => {
  const server = await startTestServer();
  const dir = tempDir();
  try {
    const cancelled = await runCli(['cancel', 'j1', '--reason', 'not today', '--server', server.url]);
    assert.is(cancelled.code, 0, cancelled.stderr);
    const file = join(dir.path, 'ran');
    const result = await runCli(['work', 'j1', '--no-tui', '--server', server.url, ...touching(file)]);
    assert.is(result.code, 0, result.stderr);
    assert.match(result.stdout, /^\d\d:\d\d:\d\d cancelled j1 by anonymous \(reason: not today\); its command was not started$/m);
    assert.not.match(result.stdout, /started j1/);
    assert.not.ok(existsSync(file), 'the command ran');
    // The server heard the worker confirm it: the task is cancelled, not left cancel_requested.
    assert.is((await server.tracker.statuses(['j1']))[0]?.state, 'cancelled');
  } finally {
    dir.remove();
    await server.close();
  }
});

test("a parent cancelled first: none of its children's commands start, the others do", async () => {
  const server = await startTestServer();
  const dir = tempDir();
  try {
    await server.canceler.cancel('job-42', { reason: 'wrong dataset' });
    const result = await runCli([
      'work',
      'step-1',
      'step-2',
      '--parent',
      'job-42',
      '--json',
      '--server',
      server.url,
      ...touching(join(dir.path, '$TASKCTL_TASK_ID')),
    ]);
    assert.is(result.code, 0, result.stderr);
    const events = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    for (const task of ['step-1', 'step-2']) {
      assert.ok(
        events.some((e) => e.event === 'cancelled' && e.task === task && e.notStarted === true && e.reason === 'parent job-42 cancelled'),
        task,
      );
      assert.not.ok(existsSync(join(dir.path, task)), `${task}'s command ran`);
    }
    assert.not.ok(events.some((e) => e.event === 'started'));
  } finally {
    dir.remove();
    await server.close();
  }
});

test('of two ids, only the one not cancelled starts its command', async () => {
  const server = await startTestServer();
  const dir = tempDir();
  try {
    await server.canceler.cancel('gone');
    const script = `echo started > ${dir.path}/$TASKCTL_TASK_ID`;
    const result = await runCli(['work', 'gone', 'kept', '--json', '--server', server.url, '--', 'sh', '-c', script]);
    assert.is(result.code, 0, result.stderr);
    assert.not.ok(existsSync(join(dir.path, 'gone')), "the cancelled id's command ran");
    assert.ok(existsSync(join(dir.path, 'kept')), 'the other id ran its command');
  } finally {
    dir.remove();
    await server.close();
  }
});

test.run();
