// The trust boundaries as a user meets them, from source: a stopping TLS server with strangers on it,
// reloads that must not take away what works, and credential files that are not what they claim to be.
import { execFileSync } from 'node:child_process';
import { copyFileSync, truncateSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CliProcess, FOREVER, runCli, startServe as serve } from '../helpers/cli.ts';
import { servedSerial, TestCa } from '../helpers/tls.ts';

let ca: TestCa;
test.before(() => {
  ca = TestCa.create('trust-ca');
});
test.after(() => ca.remove());

test('SIGTERM stops a TLS server with a connection still in its handshake, and says it stopped', async () => {
  const issued = ca.issue('stopping');
  const server = await serve(['--tls-cert', issued.certPath, '--tls-key', issued.keyPath]);
  const silent = connect(server.port, '127.0.0.1');
  silent.on('error', () => {});
  await new Promise((resolve) => silent.once('connect', resolve));
  const result = await server.stop();
  silent.destroy();
  assert.is(result.code, 0, result.stderr);
  assert.match(result.stderr, /info {2}stopped$/m, result.stderr);
});

test('SIGHUP with an emptied tokens file is refused, and the tokens in force stay: a running work goes on', async () => {
  const worker = JSON.parse((await runCli(['token', 'new', 'runner', '--role', 'worker', '--json'])).stdout);
  const tokens = join(ca.dir, 'tokens-empty.txt');
  writeFileSync(tokens, `${worker.line}\n`);
  const server = await serve(['--tokens', tokens, '--watch-timeout', '1m']);
  const work = new CliProcess(['work', 'keeps-running', '--json', '--watch-timeout', '1m', '--server', server.url, '--token', worker.token, '--', ...FOREVER]);
  try {
    await work.waitFor(/"event":"connected"/, 30_000);
    writeFileSync(tokens, '');
    server.process.kill('SIGHUP');
    await server.process.waitFor(/reloading the tokens file failed, the old one stays in force: --tokens: \S+ lists no token/);
    const status = await runCli(['status', 'keeps-running', '--server', server.url, '--token', worker.token]);
    assert.is(status.code, 0, status.stderr);
    assert.not.match(work.stdout, /"event":"(killing|done|refused)"/, 'the work goes on');
    // At start, an empty file is one line and exit 2.
    const refused = await runCli(['serve', '--port', '0', '--store', 'memory', '--tokens', tokens]);
    assert.is(refused.code, 2);
    assert.match(refused.stderr, /^taskctl: --tokens: \S+ lists no token/);
    assert.is(refused.stderr.split('\n').length, 2, refused.stderr);
  } finally {
    work.kill('SIGINT');
    await work.exited;
    await server.stop();
  }
});

test('SIGHUP with a bad --client-ca beside a renewed certificate: the certificate is renewed, the CA in force stays', async () => {
  const clientCa = TestCa.create('trust-client-ca');
  const first = ca.issue('renew-1');
  const second = ca.issue('renew-2');
  const certPath = join(ca.dir, 'renewing.crt');
  const keyPath = join(ca.dir, 'renewing.key');
  const caPath = join(ca.dir, 'renewing-client-ca.crt');
  copyFileSync(first.certPath, certPath);
  copyFileSync(first.keyPath, keyPath);
  copyFileSync(clientCa.certPath, caPath);
  const server = await serve(['--tls-cert', certPath, '--tls-key', keyPath, '--client-ca', caPath]);
  const good = clientCa.issue('renew-client', { client: true });
  try {
    copyFileSync(second.certPath, certPath);
    copyFileSync(second.keyPath, keyPath);
    writeFileSync(caPath, 'not a certificate\n');
    server.process.kill('SIGHUP');
    await server.process.waitFor(/reloading the client CA failed, the old one stays in force: --client-ca: \S+ holds no PEM certificate/);
    await server.process.waitFor(new RegExp(`reloaded certificate certificate="CN=renew-2 serial ${second.serial},`));
    assert.is(await servedSerial(server.port, ca.cert), second.serial);
    const accepted = await runCli(['cancel', 'renewed', '--server', server.url, '--ca', ca.certPath, '--cert', good.certPath, '--key', good.keyPath]);
    assert.is(accepted.code, 0, `the client CA in force still lets its clients in: ${accepted.stderr}`);
  } finally {
    await server.stop();
    clientCa.remove();
  }
});

test('credential files: a device, a pipe, a folder and a 2 GB sparse file are each one line and exit 2, read no further', async () => {
  const sparse = join(ca.dir, 'sparse.pem');
  writeFileSync(sparse, '');
  truncateSync(sparse, 2 * 1024 * 1024 * 1024);
  const fifo = join(ca.dir, 'pipe.pem');
  execFileSync('mkfifo', [fifo]);
  const issued = ca.issue('files');
  const cases: Array<[string[], RegExp]> = [
    [['cancel', 'x', '--server', 'https://127.0.0.1:1', '--ca', '/dev/zero'], /^taskctl: --ca: cannot read \/dev\/zero: not a regular file /],
    [['cancel', 'x', '--server', 'https://127.0.0.1:1', '--ca', sparse], /^taskctl: --ca: cannot read \S+sparse\.pem: larger than 1 MB/],
    [
      ['cancel', 'x', '--server', 'https://127.0.0.1:1', '--cert', fifo, '--key', issued.keyPath],
      /^taskctl: --cert: cannot read \S+pipe\.pem: not a regular file /,
    ],
    [['cancel', 'x', '--server', 'https://127.0.0.1:1', '--ca', ca.dir], /^taskctl: --ca: cannot read \S+: is a folder /],
    [['serve', '--port', '0', '--store', 'memory', '--tokens', '/dev/zero'], /^taskctl: --tokens: cannot read \/dev\/zero: not a regular file /],
    [
      ['serve', '--port', '0', '--store', 'memory', '--tls-cert', sparse, '--tls-key', issued.keyPath],
      /^taskctl: --tls-cert: cannot read \S+sparse\.pem: larger than 1 MB/,
    ],
  ];
  for (const [args, message] of cases) {
    const result = await runCli(args);
    assert.is(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message, result.stderr);
    assert.is(result.stderr.split('\n').length, 2, `one line: ${result.stderr}`);
  }
});

test.run();
