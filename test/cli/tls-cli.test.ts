// The built binary over real TLS: certificates made by openssl, `serve`, `work`, `cancel` and `status` as a
// user runs them, SIGHUP reloads of certificates and tokens.
import { copyFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureBinary } from '../helpers/binary.ts';
import { CliProcess, FOREVER, newToken as newTokenBy, runCli, startServe } from '../helpers/cli.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import { type Issued, servedSerial, TestCa } from '../helpers/tls.ts';

let binary: string;
let ca: TestCa;
let other: TestCa;
test.before(() => {
  binary = ensureBinary();
  ca = TestCa.create('taskctl-ca');
  other = TestCa.create('another-ca');
});
test.after(() => {
  ca.remove();
  other.remove();
});

const noStackTrace = (text: string) => assert.not.match(text, /\n\s+at \S+/, `no stack trace in: ${text}`);

/** `taskctl serve` from the binary (see startServe). */
const serve = (args: string[]) => startServe(args, { binary });
const newToken = (name: string, role: string) => newTokenBy(name, role, { binary });

/** GET over HTTPS trusting `ca`, for what no CLI command shows (open watches). */
function getJson(url: string, caPem: string): Promise<any> {
  return new Promise((resolve, reject) => {
    get(url, { ca: caPem }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(JSON.parse(body)));
    }).once('error', reject);
  });
}

const events = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));

test('over HTTPS with --ca: work hears the cancel made by cancel, and who made it; status says so too', async () => {
  const issued = ca.issue('server-main');
  const ops = await newToken('ops', 'operator');
  const runner = await newToken('runner', 'worker');
  const tokens = join(ca.dir, 'tokens-main.txt');
  writeFileSync(tokens, `# made by taskctl token new\n${ops.line}\n\n${runner.line}\n`);
  const server = await serve(['--tls-cert', issued.certPath, '--tls-key', issued.keyPath, '--tokens', tokens]);
  try {
    assert.match(server.url, /^https:\/\//);
    const work = new CliProcess(['work', 'job-1', '--json', '--server', server.url, '--ca', ca.certPath, '--token', runner.token], { binary });
    await work.waitFor(/"event":"connected"/);
    // TASKCTL_CA works as --ca does.
    const cancel = await runCli(['cancel', 'job-1', '--reason', 'wrong data', '--server', server.url, '--token', ops.token], {
      binary,
      env: { TASKCTL_CA: ca.certPath },
    });
    assert.is(cancel.code, 0, cancel.stderr);
    const result = await work.exited;
    assert.is(result.code, 0, result.stderr);
    const cancelled = events(result.stdout).find((e) => e.event === 'cancelled');
    assert.equal(cancelled.by, { name: 'ops', address: '127.0.0.1', route: 'v1' });
    assert.is(cancelled.reason, 'wrong data');
    const status = await runCli(['status', 'job-1', '--server', server.url, '--ca', ca.certPath, '--token', runner.token], { binary });
    assert.is(status.code, 0, status.stderr);
    assert.match(status.stdout, /job-1\s+cancelled\s.*cancelled by ops, reason: wrong data/);
    await server.process.waitFor(/info  cancelled id=job-1 reason="wrong data" by=ops from=127\.0\.0\.1 route=v1/);
  } finally {
    await server.stop();
  }
});

test('a wrong CA, a wrong name, an expired certificate: one line naming the cause; cancel and work exit 5 without retrying', async () => {
  const cases: Array<[string, Issued, string, string]> = [
    ['wrong CA', ca.issue('server-a'), other.certPath, 'its certificate is signed by an unknown authority (trust its CA with --ca or TASKCTL_CA)'],
    ['wrong name', ca.issue('server-b', { names: ['DNS:tasks.example.com'] }), ca.certPath, 'its certificate is for DNS:tasks.example.com, not 127.0.0.1'],
    ['expired', ca.issue('server-c', { days: -1 }), ca.certPath, 'its certificate has expired'],
  ];
  for (const [what, issued, trust, cause] of cases) {
    const server = await startTestServer({ tls: { cert: issued.cert, key: issued.key } });
    try {
      const line = `taskctl: ${server.url} is not trusted: ${cause}\n`;
      const cancel = await runCli(['cancel', 'a', 'b', '--server', server.url, '--ca', trust], { binary });
      assert.is(cancel.code, 5, `${what}: ${cancel.stderr}`);
      assert.is(cancel.stderr, line, what);
      const work = await runCli(['work', 'a', '--no-tui', '--server', server.url, '--ca', trust, '--', ...FOREVER], {
        binary,
      });
      assert.is(work.code, 5, `${what}: ${work.stderr}`);
      assert.is(work.stderr, line, what);
      assert.not.match(work.stdout, /disconnected|retrying/, `${what}: not retried`);
      noStackTrace(work.stdout + work.stderr);
      assert.equal(await server.canceler.find(['a', 'b']), [], `${what}: nothing reached the server`);
    } finally {
      await server.close();
    }
  }
});

test('--ca adds to the roots trusted by default, it does not replace them', async () => {
  const issued = ca.issue('server-roots');
  const server = await startTestServer({ tls: { cert: issued.cert, key: issued.key } });
  try {
    // NODE_EXTRA_CA_CERTS stands in for a CA the machine trusts already (as the system's roots are).
    const trustedByDefault = { NODE_EXTRA_CA_CERTS: ca.certPath };
    assert.is((await runCli(['cancel', 'r-1', '--server', server.url], { binary, env: trustedByDefault })).code, 0);
    const beside = await runCli(['cancel', 'r-2', '--server', server.url, '--ca', other.certPath], { binary, env: trustedByDefault });
    assert.is(beside.code, 0, beside.stderr);
    assert.is((await runCli(['cancel', 'r-3', '--server', server.url, '--ca', other.certPath], { binary })).code, 5);
  } finally {
    await server.close();
  }
});

test('SIGHUP reloads the certificate: new connections get the new one, while a watch held across the reload stays open and hears its cancel', async () => {
  const first = ca.issue('server-r1');
  const second = ca.issue('server-r2');
  const certPath = join(ca.dir, 'served.crt');
  const keyPath = join(ca.dir, 'served.key');
  copyFileSync(first.certPath, certPath);
  copyFileSync(first.keyPath, keyPath);
  const server = await serve(['--tls-cert', certPath, '--tls-key', keyPath, '--watch-timeout', '1m']);
  try {
    assert.is(await servedSerial(server.port, ca.cert), first.serial);
    const work = new CliProcess(['work', 'held-1', '--json', '--watch-timeout', '1m', '--server', server.url, '--ca', ca.certPath], { binary });
    await work.waitFor(/"event":"connected"/);
    await eventually(async () => (await getJson(`${server.url}/healthz`, ca.cert)).openWatches === 1, 'the watch to be held');
    copyFileSync(second.certPath, certPath);
    copyFileSync(second.keyPath, keyPath);
    server.process.kill('SIGHUP');
    await server.process.waitFor(new RegExp(`reloaded certificate certificate="CN=server-r2 serial ${second.serial},`));
    assert.is(await servedSerial(server.port, ca.cert), second.serial);
    assert.is((await getJson(`${server.url}/healthz`, ca.cert)).openWatches, 1, 'the held watch survived the reload');
    // A broken pair is refused and the certificate in force stays.
    copyFileSync(first.certPath, certPath);
    server.process.kill('SIGHUP');
    await server.process.waitFor(
      /reloading the certificate failed, the old one stays in force: --tls-key: the key in \S+ does not match the certificate in \S+/,
    );
    assert.is(await servedSerial(server.port, ca.cert), second.serial);
    const cancel = await runCli(['cancel', 'held-1', '--server', server.url, '--ca', ca.certPath], { binary });
    assert.is(cancel.code, 0, cancel.stderr);
    const result = await work.exited;
    assert.is(result.code, 0, result.stderr);
    assert.equal(
      events(result.stdout).map((e) => e.event),
      ['watching', 'connected', 'cancelled', 'done'],
      'one connection throughout: never dropped',
    );
  } finally {
    await server.stop();
  }
});

test('mutual TLS: --cert/--key (or TASKCTL_CERT/TASKCTL_KEY) signed by --client-ca get in; without, one line and exit 5', async () => {
  const clientCa = TestCa.create('client-ca');
  const issued = ca.issue('server-m');
  const good = clientCa.issue('worker-1', { client: true });
  const server = await serve(['--tls-cert', issued.certPath, '--tls-key', issued.keyPath, '--client-ca', clientCa.certPath]);
  try {
    const accepted = await runCli(['cancel', 'm-1', '--server', server.url, '--ca', ca.certPath, '--cert', good.certPath, '--key', good.keyPath], { binary });
    assert.is(accepted.code, 0, accepted.stderr);
    const fromEnv = await runCli(['status', 'm-1', '--server', server.url], {
      binary,
      env: { TASKCTL_CA: ca.certPath, TASKCTL_CERT: good.certPath, TASKCTL_KEY: good.keyPath },
    });
    assert.is(fromEnv.code, 0, fromEnv.stderr);
    assert.match(fromEnv.stdout, /m-1\s+cancel_requested/);
    const refused = await runCli(['cancel', 'm-2', '--server', server.url, '--ca', ca.certPath], { binary });
    assert.is(refused.code, 5);
    assert.is(
      refused.stderr,
      `taskctl: ${server.url} refused this client's certificate: this server requires a client certificate signed by its client CA, and none was sent (pass --cert and --key)\n`,
    );
    const work = await runCli(['work', 'm-3', '--no-tui', '--server', server.url, '--ca', ca.certPath], { binary });
    assert.is(work.code, 5);
    assert.match(work.stderr, /^taskctl: \S+ refused this client's certificate: .*none was sent/);
    const halfPair = await runCli(['cancel', 'm-4', '--server', server.url, '--cert', good.certPath], { binary });
    assert.is(halfPair.code, 2);
    assert.match(halfPair.stderr, /^taskctl: --key: missing; give --cert and --key together/);
  } finally {
    await server.stop();
    clientCa.remove();
  }
});

test("SIGHUP reloads the tokens: a removed token's work exits 4 at once; a malformed file is refused with its line and the old tokens stay", async () => {
  const keep = await newToken('keeper', 'worker');
  const gone = await newToken('leaver', 'worker');
  const tokens = join(ca.dir, 'tokens-rotate.txt');
  writeFileSync(tokens, `${keep.line}\n${gone.line}\n`);
  const server = await serve(['--tokens', tokens, '--watch-timeout', '1m']);
  try {
    const kept = new CliProcess(['work', 'r-kept', '--json', '--watch-timeout', '1m', '--server', server.url, '--token', keep.token], { binary });
    const leaving = new CliProcess(['work', 'r-gone', '--json', '--watch-timeout', '1m', '--server', server.url, '--token', gone.token, '--', ...FOREVER], {
      binary,
    });
    await kept.waitFor(/"event":"connected"/);
    // Its command runs (it starts once the server said r-gone is not cancelled), so revoking must stop it.
    await leaving.waitFor(/"event":"started"/);
    // A malformed file first: refused with its line number, and both tokens still work.
    writeFileSync(tokens, `${keep.line}\n${gone.line}\nops operator sha256:nothex\n`);
    server.process.kill('SIGHUP');
    await server.process.waitFor(/reloading the tokens file failed, the old one stays in force: --tokens: \S+ line 3: the token must be given as sha256:/);
    const still = await runCli(['status', 'r-gone', '--server', server.url, '--token', gone.token], { binary });
    assert.is(still.code, 0, still.stderr);
    // Now the leaver's line goes.
    writeFileSync(tokens, `${keep.line}\n`);
    server.process.kill('SIGHUP');
    await server.process.waitFor(/reloaded tokens tokens=1 watchesEnded=1/);
    const result = await leaving.exited;
    assert.is(result.code, 4, result.stderr);
    assert.is(
      result.stderr,
      `taskctl: not authorized by ${server.url}: missing or wrong token (taskctl: --token or TASKCTL_TOKEN; HTTP: Authorization: Bearer <token>)\n`,
    );
    assert.ok(
      events(result.stdout).some((e) => e.event === 'killing' && e.signal === 'SIGTERM'),
      'its command was stopped',
    );
    const refused = await runCli(['status', 'r-gone', '--server', server.url, '--token', gone.token], { binary });
    assert.is(refused.code, 4);
    assert.not.match(kept.stdout, /"event":"(refused|disconnected|done)"/, "the kept token's work goes on");
    kept.kill('SIGINT');
    assert.is((await kept.exited).code, 130);
  } finally {
    await server.stop();
  }
});

test('serve refuses to start, in one line with exit 2, on a key that does not match, an unreadable certificate, a malformed tokens file', async () => {
  const a = ca.issue('server-x');
  const b = ca.issue('server-y');
  const badTokens = join(ca.dir, 'tokens-bad.txt');
  writeFileSync(badTokens, '# fine so far\n\nops admin\n');
  const cases: Array<[string[], RegExp]> = [
    [['--tls-cert', a.certPath, '--tls-key', b.keyPath], /^taskctl: --tls-key: the key in \S+server-y\.key does not match the certificate in \S+server-x\.crt/],
    [['--tls-cert', join(ca.dir, 'missing.crt'), '--tls-key', a.keyPath], /^taskctl: --tls-cert: cannot read \S+missing\.crt: no such file/],
    [['--tls-cert', a.keyPath, '--tls-key', a.keyPath], /^taskctl: --tls-cert: \S+ holds no PEM certificate/],
    [['--tls-cert', a.certPath], /^taskctl: --tls-key: missing; give --tls-cert and --tls-key together/],
    [['--client-ca', ca.certPath], /^taskctl: --client-ca: client certificates need TLS/],
    [['--tokens', badTokens], /^taskctl: --tokens: \S+ line 3: expected "NAME ROLE sha256:HEX \[ids=PATTERN,...\]", found 2 fields/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(['serve', '--port', '0', '--store', 'memory', ...args], { binary });
    assert.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.is(result.stderr.split('\n').length, 2, `one line: ${result.stderr}`);
  }
});

test('plain HTTP on a non-loopback address warns that tokens travel in clear text; HTTPS there does not', async () => {
  const plain = await serve(['--host', '0.0.0.0', '--token', 's3cret']);
  await plain.stop();
  assert.match(plain.process.stderr, /^taskctl: warning: serving plain HTTP on 0\.0\.0\.0: tokens travel in clear text unless a TLS proxy is in front/m);
  const issued = ca.issue('server-w');
  const secure = await serve(['--host', '0.0.0.0', '--token', 's3cret', '--tls-cert', issued.certPath, '--tls-key', issued.keyPath]);
  await secure.stop();
  assert.not.match(secure.process.stderr, /warning/);
  const loopback = await serve([]);
  await loopback.stop();
  assert.not.match(loopback.process.stderr, /warning/);
});

test.run();
