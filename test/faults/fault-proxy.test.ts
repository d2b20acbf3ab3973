import { once } from 'node:events';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FaultProxy } from '../helpers/fault-proxy.ts';
import { eventually } from '../helpers/server.ts';

let server: Server;
/** Requests the server has answered, by path. */
const answered: string[] = [];

test.before(async () => {
  server = createServer((req, res) => {
    answered.push(req.url!);
    res.end(`answer to ${req.url}`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});

test.after(() => {
  server.closeAllConnections();
  server.close();
});

const port = () => (server.address() as AddressInfo).port;
/** A request on a connection of its own; resolves with the body, or rejects with the network's error. */
const get = (url: string) => fetch(url, { headers: { connection: 'close' } }).then((response) => response.text());

test('fault proxy: passes bytes both ways until told otherwise', async () => {
  const proxy = await FaultProxy.start(port());
  try {
    assert.is(await get(`${proxy.url}/plain`), 'answer to /plain');
    assert.is(proxy.accepted, 1);
  } finally {
    await proxy.close();
  }
});

test('fault proxy: a cut refuses connections until restored', async () => {
  const proxy = await FaultProxy.start(port());
  try {
    proxy.cut();
    await get(`${proxy.url}/while-cut`).then(
      () => assert.unreachable('a cut link answered'),
      (error: Error) => assert.instance(error, TypeError),
    );
    assert.not.ok(answered.includes('/while-cut'), 'the server never saw the request');
    proxy.restore();
    assert.is(await get(`${proxy.url}/after-cut`), 'answer to /after-cut');
  } finally {
    await proxy.close();
  }
});

test('fault proxy: held one way, the server answers but the bytes wait in the proxy, and arrive once restored', async () => {
  const proxy = await FaultProxy.start(port());
  try {
    proxy.hold('down');
    let body: string | undefined;
    const reply = get(`${proxy.url}/held`).then((text) => (body = text));
    await eventually(() => answered.includes('/held') && proxy.queuedBytes > 0, 'the answer written and held');
    assert.is(body, undefined, 'held bytes are in the proxy, so they cannot have reached the client');
    proxy.restore();
    assert.is(await reply, 'answer to /held');
    assert.is(proxy.queuedBytes, 0);
  } finally {
    await proxy.close();
  }
});

test('fault proxy: held up, the request waits and the server sees nothing until restored', async () => {
  const proxy = await FaultProxy.start(port());
  try {
    proxy.hold('up');
    const reply = get(`${proxy.url}/held-up`);
    await eventually(() => proxy.queuedBytes > 0, 'the request held');
    assert.not.ok(answered.includes('/held-up'), 'the server has not seen the held request');
    proxy.restore();
    assert.is(await reply, 'answer to /held-up');
  } finally {
    await proxy.close();
  }
});

test('fault proxy: slowed, bytes queue for their delay and arrive whole', async () => {
  const proxy = await FaultProxy.start(port());
  try {
    proxy.slow(200);
    const reply = get(`${proxy.url}/slow`);
    await eventually(() => proxy.queuedBytes > 0, 'bytes waiting out their delay');
    assert.is(await reply, 'answer to /slow');
  } finally {
    await proxy.close();
  }
});

test("fault proxy: a dropped reply is the server's answer lost on the way: the server answered, the client sees a reset", async () => {
  const proxy = await FaultProxy.start(port());
  try {
    proxy.dropReplies(1);
    await get(`${proxy.url}/dropped`).then(
      () => assert.unreachable('a dropped reply arrived'),
      (error: Error) => assert.instance(error, TypeError),
    );
    assert.ok(answered.includes('/dropped'), 'the server did answer');
    assert.is(proxy.dropped, 1);
    assert.is(await get(`${proxy.url}/next`), 'answer to /next', 'only the asked number of replies is lost');
  } finally {
    await proxy.close();
  }
});

test('fault proxy: in front of several servers, connections go to each in turn', async () => {
  const other = createServer((_req, res) => res.end('the other server'));
  other.listen(0, '127.0.0.1');
  await once(other, 'listening');
  const proxy = await FaultProxy.start([port(), (other.address() as AddressInfo).port]);
  try {
    const bodies = [await get(`${proxy.url}/turn`), await get(`${proxy.url}/turn`)];
    assert.equal(bodies.sort(), ['answer to /turn', 'the other server']);
  } finally {
    await proxy.close();
    other.closeAllConnections();
    other.close();
  }
});

test.run();
