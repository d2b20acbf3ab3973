// The client against servers that are not what they seem: redirects, oversized and endless answers,
// escape sequences, refused tokens, and other services on the URL. Each answer comes from a real HTTP
// server in this process; the commands run as real processes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ClientError, TaskctlClient } from '../../src/client/client.ts';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { FakeServer, streamForever, TASKCTL_HEADERS } from '../helpers/fake-server.ts';
import { rejects } from '../helpers/rejects.ts';

const noStackTrace = (text: string) => assert.not.match(text, /\n\s+at \S+/, `no stack trace in: ${text}`);
// Raw control characters (C0 but newline, DEL, C1) and invisible reordering characters.
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b]/;
const oneLine = (text: string) => {
  assert.is(text.split('\n').filter(Boolean).length, 1, `one line, got: ${JSON.stringify(text)}`);
  assert.not.match(text, RAW_CONTROL, `no raw control characters in ${JSON.stringify(text)}`);
  noStackTrace(text);
};

test('a redirect is never followed: the token stays with the configured server, and the CLI says so in one line', async () => {
  const elsewhere = await FakeServer.start((_req, res) =>
    res.writeHead(200, TASKCTL_HEADERS).end('{"id":"t1","cancelledAt":"2026-01-01T00:00:00.000Z","expiresAt":"2026-01-02T00:00:00.000Z"}'),
  );
  const redirecting = await FakeServer.start((_req, res) => res.writeHead(307, { location: `${elsewhere.url}/v1/tasks/t1/cancel` }).end());
  try {
    const result = await runCli(['cancel', 't1', '--server', redirecting.url, '--token', 'secret-token']);
    assert.is(result.code, 3);
    oneLine(result.stderr);
    assert.match(result.stderr, `taskctl: ${redirecting.url} answered with a redirect (HTTP 307 to ${elsewhere.url}/v1/tasks/t1/cancel)`);
    assert.not.match(result.stdout, 'cancelled t1', 'the redirected answer was not trusted');
    assert.is(elsewhere.seen.length, 0, 'nothing, and no token, reached the other server');
  } finally {
    await Promise.all([elsewhere.close(), redirecting.close()]);
  }
});

test('a POST redirected in a loop: cancel is one line; work reports it and keeps retrying', async () => {
  const looping = await FakeServer.start((req, res) => res.writeHead(302, { location: req.url }).end());
  try {
    const cancel = await runCli(['cancel', 'loop-1', '--server', looping.url]);
    assert.is(cancel.code, 3);
    oneLine(cancel.stderr);
    assert.match(cancel.stderr, 'answered with a redirect (HTTP 302');
    const work = new CliProcess(['work', 'loop-1', '--json', '--server', looping.url]);
    const line = await work.waitFor(/"event":"disconnected".*"attempt":2.*\n/);
    assert.match(line[0], 'answered with a redirect (HTTP 302');
    work.kill('SIGINT');
    const result = await work.exited;
    assert.is(result.code, 130);
    noStackTrace(result.stderr);
  } finally {
    await looping.close();
  }
});

test('an endless answer is refused at the cap, not buffered until the timeout', async () => {
  const endless = await FakeServer.start((_req, res) => {
    res.writeHead(200, TASKCTL_HEADERS);
    streamForever(res, '{"padding":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},');
  });
  try {
    const result = await runCli(['cancel', 'big-1', '--server', endless.url]);
    assert.is(result.code, 3);
    oneLine(result.stderr);
    assert.match(result.stderr, `taskctl: ${endless.url} sent more than 262144 bytes for /v1/tasks/big-1/cancel; refused`);
    // The library says the same for a watch: its cap follows the ids it asked for.
    const client = new TaskctlClient({ server: endless.url });
    const error = (await rejects(client.watch(['a', 'b'], { timeoutMs: 1_000 }), /sent more than \d+ bytes for \/v1\/watch/)) as ClientError;
    assert.is(error.kind, 'protocol');
    client.close();
  } finally {
    await endless.close();
  }
});

test("escape sequences in a server's words reach no terminal raw: errors, reasons, plain and JSON output", async () => {
  const evil = '\x1b[31mRED\x1b[0m\x1b]0;pwned\x07\nsecond line\r\u009b2J\u202Egnp.exe';
  const hostile = await FakeServer.start((req, res) => {
    if (req.url?.startsWith('/v1/tasks/refused')) {
      res.writeHead(400, TASKCTL_HEADERS).end(JSON.stringify({ error: { code: 'invalid_request', message: evil } }));
    } else if (req.url === '/ping') {
      res.writeHead(200, TASKCTL_HEADERS).end('{"message":"pong"}');
    } else if (req.url === '/v1/watch') {
      const record = { id: 'w-1', reason: evil, cancelledAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-02T00:00:00.000Z' };
      res.writeHead(200, TASKCTL_HEADERS).end(JSON.stringify({ cancelled: ['w-1'], records: [record] }));
    } else if (req.url?.endsWith('/report')) {
      res.writeHead(200, TASKCTL_HEADERS).end('{}');
    } else {
      res
        .writeHead(200, TASKCTL_HEADERS)
        .end(JSON.stringify({ id: 'ok-1', reason: evil, cancelledAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-02T00:00:00.000Z' }));
    }
  });
  try {
    const refused = await runCli(['cancel', 'refused', '--server', hostile.url]);
    assert.is(refused.code, 1);
    oneLine(refused.stderr);
    assert.match(refused.stderr, '␛[31mRED␛[0m␛]0;pwned␇␊second line␍<U+009B>2J<U+202E>gnp.exe');
    const accepted = await runCli(['cancel', 'ok-1', '--server', hostile.url]);
    assert.is(accepted.code, 0);
    oneLine(accepted.stdout);
    const plain = await runCli(['work', 'w-1', '--no-tui', '--server', hostile.url]);
    assert.is(plain.code, 0);
    assert.match(plain.stdout, /cancelled w-1 \(reason: ␛\[31mRED/);
    assert.not.match(plain.stdout, RAW_CONTROL);
    const json = await runCli(['work', 'w-1', '--json', '--server', hostile.url]);
    assert.not.match(json.stdout, RAW_CONTROL);
    const cancelled = json.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
      .find((e) => e.event === 'cancelled');
    assert.is(cancelled.reason, evil, 'JSON output escapes the text but keeps it intact for programs');
  } finally {
    await hostile.close();
  }
});

test('a refused token: cancel, status, ls and work exit 4 at once with one line; work never starts its command', async () => {
  const guarded = await FakeServer.start((req, res) => {
    if (req.url === '/ping') res.writeHead(200, TASKCTL_HEADERS).end('{"message":"pong"}');
    else res.writeHead(401, TASKCTL_HEADERS).end(JSON.stringify({ error: { code: 'unauthorized', message: 'missing or wrong token' } }));
  });
  try {
    const expected = `taskctl: not authorized by ${guarded.url}: missing or wrong token\n`;
    for (const args of [['cancel', 'a', 'b'], ['status', 'a'], ['ls']]) {
      const result = await runCli([...args, '--server', guarded.url, '--token', 'stale']);
      assert.is(result.code, 4, args.join(' '));
      assert.is(result.stderr, expected, args.join(' '));
    }
    const work = new CliProcess(['work', 'a', '--json', '--server', guarded.url, '--', process.execPath, '-e', 'setInterval(() => {}, 1000)']);
    const result = await work.exited;
    assert.is(result.code, 4);
    assert.is(result.stderr, expected);
    assert.match(result.stdout, /"event":"refused"/);
    // A command starts only once the server has said its task is not cancelled: a refusal says nothing.
    assert.not.match(result.stdout, /"event":"started"/, 'the command never started');
    assert.not.match(result.stdout, /"event":"disconnected"/, 'a refused token is not retried as a network error');
  } finally {
    await guarded.close();
  }
});

test('a 401 or 403 from something in front of taskctl (an auth proxy, no taskctl-version header) is not authorized: exit 4, saying the refusal did not come from taskctl; work neither starts its command nor retries', async () => {
  for (const status of [401, 403]) {
    const proxy = await FakeServer.start((_req, res) => res.writeHead(status, { 'content-type': 'text/html' }).end('<html>sign in first</html>'));
    const expected = `taskctl: not authorized by ${proxy.url}: it answered HTTP ${status} without a taskctl-version header, so the refusal came from something in front of taskctl (a proxy?), not from taskctl\n`;
    try {
      for (const args of [['cancel', 'p'], ['status', 'p'], ['ls'], ['events']]) {
        const result = await runCli([...args, '--server', proxy.url]);
        assert.is(result.code, 4, `${status} ${args.join(' ')}: ${result.stderr}`);
        assert.is(result.stderr, expected, `${status} ${args.join(' ')}`);
      }
      const work = new CliProcess(['work', 'p', '--json', '--server', proxy.url, '--', process.execPath, '-e', 'setInterval(() => {}, 1000)']);
      const result = await work.exited;
      assert.is(result.code, 4, result.stderr);
      assert.is(result.stderr, expected);
      assert.not.match(result.stdout, /"event":"started"/, 'the command never started');
      assert.not.match(result.stdout, /"event":"disconnected"/, 'not retried as "not a taskctl server"');
    } finally {
      await proxy.close();
    }
  }
});

test('another service on the URL is named as such, never acted on', async () => {
  const other = await FakeServer.start((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"cancelled":["x"],"records":[]}'));
  try {
    for (const args of [['cancel', 'x'], ['status', 'x'], ['ls']]) {
      const result = await runCli([...args, '--server', other.url]);
      assert.is(result.code, 3, args.join(' '));
      assert.is(result.stderr, `taskctl: ${other.url} is not a taskctl server (it answered HTTP 200 without a taskctl-version header)\n`);
    }
    const work = new CliProcess(['work', 'x', '--json', '--server', other.url]);
    await work.waitFor(/"event":"disconnected".*is not a taskctl server/);
    work.kill('SIGINT');
    assert.is((await work.exited).code, 130);
  } finally {
    await other.close();
  }
});

test.run();
