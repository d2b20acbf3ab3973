// Scoped tokens as a user meets them, from source: `token new --scope` writes a line serve accepts, a scoped
// token's commands reach only its tasks, a cancel through a link names who linked, and a worker whose
// token a reload takes away leaves its task `stopped`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CliProcess, FOREVER, newToken, runCli, startServe } from '../helpers/cli.ts';
import { eventually, tempDir } from '../helpers/server.ts';

const dir = tempDir();
test.after(() => dir.remove());

const serve = (tokens: string) => startServe(['--tokens', tokens, '--watch-timeout', '1m']);

test('token new --scope writes ids= on the line; serve takes it, and the token reaches only its tasks (exit 4 outside, one line)', async () => {
  const runner = await newToken('a-runner', 'worker', { scope: ['team-a-*'] });
  const ops = await newToken('a-ops', 'operator', { scope: ['team-a-*', 'shared,extra'] });
  assert.match(runner.line, / ids=team-a-\*$/);
  assert.match(ops.line, / ids=team-a-\*,shared,extra$/);
  assert.equal(ops.scope, ['team-a-*', 'shared', 'extra']);
  const bad = await runCli(['token', 'new', 'x', '--role', 'worker', '--scope', 'a*b']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /^taskctl: --scope: "\*" may only end a pattern/);
  const tokens = join(dir.path, 'scoped-tokens.txt');
  writeFileSync(tokens, `${runner.line}\n${ops.line}\n`);
  const server = await serve(tokens);
  const as = (token: string, [command, ...rest]: string[]) => runCli([command!, '--server', server.url, '--token', token, ...rest]);
  try {
    const outside = await as(runner.token, ['work', 'team-b-1', '--', process.execPath, '-e', '']);
    assert.is(outside.code, 4, outside.stderr);
    assert.match(outside.stderr, /may only touch tasks matching team-a-\*; "team-b-1" is not one of them/);
    const inside = await as(runner.token, ['work', 'team-a-1', '--', process.execPath, '-e', '']);
    assert.is(inside.code, 0, inside.stderr);
    const cancel = await as(ops.token, ['cancel', 'team-b-1']);
    assert.is(cancel.code, 4);
    assert.is(cancel.stderr.trim().split('\n').length, 1, cancel.stderr);
    assert.is((await as(ops.token, ['cancel', 'shared'])).code, 0);
    const ls = await as(ops.token, ['ls']);
    assert.is(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /team-a-1/);
    assert.not.match(ls.stdout, /team-b-1/);
  } finally {
    await server.stop();
  }
});

test('a task stopped through a link to a parent cancelled before it: status names the token that made the link', async () => {
  const ops = await newToken('ops', 'operator');
  const linker = await newToken('linker', 'worker');
  const tokens = join(dir.path, 'link-tokens.txt');
  writeFileSync(tokens, `${ops.line}\n${linker.line}\n`);
  const server = await serve(tokens);
  const as = (token: string, [command, ...rest]: string[]) => runCli([command!, '--server', server.url, '--token', token, ...rest]);
  try {
    assert.is((await as(ops.token, ['cancel', 'old-job', '--reason', 'over'])).code, 0);
    const late = await as(linker.token, ['work', 'late-step', '--parent', 'old-job', '--json', '--', ...FOREVER]);
    assert.match(late.stdout, /"linkedBy":"linker"/, late.stdout);
    await server.process.waitFor(/stopped through a parent ids=late-step parent=old-job cancelledBy=ops linkedBy=linker/);
    let status = '';
    await eventually(
      async () => /through a link made by linker/.test((status = (await as(ops.token, ['status', 'late-step'])).stdout)),
      `status to name the linker: ${status}`,
    );
    assert.match(status, /cancelled by ops through a link made by linker/);
  } finally {
    await server.stop();
  }
});

test("SIGHUP that revokes a running worker's token: its work exits 4, and the server records its task stopped, not lost", async () => {
  const ops = await newToken('ops', 'operator');
  const runner = await newToken('runner', 'worker');
  const tokens = join(dir.path, 'revoke-tokens.txt');
  writeFileSync(tokens, `${ops.line}\n${runner.line}\n`);
  const server = await serve(tokens);
  const work = new CliProcess(['work', 'revoked-run', '--json', '--watch-timeout', '1m', '--server', server.url, '--token', runner.token, '--', ...FOREVER]);
  try {
    await work.waitFor(/"event":"connected"/, 30_000);
    await eventually(async () => (await (await fetch(`${server.url}/healthz`)).json()).openWatches === 1, 'the work to hold its watch', 30_000);
    writeFileSync(tokens, `${ops.line}\n`);
    server.process.kill('SIGHUP');
    await server.process.waitFor(/reloaded tokens tokens=1 watchesEnded=1 streamsEnded=0 tasksStopped=1/);
    const worked = await work.exited;
    assert.is(worked.code, 4, worked.stderr);
    let status = '';
    await eventually(
      async () => /stopped/.test((status = (await runCli(['status', 'revoked-run', '--server', server.url, '--token', ops.token])).stdout)),
      `the task to read stopped: ${status}`,
    );
    assert.match(status, /stopped by token runner revoked/);
  } finally {
    work.kill('SIGINT');
    await work.exited;
    await server.stop();
  }
});

test('status with a scoped token: a task stopped through an ancestor outside its scope reads cancelled, naming nothing of that ancestor', async () => {
  const ops = await newToken('ops', 'operator');
  const viewer = await newToken('a-viewer', 'reader', { scope: ['team-a-*'] });
  const tokens = join(dir.path, 'outside-tokens.txt');
  writeFileSync(tokens, `${ops.line}\n${viewer.line}\n`);
  const server = await serve(tokens);
  const as = (token: string, [command, ...rest]: string[]) => runCli([command!, '--server', server.url, '--token', token, ...rest]);
  // The unscoped operator's run links team-a-kid under another team's task, then cancels that task.
  const work = new CliProcess(['work', 'team-a-kid', '--parent', 'team-b-boss', '--json', '--server', server.url, '--token', ops.token, '--', ...FOREVER]);
  try {
    await work.waitFor(/"event":"connected"/, 30_000);
    await eventually(async () => /watching/.test((await as(ops.token, ['status', 'team-a-kid'])).stdout), 'the run to start', 30_000);
    assert.is((await as(ops.token, ['cancel', 'team-b-boss', '--reason', 'boss-hush'])).code, 0);
    // The run ends (its command runs forever otherwise): the cancel reached it and it stopped its command.
    assert.is((await work.exited).code, 0, 'the run was cancelled and stopped its command');
    let status = '';
    await eventually(
      async () => /cancelled/.test((status = (await as(viewer.token, ['status', 'team-a-kid'])).stdout)),
      `status to read cancelled: ${status}`,
      30_000,
    );
    assert.match(status, /an ancestor outside this token's scope was cancelled/);
    assert.not.match(status, /team-b-boss|boss-hush|\bops\b/);
    const json = await as(viewer.token, ['status', 'team-a-kid', '--json']);
    assert.not.match(json.stdout, /team-b-boss|boss-hush|"by"|cancelledBy/);
    // The operator, unscoped, reads the whole story.
    assert.match((await as(ops.token, ['status', 'team-a-kid'])).stdout, /team-b-boss/);
  } finally {
    work.kill('SIGINT');
    await work.exited;
    server.process.kill('SIGTERM');
    await server.process.exited;
  }
});

test.run();
