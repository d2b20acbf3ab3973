// The feed behind `taskctl top`, against real servers: a listing, then events; a cut longer than the
// server's window is a reset, and the feed lists again and ends up right; a refused token stops it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TaskctlClient } from '../../src/client/client.ts';
import { TaskFeed } from '../../src/client/task-feed.ts';
import { post } from '../helpers/events.ts';
import { eventually, startTestServer } from '../helpers/server.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const states = (feed: TaskFeed) => Object.fromEntries([...feed.state.tasks.values()].map((t) => [t.id, t.status?.state]));

test('lists every task page by page, then follows events; after a cut longer than the window it lists again and is right', async () => {
  const server = await startTestServer({ eventWindow: { maxEvents: 5, maxAgeMs: 60_000 } });
  const proxy = await TcpProxy.start(server.port);
  // More than one page of the listing (1,000 a page).
  const ids = Array.from({ length: 1_500 }, (_, i) => `feed-${String(i).padStart(4, '0')}`);
  await post(`${server.url}/v1/watch`, { ids, timeout: '100ms' });
  await eventually(async () => (await server.tracker.statuses([ids.at(-1)!])).length === 1, 'every status written');
  const client = new TaskctlClient({ server: proxy.url });
  const feed = new TaskFeed(client, { backoff: { baseMs: 20, capMs: 200 } });
  const stop = new AbortController();
  const running = feed.run(stop.signal);
  try {
    await eventually(() => feed.state.tasks.size === 1_500 && feed.state.listing === undefined, 'the listing', 15_000);
    assert.equal([...feed.state.order.page(undefined, 3)], ids.slice(0, 3), 'in id order');
    await post(`${server.url}/v1/tasks/feed-0007/cancel`, { reason: 'r' });
    await eventually(() => states(feed)['feed-0007'] === 'cancel_requested', 'the event applied');
    assert.is(feed.state.tasks.get('feed-0007')!.reason, 'r');

    proxy.cut();
    // Ten changes while cut: more than the five the server keeps, so the feed cannot catch up by events.
    for (let i = 0; i < 10; i++) await post(`${server.url}/v1/tasks/feed-${String(100 + i).padStart(4, '0')}/report`, { outcome: 'succeeded', exitCode: 0 });
    await eventually(() => feed.state.connection.state === 'reconnecting', 'the cut noticed', 10_000);
    proxy.restore();
    await eventually(
      () => feed.state.connection.state === 'connected' && feed.state.listing === undefined && states(feed)['feed-0109'] === 'succeeded',
      'listed again after the reset',
      15_000,
    );
    for (let i = 0; i < 10; i++) assert.is(states(feed)[`feed-${String(100 + i).padStart(4, '0')}`], 'succeeded');
    assert.is(states(feed)['feed-0007'], 'cancel_requested');
    assert.is(feed.state.tasks.size, 1_500);
  } finally {
    stop.abort();
    await running;
    client.close();
    await proxy.close();
    await server.close();
  }
});

test('a refused token ends the feed with the reason, instead of retrying', async () => {
  const server = await startTestServer({ token: 'right' });
  const client = new TaskctlClient({ server: server.url, token: 'wrong' });
  const feed = new TaskFeed(client);
  try {
    await feed.run(new AbortController().signal);
    assert.is(feed.state.refusal?.kind, 'unauthorized');
    assert.match(feed.state.refusal!.message, 'missing or wrong token');
  } finally {
    client.close();
    await server.close();
  }
});

test('the listing shows cancels scheduled for later: beside a watched task, and as tasks of their own', async () => {
  const server = await startTestServer();
  await post(`${server.url}/v1/watch`, { ids: ['watched'], timeout: '100ms' });
  await eventually(async () => (await server.tracker.statuses(['watched'])).length === 1, 'the status written');
  await post(`${server.url}/v1/tasks/watched/cancel`, { after: '1h' });
  await post(`${server.url}/v1/tasks/only-scheduled/cancel`, { after: '2h', reason: 'window' });
  const client = new TaskctlClient({ server: server.url });
  const feed = new TaskFeed(client);
  const stop = new AbortController();
  const running = feed.run(stop.signal);
  try {
    await eventually(() => feed.state.tasks.size === 2 && feed.state.listing === undefined, 'the listing');
    assert.equal([...feed.state.order.page(undefined, 10)], ['only-scheduled', 'watched']);
    const watched = feed.state.tasks.get('watched')!;
    assert.is(watched.status?.state, 'watching');
    assert.ok(watched.scheduledAt, 'the watched task shows its schedule');
    const only = feed.state.tasks.get('only-scheduled')!;
    assert.is(only.status, undefined);
    assert.ok(only.scheduledAt);
  } finally {
    stop.abort();
    await running;
    client.close();
    await server.close();
  }
});

test.run();
