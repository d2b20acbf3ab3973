import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunningServer } from '../../src/server/listen.ts';
import { CliProcess, runCli } from '../helpers/cli.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

let server: RunningServer;
test.before(async () => {
  server = await startTestServer({ watchTimeoutMs: 2_000 });
});
test.after(() => server.close());

const noStackTrace = (text: string) => assert.not.match(text, /\n\s+at \S+/, `no stack trace in: ${text}`);

test('--help lists every command and every exit code; --version prints the version', async () => {
  const help = await runCli(['--help']);
  assert.is(help.code, 0);
  for (const command of ['serve', 'cancel', 'work', 'status', 'ls', 'token']) assert.match(help.stdout, `taskctl ${command}`);
  for (const code of [0, 1, 2, 3, 4, 5, 70, 124, 130])
    assert.match(help.stdout.replace(/\s+/g, ' '), new RegExp(`[:;] ${code} `), `exit code ${code} in --help`);
  const version = await runCli(['--version']);
  assert.is(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\S* \(\S+\)\n$/);
});

test('a command taking task ids shows them required, or what none means, never an empty default', async () => {
  const idsLine = async (command: string) => (await runCli([command, '--help'])).stdout.split('\n').find((text) => /^\s+ids\s/.test(text)) ?? '';
  for (const command of ['cancel', 'work', 'status']) {
    const line = await idsLine(command);
    assert.match(line, '[required]', `${command} --help: ${line}`);
    assert.not.match(line, '[default:', `${command} --help: ${line}`);
  }
  assert.match(await idsLine('events'), '[default: all tasks]');
});

test('every client command lists the TLS options and exit code 5 in its --help', async () => {
  for (const command of ['cancel', 'work', 'status', 'ls']) {
    const help = (await runCli([command, '--help'])).stdout.replace(/\s+/g, ' ');
    for (const option of ['--ca', '--cert', '--key', 'TASKCTL_CA']) assert.match(help, option, `${command} --help: ${option}`);
    assert.match(help, /[,;] 5 not trusted/, `${command} --help: exit code 5`);
  }
  const serve = (await runCli(['serve', '--help'])).stdout.replace(/\s+/g, ' ');
  for (const option of [
    '--tls-cert',
    '--tls-key',
    '--client-ca',
    '--tokens',
    'TASKCTL_TOKENS_FILE',
    'SIGHUP',
    '--webhook',
    'TASKCTL_WEBHOOK_SECRET',
    '--webhook-events',
    '--webhook-retry',
  ])
    assert.match(serve, option, `serve --help: ${option}`);
});

test('token new: a fresh token (256 random bits) shown once, and the tokens-file line holding only its SHA-256', async () => {
  const made = await Promise.all([
    runCli(['token', 'new', 'ci-runners', '--role', 'worker', '--json']),
    runCli(['token', 'new', 'ci-runners', '--role', 'worker']),
  ]);
  const { name, role, token, line } = JSON.parse(made[0].stdout);
  assert.equal([name, role], ['ci-runners', 'worker']);
  assert.match(token, /^taskctl_[A-Za-z0-9_-]{43}$/);
  assert.is(line, `ci-runners worker sha256:${createHash('sha256').update(token).digest('hex')}`);
  assert.not.match(line, token.slice(8));
  assert.match(made[1].stdout, /^token for ci-runners \(role worker\); it is shown only this once:\n\n {2}taskctl_\S+\n\nadd this line to the tokens file/);
  assert.not.match(made[1].stdout, token, 'every token is new');
  for (const args of [
    ['token', 'new', 'x', '--role', 'boss'],
    ['token', 'new', 'x'],
    ['token', 'new', 'bad name', '--role', 'worker'],
    ['token', 'old', 'x', '--role', 'worker'],
  ]) {
    const result = await runCli(args);
    assert.is(result.code, 2, args.join(' '));
    assert.match(result.stderr, /^taskctl: .+\n$/);
  }
});

test('an unknown command or flag exits 2 with a one-line hint', async () => {
  for (const args of [['frobnicate'], ['cancel', '1', '--frob'], [], ['cancel']]) {
    const result = await runCli(args);
    assert.is(result.code, 2, args.join(' '));
    assert.match(result.stderr, /^taskctl: .+ \(see taskctl --help\)\n$/);
    assert.is(result.stdout, '');
  }
});

test('cancel: acknowledged ids exit 0, and the server has them', async () => {
  const result = await runCli(['cancel', 'c-1', 'c-2', '--server', server.url, '--reason', 'done here']);
  assert.is(result.code, 0, result.stderr);
  assert.match(result.stdout, /cancelled c-1 \(reason: done here\)/);
  assert.equal((await server.canceler.find(['c-1', 'c-2'])).length, 2);
});

test('cancel of a task cancelled already: says when, by whom and why, and that the new reason was not recorded', async () => {
  const first = await runCli(['cancel', 'again-1', '--server', server.url, '--reason', 'wrong dataset']);
  assert.is(first.code, 0, first.stderr);
  const record = (await server.canceler.find(['again-1']))[0]!;
  const earlier = `again-1 was already cancelled at ${new Date(record.cancelledAt).toISOString()} by anonymous (reason: wrong dataset)`;

  const second = await runCli(['cancel', 'again-1', '--server', server.url, '--reason', 'out of budget']);
  assert.is(second.code, 0, second.stderr);
  assert.is(second.stdout, `${earlier}; the new reason was not recorded\n`);
  assert.is((await server.canceler.find(['again-1']))[0]!.reason, 'wrong dataset');
  // Without a reason nothing is lost, but the cancel that stands is still the earlier one.
  assert.is((await runCli(['cancel', 'again-1', '--server', server.url])).stdout, `${earlier}\n`);
  // The same reason again: nothing to tell apart from a first cancel, nothing lost.
  assert.is((await runCli(['cancel', 'again-1', '--server', server.url, '-r', 'wrong dataset'])).stdout, 'cancelled again-1 (reason: wrong dataset)\n');
  // --json: the record the server answered, as ever, on stdout; the note on stderr.
  const json = await runCli(['cancel', 'again-1', '--server', server.url, '--reason', 'out of budget', '--json']);
  assert.is(json.code, 0, json.stderr);
  assert.is(JSON.parse(json.stdout).reason, 'wrong dataset');
  assert.is(json.stderr, `taskctl: ${earlier}; the new reason was not recorded\n`);
});

test('cancel: an invalid id is one line and exit 1, while the valid ones still go through', async () => {
  const result = await runCli(['cancel', 'c-3', 'bad id', '--server', server.url]);
  assert.is(result.code, 1);
  assert.match(result.stderr, /^taskctl: cannot cancel "bad id": task id contains U\+0020.*\n$/);
  assert.equal((await server.canceler.find(['c-3'])).length, 1);
});

test('cancel: an unreachable server is one line and exit 3', async () => {
  const result = await runCli(['cancel', 'a', 'b', 'c', '--server', 'http://127.0.0.1:9']);
  assert.is(result.code, 3);
  assert.equal(result.stderr.trim().split('\n'), ['taskctl: cannot reach http://127.0.0.1:9: connection refused (is taskctl serve running there?)']);
  noStackTrace(result.stderr);
});

test('ls shows the reason a task was cancelled with, as status does, and GET /v1/tasks lists it', async () => {
  await runCli(['cancel', 'ls-why', '--server', server.url, '--reason', 'disk full']);
  await runCli(['cancel', 'ls-plain', '--server', server.url]);
  const ls = await runCli(['ls', '--server', server.url]);
  assert.is(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /^ls-why\s+cancel_requested\s.*cancelled by anonymous, reason: disk full$/m);
  assert.match(ls.stdout, /^ls-plain\s+cancel_requested\s.*cancelled by anonymous$/m);
  const listed = ((await (await fetch(`${server.url}/v1/tasks?limit=1000`)).json()) as { tasks: Array<{ id: string; reason?: string }> }).tasks;
  assert.equal(
    listed.filter((task) => task.id.startsWith('ls-')).map((task) => [task.id, task.reason]),
    [
      ['ls-plain', undefined],
      ['ls-why', 'disk full'],
    ],
  );
  // Children: one cancelled with its own reason, one stopped through its parent; a page of children and a
  // listing say the same.
  const look = (id: string) =>
    fetch(`${server.url}/v1/watch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ids: [id], parents: ['ls-job'], timeout: '0s' }),
    }).then((r) => r.json());
  await look('ls-kid-own');
  await look('ls-kid-through');
  await runCli(['cancel', 'ls-kid-own', '--server', server.url, '--reason', 'flaky node']);
  await runCli(['cancel', 'ls-job', '--server', server.url, '--reason', 'wrong data']);
  await eventually(
    async () => /ls-kid-through\s+cancel_requested/.test((await runCli(['ls', '--server', server.url])).stdout),
    'the parent cancel to reach its child',
  );
  for (const args of [['ls'], ['ls', '--parent', 'ls-job']]) {
    const shown = (await runCli([...args, '--server', server.url])).stdout;
    assert.match(shown, /^\s*ls-kid-own\s.*reason: flaky node/m, args.join(' '));
    assert.match(shown, /^\s*ls-kid-through\s.*reason: parent ls-job cancelled/m, args.join(' '));
  }
  const kids = ((await (await fetch(`${server.url}/v1/tasks?parent=ls-job`)).json()) as { tasks: Array<{ id: string; reason?: string }> }).tasks;
  assert.equal(
    kids.map((task) => [task.id, task.reason]),
    [
      ['ls-kid-own', 'flaky node'],
      ['ls-kid-through', 'parent ls-job cancelled'],
    ],
  );
});

test('cancel, status and ls at a port where something else answers, not in HTTP: one line saying so, exit 3', async () => {
  // An SSH server's greeting: what a wrong port often gets.
  const other = createServer((socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n'));
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  try {
    for (const args of [['cancel', 'a', 'b'], ['status', 'a'], ['ls']]) {
      const result = await runCli([...args, '--server', url]);
      assert.is(result.code, 3, args[0]);
      assert.equal(result.stderr.trim().split('\n'), [
        `taskctl: ${url} did not answer in HTTP: something other than taskctl serve listens there (a wrong port?)`,
      ]);
    }
  } finally {
    other.close();
  }
});

test('cancel: a refused token is one line for all ids and exit 4; TASKCTL_TOKEN is used', async () => {
  const guarded = await startTestServer({ token: 'right' });
  try {
    const refused = await runCli(['cancel', 'g-1', 'g-2', 'g-3', '--server', guarded.url, '--token', 'wrong']);
    assert.is(refused.code, 4);
    assert.equal(refused.stderr.split('\n'), [
      `taskctl: not authorized by ${guarded.url}: missing or wrong token (taskctl: --token or TASKCTL_TOKEN; HTTP: Authorization: Bearer <token>)`,
      '',
    ]);
    const accepted = await runCli(['cancel', 'g-1'], { env: { TASKCTL_TOKEN: 'right', TASKCTL_SERVER: guarded.url } });
    assert.is(accepted.code, 0, accepted.stderr);
  } finally {
    await guarded.close();
  }
});

test("work's plain lines thin a long outage: the first failure, then none per retry; the reconnection counts those not shown", async () => {
  const proxy = await TcpProxy.start(server.port);
  const work = new CliProcess(['work', 'thin-1', '--server', proxy.url]);
  try {
    await work.waitFor(/connected to /);
    proxy.cut();
    await eventually(() => proxy.refused >= 5, 'five attempts refused', 20_000);
    proxy.restore();
    const [, notShown] = await work.waitFor(/reconnected to \S+ \((\d+) more failed attempts to reach the server not shown\)/, 20_000);
    const failures = work.stdout.split('\n').filter((line) => / disconnected: /.test(line));
    // One line for the cut watch, perhaps one more when the refusals read differently; never one per retry.
    assert.ok(failures.length >= 1 && failures.length <= 2, work.stdout);
    assert.ok(failures.length + Number(notShown) >= 5, work.stdout);
    await runCli(['cancel', 'thin-1', '--server', server.url]);
    assert.is((await work.exited).code, 0, work.stdout);
  } finally {
    work.kill();
    await proxy.close();
  }
});

test('work stopped while the server is away says which tasks the server could not be told of', async () => {
  const proxy = await TcpProxy.start(server.port);
  const work = new CliProcess(['work', 'unheard-2', 'unheard-1', '--server', proxy.url]);
  try {
    await work.waitFor(/connected to /);
    proxy.cut();
    work.kill('SIGINT');
    const ended = await work.exited;
    assert.is(ended.code, 130, ended.stdout);
    const last = ended.stdout.trim().split('\n').at(-1)!;
    assert.match(last, /all tasks ended; exit code 130; the server could not be told how unheard-1, unheard-2 ended \(a task it saw watched reads as lost/);
  } finally {
    work.kill();
    await proxy.close();
  }
});

test('work --json hears cancel 1234 at once while 5678 goes on, then exits 0 when 5678 is cancelled', async () => {
  const work = new CliProcess(['work', '1234', '5678', '--json', '--server', server.url]);
  await work.waitFor(/"event":"connected"/);
  await runCli(['cancel', '1234', '--server', server.url, '--reason', 'r1']);
  await work.waitFor(/"event":"cancelled".*"task":"1234"/);
  assert.not.match(work.stdout, /"cancelled".*"5678"/);
  await runCli(['cancel', '5678', '--server', server.url]);
  const result = await work.exited;
  assert.is(result.code, 0, result.stderr);
  const events = result.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.ok(events.every((e) => typeof e.event === 'string' && !Number.isNaN(Date.parse(e.ts))));
  assert.equal(
    events.map((e) => e.event),
    ['watching', 'watching', 'connected', 'cancelled', 'cancelled', 'done'],
  );
  assert.equal(
    events.filter((e) => e.event === 'cancelled').map((e) => [e.task, e.reason]),
    [
      ['1234', 'r1'],
      ['5678', undefined],
    ],
  );
});

test('work with a command: output is kept apart per task; exit codes follow the commands', async () => {
  const script = "console.log('hello from', process.env.TASKCTL_TASK_ID); process.exit(process.env.TASKCTL_TASK_ID === 'b' ? 3 : 0)";
  const result = await runCli(['work', 'a', 'b', '--server', server.url, '--no-tui', '--', process.execPath, '-e', script]);
  assert.is(result.code, 1);
  assert.match(result.stdout, /^\[a\] hello from a$/m);
  assert.match(result.stdout, /^\[b\] hello from b$/m);
  assert.match(result.stdout, /exited b with code 3/);
});

test('work: SIGINT stops the commands and exits 130', async () => {
  const work = new CliProcess([
    'work',
    'i-1',
    '--json',
    '--server',
    server.url,
    '--',
    process.execPath,
    '-e',
    "console.log('up'); setInterval(() => {}, 1000)",
  ]);
  await work.waitFor(/"line":"up"/);
  work.kill('SIGINT');
  const result = await work.exited;
  assert.is(result.code, 130);
  assert.match(result.stdout, /"event":"interrupted"/);
  assert.match(result.stdout, /"event":"exited","ts":"[^"]+","task":"i-1","code":null,"signal":"SIGTERM"/);
});

test('work: bad options get one clear line and exit 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['work', 'ok', 'a b'], /^taskctl: "a b": task id contains U\+0020/],
    [['work', 'a', '--timeout', 'soon'], /--timeout: not a duration/],
    [['work', 'a', '--server', 'ftp://x'], /--server: must be an http/],
    [['work', 'a', '--watch-timeout', '1h'], /--watch-timeout: at most 5m/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args);
    assert.is(result.code, 2, args.join(' '));
    assert.match(result.stderr, message);
    noStackTrace(result.stderr);
  }
});

test('serve: bad webhook options get one clear line and exit 2, before anything listens', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--webhook', 'http://127.0.0.1:9/hook'], /^taskctl: --webhook needs --webhook-secret \(or TASKCTL_WEBHOOK_SECRET\)/],
    [['--webhook', 'ftp://example.com/', '--webhook-secret', 's3cret-s3cret'], /--webhook: must be an http:\/\/ or https:\/\/ URL/],
    [
      ['--webhook', 'http://127.0.0.1:9/', '--webhook-secret', 's3cret', '--webhook-events', 'lost,exploded'],
      /--webhook-events: each must be one of watching, cancel_requested/,
    ],
    [['--webhook', 'http://127.0.0.1:9/', '--webhook-secret', 's3cret', '--webhook-retry', '90d'], /--webhook-retry: at most 30d/],
    [['--webhook', 'http://127.0.0.1:9/', '--webhook-secret', ' s3cret\n'], /--webhook-secret: must not start or end with whitespace/],
  ];
  for (const [extra, message] of cases) {
    const result = await runCli(['serve', '--port', '0', '--store', 'memory', '--no-tui', ...extra]);
    assert.is(result.code, 2, extra.join(' '));
    assert.match(result.stderr, message);
    assert.is(result.stderr.split('\n').length, 2, result.stderr);
    noStackTrace(result.stderr);
  }
});

test("the README's npm start serves (here on a free port and the memory store)", async () => {
  const start = spawn('npm', ['start', '--silent', '--', '--port', '0', '--store', 'memory', '--json'], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: { ...process.env, CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A group of its own: npm runs the server in a shell, and stopping npm alone would leave it running.
    detached: true,
  });
  let output = '';
  start.stdout.on('data', (chunk) => (output += chunk));
  start.stderr.on('data', (chunk) => (output += chunk));
  try {
    const deadline = Date.now() + 20_000;
    while (!/"url":"([^"]+)"/.test(output) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const url = /"url":"([^"]+)"/.exec(output)?.[1];
    assert.ok(url, `npm start did not serve: ${output}`);
    assert.equal(await (await fetch(`${url}/ping`)).json(), { message: 'pong' });
  } finally {
    process.kill(-start.pid!, 'SIGTERM');
    await new Promise((resolve) => start.once('close', resolve));
  }
});

test.run();
