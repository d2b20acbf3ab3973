// Who cancelled, end to end from the built binary: a cancel by each route (seed, v1, scheduled, a worker's
// deadline) shows its asker in `work --json`, `status`, `ls` and the server's log.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureBinary } from '../helpers/binary.ts';
import { CliProcess, newToken, runCli, startServe } from '../helpers/cli.ts';
import { eventually, tempDir } from '../helpers/server.ts';

let binary: string;
const dir = tempDir();
test.before(() => {
  binary = ensureBinary();
});
test.after(() => dir.remove());

test('seed, v1, scheduled and deadline cancels each name who asked: in work --json, status, ls and the log', async () => {
  const ops = await newToken('ops', 'operator', { binary });
  const runner = await newToken('runner', 'operator', { binary });
  const viewer = await newToken('viewer', 'reader', { binary });
  const tokens = join(dir.path, 'tokens.txt');
  writeFileSync(tokens, [ops.line, runner.line, viewer.line].join('\n'));
  const server = await startServe(['--store', `sqlite:${dir.path}/taskctl.db`, '--tokens', tokens], { binary });
  const url = server.url;
  const client = (args: string[], token: string) => runCli([...args, '--server', url, '--token', token], { binary });
  try {
    const work = new CliProcess(['work', 'seed-1', 'v1-1', 'sch-1', '--json', '--server', url, '--token', runner.token], { binary });
    await work.waitFor(/"event":"connected"/);
    const seed = await fetch(`${url}/cancel-task/seed-1`, { headers: { authorization: `Bearer ${ops.token}` } });
    assert.is(await seed.text(), 'ok');
    assert.is((await client(['cancel', 'v1-1', '--reason', 'by hand'], ops.token)).code, 0);
    assert.is((await client(['cancel', 'sch-1', '--after', '500ms'], ops.token)).code, 0);
    const worked = await work.exited;
    assert.is(worked.code, 0, worked.stderr);
    const by = Object.fromEntries(
      worked.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line))
        .filter((e) => e.event === 'cancelled')
        .map((e) => [e.task, e.by]),
    );
    assert.equal(by, {
      'seed-1': { name: 'ops', address: '127.0.0.1', route: 'seed' },
      'v1-1': { name: 'ops', address: '127.0.0.1', route: 'v1' },
      'sch-1': { name: 'ops', address: '127.0.0.1', route: 'scheduled' },
    });

    // A deadline the server makes because the worker stalled (stopped here with SIGSTOP) is the worker's.
    const stalled = new CliProcess(['work', 'dl-1', '--json', '--timeout', '3s', '--server', url, '--token', runner.token], { binary });
    await stalled.waitFor(/"event":"connected"/);
    await eventually(async () => (await client(['status', 'dl-1', '--json'], viewer.token)).stdout.includes('"scheduled"'), 'the deadline to be registered');
    stalled.kill('SIGSTOP');
    await eventually(
      async () => /dl-1\s+cancel_requested/.test((await client(['status', 'dl-1'], viewer.token)).stdout),
      'the server to make the deadline cancel',
      10_000,
    );
    stalled.kill('SIGCONT');
    assert.is((await stalled.exited).code, 124);

    const status = await client(['status', 'seed-1', 'v1-1', 'sch-1', 'dl-1'], viewer.token);
    assert.is(status.code, 0, status.stderr);
    assert.match(status.stdout, /^seed-1\s.*cancelled by ops \(seed\), last seen/m);
    assert.match(status.stdout, /^v1-1\s.*cancelled by ops, reason: by hand, last seen/m);
    assert.match(status.stdout, /^sch-1\s.*cancelled by ops \(scheduled\), last seen/m);
    assert.match(status.stdout, /^dl-1\s.*cancelled by runner \(deadline\), reason: deadline: work --timeout 3s passed/m);
    const ls = await client(['ls'], viewer.token);
    assert.match(ls.stdout, /^seed-1\s.*cancelled by ops \(seed\)/m);
    assert.match(ls.stdout, /^v1-1\s.*cancelled by ops/m);
    assert.match(ls.stdout, /^dl-1\s.*cancelled by runner \(deadline\)/m);
    const listed = (await client(['ls', '--json'], viewer.token)).stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(listed.find((t) => t.id === 'sch-1').cancelledBy, { name: 'ops', address: '127.0.0.1', route: 'scheduled' });
    for (const line of [
      /cancelled id=seed-1 by=ops from=127\.0\.0\.1 route=seed/,
      /cancelled id=v1-1 reason="by hand" by=ops from=127\.0\.0\.1 route=v1/,
      /cancelled id=sch-1 by=ops from=127\.0\.0\.1 route=scheduled/,
      /cancelled id=dl-1 reason=.* by=runner from=127\.0\.0\.1 route=deadline/,
    ]) {
      assert.match(server.process.stderr, line);
    }
  } finally {
    await server.stop();
  }
});

test('a refused request is a line in the log: who was refused and why, once while it repeats, not once per request', async () => {
  const viewer = await newToken('viewer', 'reader', { binary });
  const teamA = await newToken('team-a', 'reader', { binary, scope: ['team-a-*'] });
  const tokens = join(dir.path, 'tokens-refusals.txt');
  writeFileSync(tokens, `${viewer.line}\n${teamA.line}\n`);
  const server = await startServe(['--tokens', tokens], { binary });
  try {
    for (let i = 0; i < 5; i++) assert.is((await fetch(`${server.url}/cancel-task/r-${i}`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
    const cancelled = await runCli(['cancel', 'r-9', '--server', server.url, '--token', viewer.token], { binary });
    assert.is(cancelled.code, 4, cancelled.stderr);
    // A scoped token asking after fifty tasks outside its scope: one line, naming none of them.
    for (let i = 0; i < 50; i++) {
      const outside = await fetch(`${server.url}/v1/tasks/team-b-${i}`, { headers: { authorization: `Bearer ${teamA.token}` } });
      assert.is(outside.status, 403);
    }
    await server.process.waitFor(/request refused status=403 .*team-a-\*/);
    const refused = server.process.stderr.split('\n').filter((line) => line.includes('request refused'));
    assert.equal(refused.length, 3, server.process.stderr);
    assert.match(refused[0]!, /error request refused status=401 from=127\.0\.0\.1 error="missing or wrong token/);
    assert.match(refused[1]!, /error request refused status=403 from=127\.0\.0\.1 error=.*token \\?"viewer\\?" \(role reader\) may not cancel/);
    assert.match(refused[2]!, /error request refused status=403 from=127\.0\.0\.1 error=.*token \\?"team-a\\?" may only touch tasks matching team-a-\*"$/);
  } finally {
    await server.stop();
  }
});

test.run();
