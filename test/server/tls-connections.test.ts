// Connections to a TLS server that never become HTTP: a stranger who connects and says nothing must cost the
// server no more than the handshake timeout, whatever he does afterwards, and a stopping server ends them.
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TaskctlClient } from '../../src/client/client.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import { TestCa } from '../helpers/tls.ts';

let ca: TestCa;
test.before(() => {
  ca = TestCa.create('connections-ca');
});
test.after(() => ca.remove());

/** A TCP connection that sends nothing; `closed()` says whether it has closed. */
function silentConnection(port: number): { socket: Socket; closed: () => boolean } {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let closed = false;
  socket.once('close', () => (closed = true));
  return { socket, closed: () => closed };
}

test('connections that never start the handshake are cut at the handshake timeout and stop counting, even when their client closes them first', async () => {
  const issued = ca.issue('silent-server');
  const server = await startTestServer({ tls: { cert: issued.cert, key: issued.key }, maxConnections: 5, headersTimeoutMs: 800 });
  const client = new TaskctlClient({ server: server.url, ca: ca.cert });
  try {
    const cutByServer = Array.from({ length: 5 }, () => silentConnection(server.port));
    // Half of a second stranger's connections he closes himself (the server's side then waits in CLOSE-WAIT
    // unless it closes too), the other half he leaves open.
    await eventually(() => cutByServer.every(({ closed }) => closed()), 'the server to cut the silent connections');
    const closedByStranger = Array.from({ length: 5 }, () => silentConnection(server.port));
    await eventually(() => server.openConnections() === 5, "the second stranger's connections to be counted");
    for (const { socket } of closedByStranger.slice(0, 3)) socket.end();
    await eventually(() => closedByStranger.every(({ closed }) => closed()), 'the server to close its side of every one');
    await eventually(() => server.openConnections() === 0, 'every silent connection to be gone from the count');
    await client.ping();
    assert.is((await client.cancel('after-strangers')).id, 'after-strangers');
  } finally {
    client.close();
    await server.close();
  }
});

test('a stopping server closes connections still in their handshake', async () => {
  const issued = ca.issue('stopping-server');
  const server = await startTestServer({ tls: { cert: issued.cert, key: issued.key }, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000 });
  const silent = silentConnection(server.port);
  await eventually(() => server.openConnections() === 1, 'the connection to be counted');
  await server.close();
  await eventually(() => silent.closed(), 'the handshaking connection to be closed');
});

/** Whether `openssl s_client` with `args` completes a handshake with the server at `port`, and the cipher it got. */
function handshake(port: number, args: readonly string[]): Promise<{ ok: boolean; cipher: string | undefined }> {
  return new Promise((resolve) => {
    const child = execFile(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...args],
      { timeout: 10_000 },
      (error, stdout) => {
        const cipher = /Cipher is (\S+)/.exec(stdout)?.[1];
        resolve({ ok: !error && cipher !== undefined && cipher !== '(NONE)', cipher });
      },
    );
    child.stdin!.end();
  });
}

test('TLS 1.2 is offered only with ECDHE and AEAD ciphers; TLS 1.3 always; --tls-min-version 1.3 refuses 1.2', async () => {
  const issued = ca.issue('cipher-server');
  const server = await startTestServer({ tls: { cert: issued.cert, key: issued.key } });
  const only13 = await startTestServer({ tls: { cert: issued.cert, key: issued.key, minVersion: '1.3' } });
  try {
    // Static RSA key exchange (no forward secrecy), CBC with SHA-1, ECDHE with CBC: what Node accepts by default.
    for (const cipher of ['AES128-SHA', 'AES128-GCM-SHA256', 'ECDHE-ECDSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA']) {
      assert.not.ok((await handshake(server.port, ['-tls1_2', '-cipher', `${cipher}:@SECLEVEL=0`])).ok, `${cipher} refused`);
    }
    assert.is((await handshake(server.port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'])).cipher, 'ECDHE-ECDSA-AES128-GCM-SHA256');
    assert.is((await handshake(server.port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305'])).cipher, 'ECDHE-ECDSA-CHACHA20-POLY1305');
    assert.ok((await handshake(server.port, ['-tls1_3'])).ok, 'TLS 1.3');
    assert.not.ok((await handshake(only13.port, ['-tls1_2'])).ok, 'TLS 1.2 refused with minVersion 1.3');
    assert.ok((await handshake(only13.port, ['-tls1_3'])).ok, 'TLS 1.3 with minVersion 1.3');
  } finally {
    await server.close();
    await only13.close();
  }
});

test.run();
