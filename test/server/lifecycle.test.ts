import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { eventually, startTestServer, tempDir } from '../helpers/server.ts';

test('stopping the server answers every open watch "not cancelled" at once, then closes', async () => {
  const server = await startTestServer({ watchTimeoutMs: 60_000 });
  const seed = fetch(`${server.url}/watch-task/s1`).then((r) => r.text());
  const batch = fetch(`${server.url}/v1/watch?ids=s1,s2`).then((r) => r.json());
  await eventually(() => server.openWatches() === 2, 'two watches');
  const started = Date.now();
  await server.close();
  assert.is(await seed, 'false');
  assert.equal((await batch).cancelled, []);
  assert.ok(Date.now() - started < 5_000);
  const refused = await fetch(`${server.url}/ping`).then(() => 'answered', () => 'refused');
  assert.is(refused, 'refused');
});

test('a cancel acknowledged by the server survives kill -9', async () => {
  const dir = tempDir();
  const store = `sqlite:${dir.path}/taskctl.db`;
  try {
    const first = new CliProcess(['serve', '--port', '0', '--store', store]);
    const url = (await first.waitFor(/url=(http:\S+)/))[1]!;
    const acknowledged = [];
    for (let i = 0; i < 50; i++) {
      const res = await fetch(`${url}/v1/tasks/durable-${i}/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"kept"}' });
      if (res.status === 200) acknowledged.push(`durable-${i}`);
    }
    first.kill('SIGKILL');
    assert.is((await first.exited).signal, 'SIGKILL');
    assert.is(acknowledged.length, 50);

    const second = new CliProcess(['serve', '--port', '0', '--store', store]);
    const url2 = (await second.waitFor(/url=(http:\S+)/))[1]!;
    const reply = await (await fetch(`${url2}/v1/watch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ids: acknowledged }) })).json();
    assert.is(reply.cancelled.length, 50, 'every acknowledged cancel is back');
    assert.ok(reply.records.every((r: { reason: string }) => r.reason === 'kept'));
    second.kill('SIGTERM');
    const result = await second.exited;
    assert.is(result.code, 0, 'SIGTERM stops the server cleanly');
    assert.match(result.stderr, /stopped/);
  } finally {
    dir.remove();
  }
});

test('protected mode: a non-loopback address without a token is refused in one line', async () => {
  const result = await runCli(['serve', '--host', '0.0.0.0', '--port', '0', '--store', 'memory']);
  assert.is(result.code, 2);
  assert.match(result.stderr, /^taskctl: refusing to listen on 0\.0\.0\.0 without a token.*\n$/);
  assert.not.match(result.stderr, /\n.+\n/, 'one line');
});

test('protected mode: --insecure or a token lets it listen', async () => {
  const insecure = new CliProcess(['serve', '--host', '0.0.0.0', '--port', '0', '--store', 'memory', '--insecure']);
  await insecure.waitFor(/listening/);
  insecure.kill();
  assert.is((await insecure.exited).code, 0);
  const withToken = new CliProcess(['serve', '--host', '0.0.0.0', '--port', '0', '--store', 'memory', '--json'], { env: { TASKCTL_TOKEN: 't0k' } });
  const line = (await withToken.waitFor(/^\{.*"msg":"listening".*\}$/m))[0];
  assert.is(JSON.parse(line).auth, 'token');
  withToken.kill();
  assert.is((await withToken.exited).code, 0);
});

test('bad serve options get one clear line and exit 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--watch-timeout', 'forever'], /--watch-timeout: not a duration/],
    [['--watch-timeout', '10m'], /--watch-timeout: at most 5m/],
    [['--port', '70000'], /--port:/],
    [['--store', 'postgres://x'], /unknown store/],
    [['--ttl', '0s'], /--ttl: at least 1s/],
    [['--ttl', '100000d'], /--ttl: at most 366d/],
    [['--token', ' padded'], /--token: must not start or end with whitespace/],
    [['--token', 'newline\n'], /--token: must not start or end with whitespace/],
    [['--token', '   '], /--token: must not be empty/],
    [['--max-connections', '0'], /--max-connections:/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(['serve', ...(args.includes('--store') ? [] : ['--store', 'memory']), ...args]);
    assert.is(result.code, 2, args.join(' '));
    assert.match(result.stderr, message);
    assert.not.match(result.stderr, /\bat \S+:\d+/, 'no stack trace');
  }
});

test('serve restarts itself in place with a small young generation (same pid), once', async () => {
  const server = new CliProcess(['serve', '--port', '0', '--store', 'memory', '--json']);
  try {
    const url = JSON.parse((await server.waitFor(/^\{.*"listening".*\}$/m))[0]).url;
    assert.is((await fetch(`${url}/ping`)).status, 200);
    if (process.platform === 'linux') {
      const environ = readFileSync(`/proc/${server.child.pid}/environ`, 'utf8').split('\0');
      assert.ok(environ.includes('NODE_OPTIONS=--max-semi-space-size=2'), 'the running server is the relaunched one');
    }
    assert.is(server.stdout.match(/"listening"/g)?.length, 1, 'it relaunched once, before listening');
  } finally {
    server.kill();
    assert.is((await server.exited).code, 0);
  }
});

test('a port already taken is one clear line and exit 1', async () => {
  const server = await startTestServer();
  try {
    const result = await runCli(['serve', '--port', String(server.port), '--store', 'memory']);
    assert.is(result.code, 1);
    assert.match(result.stderr, /cannot listen on 127\.0\.0\.1:\d+: address already in use/);
  } finally {
    await server.close();
  }
});

test.run();
