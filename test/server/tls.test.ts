import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ClientError, TaskctlClient } from '../../src/client/client.ts';
import type { RunningServer } from '../../src/server/listen.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import { servedSerial, TestCa } from '../helpers/tls.ts';

let ca: TestCa;
let other: TestCa;
test.before(() => {
  ca = TestCa.create('taskctl-test-ca');
  other = TestCa.create('some-other-ca');
});
test.after(() => {
  ca.remove();
  other.remove();
});

async function failure(promise: Promise<unknown>): Promise<ClientError> {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, ClientError);
    return error as ClientError;
  }
  throw new Error('expected the request to fail');
}

test('HTTPS on the same routes; a chain in the certificate file is sent, so a client trusting only the root accepts it', async () => {
  const intermediate = ca.issue('intermediate', { ca: true });
  const leaf = ca.issue('chained-server', {}, intermediate);
  const server = await startTestServer({ tls: { cert: leaf.cert + intermediate.cert, key: leaf.key } });
  const client = new TaskctlClient({ server: server.url, ca: ca.cert });
  try {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    await client.ping();
    const watch = client.watch(['tls-1'], { timeoutMs: 5_000 });
    await eventually(() => server.openWatches() === 1, 'the watch to be held');
    assert.is((await client.cancel('tls-1', { reason: 'over TLS' })).reason, 'over TLS');
    assert.equal((await watch).cancelled, ['tls-1']);
    // Without the intermediate in the file, the same leaf cannot be verified: the chain is what made it work.
    const bare = await startTestServer({ tls: { cert: leaf.cert, key: leaf.key } });
    const refused = new TaskctlClient({ server: bare.url, ca: ca.cert });
    assert.is((await failure(refused.ping())).kind, 'untrusted');
    refused.close();
    await bare.close();
  } finally {
    client.close();
    await server.close();
  }
});

test('trust failures are their own kind, fatal, and one line naming the cause: unknown CA, another name, expired', async () => {
  const cases: Array<[string, { cert: string; key: string }, string, RegExp]> = [
    [
      'unknown CA',
      ca.issue('good-server'),
      other.cert,
      /is not trusted: its certificate is signed by an unknown authority \(trust its CA with --ca or TASKCTL_CA\)$/,
    ],
    [
      'wrong name',
      ca.issue('misnamed-server', { names: ['DNS:taskctl.example.com'] }),
      ca.cert,
      /is not trusted: its certificate is for DNS:taskctl\.example\.com, not 127\.0\.0\.1$/,
    ],
    ['expired', ca.issue('expired-server', { days: -1 }), ca.cert, /is not trusted: its certificate has expired$/],
  ];
  for (const [what, issued, trust, message] of cases) {
    const server = await startTestServer({ tls: { cert: issued.cert, key: issued.key } });
    const client = new TaskctlClient({ server: server.url, ca: trust });
    try {
      const error = await failure(client.cancel('never'));
      assert.is(error.kind, 'untrusted', what);
      assert.ok(error.fatal, what);
      assert.match(error.message, message, what);
      assert.not.match(error.message, /\n/, what);
      assert.equal(await server.canceler.find(['never']), [], `${what}: nothing was sent`);
    } finally {
      client.close();
      await server.close();
    }
  }
});

test('without --ca, a private CA is not trusted (the system roots are); a plain http:// client to HTTPS fails without trusting anything', async () => {
  const issued = ca.issue('private-server');
  const server = await startTestServer({ tls: { cert: issued.cert, key: issued.key } });
  const client = new TaskctlClient({ server: server.url });
  const plain = new TaskctlClient({ server: server.url.replace('https:', 'http:') });
  try {
    assert.is((await failure(client.ping())).kind, 'untrusted');
    assert.is((await failure(plain.ping())).kind, 'unreachable');
  } finally {
    client.close();
    plain.close();
    await server.close();
  }
});

test('mutual TLS: a client certificate from the client CA is accepted; none, or one from another CA, is refused on every route with a reason', async () => {
  const clients = TestCa.create('client-ca');
  const issued = ca.issue('mtls-server');
  const server = await startTestServer({ tls: { cert: issued.cert, key: issued.key, clientCa: clients.cert }, token: 's3cret' });
  const good = clients.issue('worker-7', { client: true });
  const foreign = other.issue('intruder', { client: true });
  const withCert = new TaskctlClient({ server: server.url, ca: ca.cert, token: 's3cret', cert: good.cert, key: good.key });
  const without = new TaskctlClient({ server: server.url, ca: ca.cert, token: 's3cret' });
  const wrongCa = new TaskctlClient({ server: server.url, ca: ca.cert, token: 's3cret', cert: foreign.cert, key: foreign.key });
  try {
    await withCert.ping();
    assert.ok((await withCert.cancel('m-1')).id === 'm-1');
    for (const [client, why] of [
      [without, /and none was sent \(pass --cert and --key\)$/],
      [wrongCa, /and refused the one sent: it is signed by another CA \(UNABLE_TO_\w+\)$/],
    ] as const) {
      for (const request of [() => client.ping(), () => client.cancel('m-2'), () => client.task('m-1')]) {
        const error = await failure(request());
        assert.is(error.kind, 'untrusted');
        assert.ok(error.fatal);
        assert.match(error.message, `${server.url} refused this client's certificate: this server requires a client certificate signed by its client CA`);
        assert.match(error.message, why);
      }
    }
    assert.equal(await server.canceler.find(['m-2']), [], 'nothing was cancelled without a certificate');
    // The refusal comes before the token is looked at: a certificate is not a way around it, nor the reverse.
    const noToken = new TaskctlClient({ server: server.url, ca: ca.cert, cert: good.cert, key: good.key });
    assert.is((await failure(noToken.cancel('m-3'))).kind, 'unauthorized');
    noToken.close();
  } finally {
    for (const client of [withCert, without, wrongCa]) client.close();
    await server.close();
    clients.remove();
  }
});

test('reloading the certificate: new connections get the new one, a watch held across the reload stays and hears its cancel', async () => {
  const first = ca.issue('reload-1');
  const second = ca.issue('reload-2');
  const server = await startTestServer({ tls: { cert: first.cert, key: first.key }, watchTimeoutMs: 30_000 });
  const client = new TaskctlClient({ server: server.url, ca: ca.cert });
  try {
    assert.is(await servedSerial(server.port, ca.cert), first.serial);
    const held = client.watch(['held'], { timeoutMs: 30_000 });
    await eventually(() => server.openWatches() === 1, 'the watch to be held');
    assert.throws(() => server.reloadTls({ cert: first.cert, key: second.key }), /key values mismatch/);
    assert.is(await servedSerial(server.port, ca.cert), first.serial, 'a bad pair changed nothing');
    server.reloadTls({ cert: second.cert, key: second.key });
    assert.is(await servedSerial(server.port, ca.cert), second.serial);
    assert.is(server.openWatches(), 1, 'the held watch is still held');
    await server.canceler.cancel('held');
    assert.equal((await held).cancelled, ['held']);
  } finally {
    client.close();
    await server.close();
  }
});

test.run();
