// Parent tasks across servers sharing one Redis: the cancel of a parent made on server B stops its children
// in `work` processes watching through server A, and a grandchild on A whose watch began before its
// parent's own link was recorded (so A did not know the grandparent) is stopped too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunningServer } from '../../src/server/listen.ts';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { redisTestsEnabled, SharedRedisServers } from '../helpers/redis-server.ts';
import { eventually } from '../helpers/server.ts';

const enabled = redisTestsEnabled();
let shared: SharedRedisServers;
let serverA: RunningServer;
let serverB: RunningServer;

test.before(async () => {
  if (!enabled) return;
  // Long watches: only the store's notifications (not a re-poll) can deliver a cancel in time.
  shared = await SharedRedisServers.start(2, { watchTimeoutMs: 60_000 });
  [serverA, serverB] = shared.servers as [RunningServer, RunningServer];
});
test.after(async () => {
  if (enabled) await shared.stop();
});

const FOREVER = [process.execPath, '-e', "console.log('ready', process.env.TASKCTL_TASK_ID); setInterval(() => {}, 1000)"];
const children = async (server: RunningServer, parent: string) =>
  ((await (await fetch(`${server.url}/v1/tasks?parent=${parent}`)).json()) as { tasks: Array<{ id: string; state: string }> }).tasks;
const cancelled = (work: CliProcess) =>
  work.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { event: string; task?: string; reason?: string })
    .filter((e) => e.event === 'cancelled')
    .map((e) => [e.task, e.reason]);

test('one cancel on B stops the whole tree, whichever server each work process watches through', async () => {
  const work = (server: RunningServer, args: string[], command: string[] = []) =>
    new CliProcess(['work', ...args, '--json', '--server', server.url, '--watch-timeout', '60s', ...(command.length > 0 ? ['--', ...command] : [])]);
  // The grandchild first, on A: A looks up tree-b's parents now, finds none, and its watch waits on tree-b alone.
  const grandchild = work(serverA, ['tree-b-sub', '--parent', 'tree-b']);
  const processes = [grandchild];
  try {
    await eventually(async () => (await children(serverB, 'tree-b')).length === 1, 'tree-b-sub under tree-b, seen from B', 30_000);
    const onA = work(serverA, ['tree-a1', 'tree-a2', '--parent', 'tree-job'], FOREVER);
    const onB = work(serverB, ['tree-b', '--parent', 'tree-job'], FOREVER);
    processes.push(onA, onB);
    await onA.waitFor(/"line":"ready tree-a2"/, 30_000);
    await onB.waitFor(/"line":"ready tree-b"/, 30_000);
    await eventually(async () => (await children(serverA, 'tree-job')).length === 3, 'three children of tree-job, seen from A', 30_000);

    const cancel = await runCli(['cancel', 'tree-job', '--reason', 'release pulled', '--server', serverB.url]);
    assert.is(cancel.code, 0, cancel.stderr);
    const results = await Promise.all(processes.map((p) => p.exited));
    for (const result of results) assert.is(result.code, 0, result.stdout + result.stderr);
    assert.equal(
      cancelled(onA),
      [
        ['tree-a1', 'parent tree-job cancelled'],
        ['tree-a2', 'parent tree-job cancelled'],
      ],
      'A heard the cancel made on B',
    );
    assert.equal(cancelled(onB), [['tree-b', 'parent tree-job cancelled']]);
    // B's walk down the tree gave tree-b, a parent itself, a cancel of its own, which reached A's grandchild
    // (whose watch knew only tree-b) with tree-job's reason passed on.
    assert.equal(cancelled(grandchild), [['tree-b-sub', 'parent tree-job cancelled']]);
    const record = await (await fetch(`${serverA.url}/v1/tasks/tree-b`)).json();
    assert.is(record.record.reason, 'parent tree-job cancelled');
    await eventually(async () => (await children(serverA, 'tree-job')).every((t) => t.state === 'cancelled'), 'every child reported cancelled, seen from A');
  } finally {
    for (const p of processes) p.kill('SIGKILL');
  }
});

if (enabled) test.run();
