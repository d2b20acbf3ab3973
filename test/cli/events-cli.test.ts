// `taskctl events` and `taskctl top` as a user runs them (real processes from source, real servers):
// what events prints, that it resumes by itself, its exit codes, and that nothing from the network
// reaches the terminal raw.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CliProcess, DurableServer, runCli } from '../helpers/cli.ts';
import { post } from '../helpers/events.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';
import { TestCa } from '../helpers/tls.ts';

const noStackTrace = (text: string) => assert.not.match(text, /\n\s+at \S+/, `no stack trace in: ${text}`);
// Raw control characters (C0 but newline, DEL, C1) and invisible reordering characters.
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b]/;
const lines = (text: string) => text.split('\n').filter(Boolean);

test('events prints a line per change, and NDJSON with --json; ids and states filter; it resumes after a cut by itself', async () => {
  const server = await startTestServer();
  const proxy = await TcpProxy.start(server.port);
  const plain = new CliProcess(['events', '--server', proxy.url]);
  const json = new CliProcess(['events', '--json', '--server', server.url]);
  const filtered = new CliProcess(['events', 'ev-1', 'ev-3', '--state', 'cancel_requested', '--json', '--server', server.url]);
  try {
    await eventually(
      async () => (await fetch(`${server.url}/metrics`).then((r) => r.text())).includes('taskctl_open_event_streams 3'),
      'three streams open',
      30_000,
    );
    await post(`${server.url}/v1/tasks/ev-1/cancel`, { reason: 'wrong dataset' });
    await post(`${server.url}/v1/tasks/ev-2/report`, { outcome: 'failed', exitCode: 3 });
    await plain.waitFor(/ev-2/);
    proxy.cut();
    await post(`${server.url}/v1/tasks/ev-3/cancel`, { after: '2h' });
    await post(`${server.url}/v1/tasks/ev-3/cancel`);
    await plain.waitFor(/taskctl: .*retrying in/);
    proxy.restore();
    await plain.waitFor(/reconnected to .*resuming after event \d+/, 15_000);
    await plain.waitFor(/cancel_requested +ev-3/, 15_000);
    const shown = lines(plain.stdout);
    assert.is(shown.length, 4, plain.stdout);
    assert.match(shown[0]!, /^\d\d:\d\d:\d\d  cancel_requested  ev-1  by anonymous, reason: wrong dataset$/);
    assert.match(shown[1]!, /^\d\d:\d\d:\d\d  failed {12}ev-2  exit 3$/, shown[1]);
    assert.match(shown[2]!, /^\d\d:\d\d:\d\d  scheduled {9}ev-3  at \S+, by anonymous \(scheduled\)$/);
    assert.match(shown[3]!, /^\d\d:\d\d:\d\d  cancel_requested  ev-3/);

    await json.waitFor(/"id":"ev-3","cancelled":true/);
    const objects = lines(json.stdout).map((line) => JSON.parse(line));
    assert.equal(
      objects.map((o) => [o.type, o.change, o.id]),
      [
        ['task', 'cancel_requested', 'ev-1'],
        ['task', 'failed', 'ev-2'],
        ['task', 'scheduled', 'ev-3'],
        ['task', 'cancel_requested', 'ev-3'],
      ],
    );
    assert.ok(
      objects.every((o, i) => i === 0 || o.seq === objects[i - 1].seq + 1),
      'seqs follow each other',
    );
    assert.is(objects[1].status.exitCode, 3);
    await filtered.waitFor(/"id":"ev-3"/);
    assert.equal(
      lines(filtered.stdout).map((line) => JSON.parse(line).id),
      ['ev-1', 'ev-3'],
    );
    for (const p of [plain, json, filtered]) {
      p.kill('SIGINT');
      const result = await p.exited;
      assert.is(result.code, 0, 'interrupting is how events ends');
      noStackTrace(result.stderr);
    }
  } finally {
    for (const p of [plain, json, filtered]) p.kill('SIGKILL');
    await proxy.close();
    await server.close();
  }
});

test('text from the server reaches no terminal raw: ids, reasons and progress are escaped in lines and in JSON', async () => {
  const server = await startTestServer({ progressIntervalMs: 50 });
  const plain = new CliProcess(['events', '--server', server.url]);
  const json = new CliProcess(['events', '--json', '--server', server.url]);
  try {
    await eventually(
      async () => (await fetch(`${server.url}/metrics`).then((r) => r.text())).includes('taskctl_open_event_streams 2'),
      'two streams open',
      30_000,
    );
    const evil = '\x1b]0;pwned\x07\x1b[2J\u202Egnp.exe\r\u009b31m';
    await post(`${server.url}/v1/tasks/${encodeURIComponent('任务-7')}/cancel`, { reason: evil });
    await plain.waitFor(/任务-7/);
    await json.waitFor(/任务-7/);
    assert.not.match(plain.stdout, RAW_CONTROL, JSON.stringify(plain.stdout));
    assert.match(plain.stdout, '␛]0;pwned␇␛[2J<U+202E>gnp.exe␍<U+009B>31m');
    assert.not.match(json.stdout, RAW_CONTROL);
    assert.is(JSON.parse(lines(json.stdout)[0]!).record.reason, evil, 'the same value for a JSON reader');
  } finally {
    plain.kill('SIGKILL');
    json.kill('SIGKILL');
    await server.close();
  }
});

test('events: a refused token is one line and exit 4, an untrusted server one line and exit 5; neither is retried', async () => {
  const guarded = await startTestServer({ token: 'right' });
  const ca = TestCa.create('events-ca');
  const issued = ca.issue('server');
  const tls = await startTestServer({ tls: { cert: issued.cert, key: issued.key } });
  try {
    const refused = await runCli(['events', '--server', guarded.url, '--token', 'wrong']);
    assert.is(refused.code, 4);
    assert.is(lines(refused.stderr).length, 1, refused.stderr);
    assert.match(refused.stderr, /^taskctl: not authorized by http:\/\/127\.0\.0\.1:\d+: missing or wrong token/);
    const untrusted = await runCli(['events', '--server', tls.url]);
    assert.is(untrusted.code, 5);
    assert.is(lines(untrusted.stderr).length, 1, untrusted.stderr);
    assert.match(untrusted.stderr, 'is not trusted: its certificate is signed by an unknown authority');
    // With the CA, the same server is followed.
    const trusted = new CliProcess(['events', '--json', '--server', tls.url, '--ca', ca.certPath]);
    await eventually(
      async () => /taskctl_open_event_streams 1/.test(await tls.metrics.registry.getSingleMetricAsString('taskctl_open_event_streams')),
      'the stream open over TLS',
      30_000,
    );
    await tls.canceler.cancel('over-tls');
    await tls.tracker.cancelRequested('over-tls');
    await trusted.waitFor(/"id":"over-tls"/, 15_000);
    trusted.kill('SIGINT');
    assert.is((await trusted.exited).code, 0);
  } finally {
    await guarded.close();
    await tls.close();
    ca.remove();
  }
});

test('events ends when its reader goes away (| head), with exit 0', async () => {
  const server = await startTestServer();
  const entry = fileURLToPath(new URL('../../src/cli/run.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', entry, 'events', '--json', '--server', server.url], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CI: '1' },
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  try {
    await eventually(
      async () => (await fetch(`${server.url}/metrics`).then((r) => r.text())).includes('taskctl_open_event_streams 1'),
      'the stream open',
      30_000,
    );
    await post(`${server.url}/v1/tasks/head-1/cancel`);
    await new Promise((resolve) => child.stdout.once('data', resolve));
    // The reader has its line and leaves, as `head -1` does.
    child.stdout.destroy();
    for (let i = 2; i < 5; i++) await post(`${server.url}/v1/tasks/head-${i}/cancel`);
    assert.is(await exited, 0);
  } finally {
    child.kill('SIGKILL');
    await server.close();
  }
});

test('usage: a bad --since or id is one line and exit 2; --help lists the exit codes and the TLS options', async () => {
  const since = await runCli(['events', '--since', 'yesterday']);
  assert.is(since.code, 2);
  assert.match(since.stderr, /^taskctl: --since: must be an event id/);
  const id = await runCli(['events', 'a/b']);
  assert.is(id.code, 2);
  noStackTrace(id.stderr);
  for (const command of ['events', 'top']) {
    const help = (await runCli([command, '--help'])).stdout.replace(/\s+/g, ' ');
    for (const option of ['--server', '--token', '--ca', '--cert', '--key']) assert.match(help, option, `${command} --help lists ${option}`);
    for (const code of [0, 2, 4, 5, 70]) assert.match(help, new RegExp(`[:;] ${code} `), `${command} --help lists exit code ${code}`);
  }
  const all = await runCli(['--help']);
  assert.match(all.stdout, 'taskctl events');
  assert.match(all.stdout, 'taskctl top');
});

test('top without a terminal refuses in one line, pointing at events and ls', async () => {
  const result = await runCli(['top', '--server', 'http://127.0.0.1:9']);
  assert.is(result.code, 2);
  assert.is(lines(result.stderr).length, 1);
  assert.match(result.stderr, 'top needs a terminal; for a stream of changes use taskctl events --json, for a list taskctl ls');
  assert.is(result.stdout, '');
});

test('serve --event-window and --event-window-age size the window a client resumes from; bad values exit 2', async () => {
  const server = await DurableServer.start(['--event-window', '3', '--no-tui']);
  try {
    for (let i = 0; i < 6; i++) await post(`${server.url}/v1/tasks/win-${i}/cancel`);
    const all = new CliProcess(['events', '--json', '--since', '0', '--server', server.url]);
    await all.waitFor(/"type":"reset"/, 15_000);
    all.kill('SIGINT');
    await all.exited;
    const printed = lines(all.stdout).map((line) => JSON.parse(line));
    assert.is(printed.length, 1, all.stdout);
    assert.is(printed[0].type, 'reset', 'what followed event 0 is no longer kept in a window of 3');
    const newest = printed[0].seq as number;
    const inside = new CliProcess(['events', '--json', '--since', String(newest - 2), '--server', server.url]);
    await inside.waitFor(/"id":"win-5"/, 15_000);
    inside.kill('SIGINT');
    await inside.exited;
    assert.equal(
      lines(inside.stdout).map((line) => JSON.parse(line).id),
      ['win-4', 'win-5'],
      'a resume inside the window replays what came after',
    );
  } finally {
    await server.stop();
  }
  for (const [extra, message] of [
    [['--event-window', '0'], /--event-window: /],
    [['--event-window', '2000000'], /--event-window: /],
    [['--event-window-age', '30d'], /--event-window-age: at most 7d/],
  ] as Array<[string[], RegExp]>) {
    const result = await runCli(['serve', '--port', '0', '--store', 'memory', '--no-tui', ...extra]);
    assert.is(result.code, 2, extra.join(' '));
    assert.match(result.stderr, message);
    noStackTrace(result.stderr);
  }
});

test.run();
