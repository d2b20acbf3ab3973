// Parent tasks end to end: real `taskctl work` processes running real commands, a real server, the real TCP
// proxy, and a sqlite server killed and restarted. One cancel of the parent stops every child.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CliProcess, DurableServer, isAlive, runCli } from '../helpers/cli.ts';
import { tokenHash } from '../../src/server/auth.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const FOREVER = [process.execPath, '-e', "console.log('ready', process.env.TASKCTL_TASK_ID); setInterval(() => {}, 1000)"];

const task = async (url: string, id: string) => (await fetch(`${url}/v1/tasks/${encodeURIComponent(id)}`)).json();
const cancel = (url: string, id: string, reason?: string) =>
  fetch(`${url}/v1/tasks/${id}/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(reason ? { reason } : {}) });

/** The NDJSON events a `work --json` process printed. */
const events = (work: CliProcess) =>
  work.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { event: string; task?: string; reason?: string; pid?: number; by?: { name: string; route: string } });

const pidOf = (work: CliProcess, id: string) => events(work).find((e) => e.event === 'started' && e.task === id)!.pid!;

test("a child cut off by the proxy hears its parent's cancel as soon as the link is back (TASKCTL_PARENT)", async () => {
  const server = await startTestServer({ watchTimeoutMs: 2_000 });
  const proxy = await TcpProxy.start(server.port);
  const work = new CliProcess(['work', 'cut-child', '--json', '--server', proxy.url, '--watch-timeout', '2s', '--', ...FOREVER], {
    env: { TASKCTL_PARENT: 'cut-job' },
  });
  try {
    await work.waitFor(/"line":"ready cut-child"/, 30_000);
    await eventually(async () => (await task(server.url, 'cut-child')).parents?.[0] === 'cut-job', 'the link from TASKCTL_PARENT', 10_000);
    const pid = pidOf(work, 'cut-child');
    proxy.cut();
    await work.waitFor(/"event":"disconnected"/);
    assert.is((await cancel(server.url, 'cut-job', 'while you were away')).status, 200);
    // Still cut: the worker cannot know yet.
    await eventually(() => events(work).filter((e) => e.event === 'disconnected').length >= 3, 'a few failed retries', 10_000);
    assert.not.ok(events(work).some((e) => e.event === 'cancelled'));
    proxy.restore();
    const result = await work.exited;
    assert.is(result.code, 0, result.stderr);
    const cancelled = events(work).find((e) => e.event === 'cancelled')!;
    assert.equal([cancelled.task, cancelled.reason], ['cut-child', 'parent cut-job cancelled']);
    assert.ok(events(work).some((e) => e.event === 'reconnected'));
    assert.not.ok(isAlive(pid), 'the command was killed');
    await eventually(async () => (await task(server.url, 'cut-child')).status?.state === 'cancelled', 'the report');
  } finally {
    work.kill('SIGKILL');
    await proxy.close();
    await server.close();
  }
});

test('nesting: cancelling the grandparent stops the parent and the child in other processes; status and ls show the tree', async () => {
  const server = await startTestServer({ watchTimeoutMs: 5_000 });
  const url = server.url;
  const parent = new CliProcess(['work', 'nest-step', '--parent', 'nest-job', '--json', '--server', url]);
  const child = new CliProcess(['work', 'nest-sub-1', 'nest-sub-2', '--parent', 'nest-step', '--json', '--server', url, '--', ...FOREVER]);
  try {
    await eventually(async () => (await task(url, 'nest-step')).parents?.[0] === 'nest-job', 'nest-step under nest-job', 30_000);
    await eventually(async () => (await task(url, 'nest-step')).children?.tasks.length === 2, 'two children under nest-step', 30_000);
    await child.waitFor(/"line":"ready nest-sub-2"/, 30_000);
    const pids = [pidOf(child, 'nest-sub-1'), pidOf(child, 'nest-sub-2')];

    const status = await runCli(['status', 'nest-job', 'nest-step', '--server', url]);
    assert.is(status.code, 0, status.stderr);
    assert.match(status.stdout, /^nest-job\s+unknown\s+1 child below$/m);
    assert.match(status.stdout, /^ {2}nest-step\s+watching\s/m);
    assert.match(status.stdout, /^nest-step\s+watching\s.*parents: nest-job, 2 children below$/m);
    assert.match(status.stdout, /^ {2}nest-sub-1\s+watching\s/m);
    const ls = await runCli(['ls', '--parent', 'nest-step', '--json', '--server', url]);
    assert.equal(
      ls.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).id),
      ['nest-sub-1', 'nest-sub-2'],
    );
    assert.match((await runCli(['ls', '--parent', 'nest-sub-1', '--server', url])).stdout, /^no tasks with parent nest-sub-1$/m);

    const cancelled = await runCli(['cancel', 'nest-job', '--reason', 'pipeline aborted', '--server', url]);
    assert.is(cancelled.code, 0, cancelled.stderr);
    const [parentResult, childResult] = await Promise.all([parent.exited, child.exited]);
    assert.is(parentResult.code, 0, parentResult.stderr);
    assert.is(childResult.code, 0, childResult.stderr);
    assert.equal(
      events(child)
        .filter((e) => e.event === 'cancelled')
        .map((e) => [e.task, e.reason]),
      [
        ['nest-sub-1', 'parent nest-job cancelled'],
        ['nest-sub-2', 'parent nest-job cancelled'],
      ],
    );
    // Heard through the grandparent's own record, or through the record its cancel gave nest-step (which
    // also names who made nest-step's link): which one answers first is a race, and both name the asker.
    const { linkedBy, ...by } = events(child).find((e) => e.event === 'cancelled')!.by as { name: string; route: string; linkedBy?: string };
    assert.equal(by, { name: 'anonymous', address: '127.0.0.1', route: 'v1' }, 'who cancelled the grandparent');
    assert.ok(linkedBy === undefined || linkedBy === 'anonymous', `the link's maker, when named: ${linkedBy}`);
    assert.ok(
      pids.every((pid) => !isAlive(pid)),
      'both commands were killed',
    );
    await eventually(async () => (await task(url, 'nest-sub-2')).status?.state === 'cancelled', 'the reports');
    const after = await runCli(['status', 'nest-step', '--server', url]);
    assert.match(after.stdout, /^nest-step\s+cancelled\s.*reason: parent nest-job cancelled/m);
    assert.match(after.stdout, /^ {2}nest-sub-1\s+cancelled\s/m);
  } finally {
    parent.kill('SIGKILL');
    child.kill('SIGKILL');
    await server.close();
  }
});

test("a link refused by the rules is a refusal of the --parent, not of the token: exit 1 with one line, and the token is not the command's", async () => {
  const server = await startTestServer({
    watchTimeoutMs: 5_000,
    tokens: [
      { name: 'team-a', role: 'worker', sha256: tokenHash('tok-a') },
      { name: 'team-b', role: 'worker', sha256: tokenHash('tok-b') },
    ],
  });
  const url = server.url;
  const tokenSeen = [process.execPath, '-e', "console.log('token', process.env.TASKCTL_TOKEN ?? 'none'); setInterval(() => {}, 1000)"];
  const step = new CliProcess(['work', 'rule-step', '--parent', 'rule-job', '--json', '--server', url, '--', ...tokenSeen], {
    env: { TASKCTL_TOKEN: 'tok-b' },
  });
  try {
    await step.waitFor(/"line":"token none"/, 30_000);
    const job = await runCli(['work', 'rule-job', '--parent', 'rule-release', '--server', url, '--', ...FOREVER], { env: { TASKCTL_TOKEN: 'tok-a' } });
    assert.is(job.code, 1, job.stdout + job.stderr);
    assert.equal(job.stderr.trim().split('\n'), [
      'taskctl: parents: "rule-job" has a task below it that another token runs ("rule-step"); it cannot be given new parents while that run may be going (its worker was seen within the lease)',
    ]);
    assert.not.match(job.stderr, /not authorized/);
  } finally {
    step.kill('SIGKILL');
    await server.close();
  }
});

test('a --parent that makes a cycle is refused: work stops its command and exits 1 with one line; its own id is a usage error', async () => {
  const server = await startTestServer({ watchTimeoutMs: 5_000 });
  const url = server.url;
  const first = new CliProcess(['work', 'cyc-b', '--parent', 'cyc-a', '--json', '--server', url]);
  try {
    await eventually(async () => (await task(url, 'cyc-b')).parents?.[0] === 'cyc-a', 'cyc-b under cyc-a', 30_000);
    const second = new CliProcess(['work', 'cyc-a', '--parent', 'cyc-b', '--server', url, '--', ...FOREVER]);
    const result = await second.exited;
    assert.is(result.code, 1, result.stdout + result.stderr);
    assert.equal(result.stderr.trim().split('\n'), ['taskctl: parents: a cycle: "cyc-a" would be its own ancestor (it is a parent of "cyc-b")']);
    const started = /started cyc-a \(pid (\d+)\)/.exec(result.stdout);
    if (started) assert.not.ok(isAlive(Number(started[1])), 'the command that had started was stopped');
    assert.is(server.openWatches(), 1, "only the first worker's watch");

    const own = await runCli(['work', 'same', '--parent', 'same', '--server', url]);
    assert.is(own.code, 2);
    assert.equal(own.stderr.trim().split('\n'), ['taskctl: --parent: "same" is one of the tasks it would be the parent of (see taskctl --help)']);
    const bad = await runCli(['work', 'x', '--parent', 'a b', '--server', url]);
    assert.is(bad.code, 2);
    assert.match(bad.stderr, /^taskctl: --parent: task id contains U\+0020/);
  } finally {
    first.kill('SIGKILL');
    await first.exited;
    await server.close();
  }
});

test('a sqlite server killed and restarted keeps the links: the cancel of a grandparent still reaches the child', async () => {
  const server = await DurableServer.start(['--watch-timeout', '2s']);
  const url = server.url;
  let child: CliProcess | undefined;
  try {
    // rs-step ran and ended before the restart: nobody declares its parent again afterwards.
    const step = await runCli(['work', 'rs-step', '--parent', 'rs-job', '--server', url, '--', process.execPath, '-e', 'process.exit(0)']);
    assert.is(step.code, 0, step.stderr);
    await eventually(async () => (await task(url, 'rs-step')).parents?.[0] === 'rs-job', 'the link from the report');
    child = new CliProcess(['work', 'rs-sub', '--parent', 'rs-step', '--json', '--server', url, '--watch-timeout', '2s']);
    await eventually(async () => (await task(url, 'rs-step')).children?.tasks[0]?.id === 'rs-sub', 'rs-sub under rs-step', 30_000);
    await server.restart('SIGKILL');

    const ls = await runCli(['ls', '--parent', 'rs-job', '--server', url]);
    assert.match(ls.stdout, /^rs-step\s+succeeded\s/m);
    await child.waitFor(/"event":"reconnected"/, 30_000);
    assert.is((await runCli(['cancel', 'rs-job', '--server', url])).code, 0);
    const result = await child.exited;
    assert.is(result.code, 0, result.stderr);
    assert.equal(events(child).find((e) => e.event === 'cancelled')?.reason, 'parent rs-job cancelled');
  } finally {
    child?.kill('SIGKILL');
    await server.stop();
  }
});

test.run();
