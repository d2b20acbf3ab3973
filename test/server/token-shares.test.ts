// One token cannot take a whole cap: each file token may hold only its share of the watches, the watched
// ids and the event streams, so a reader or one worker fleet cannot starve everyone else.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type TokenEntry, tokenHash } from '../../src/server/auth.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

const entry = (name: string, role: TokenEntry['role'], token: string): TokenEntry => ({ name, role, sha256: tokenHash(token) });
const TOKENS = [
  entry('greedy', 'worker', 'tok-greedy'),
  entry('other', 'worker', 'tok-other'),
  entry('reader', 'reader', 'tok-reader'),
  entry('reader-2', 'reader', 'tok-reader-2'),
];

function watch(url: string, token: string, ids: readonly string[], signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/v1/watch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ids, timeout: '30s' }),
    ...(signal ? { signal } : {}),
  });
}

test('a token holds at most its share of the watches and of the watched ids; the other tokens still get theirs', async () => {
  const server = await startTestServer({ tokens: TOKENS, maxOpenWatches: 4, maxWatchedIds: 100, tokenShare: 0.5, watchTimeoutMs: 30_000 });
  const stop = new AbortController();
  try {
    const held = [watch(server.url, 'tok-greedy', ['g-1'], stop.signal), watch(server.url, 'tok-greedy', ['g-2'], stop.signal)].map((p) =>
      p.catch(() => undefined),
    );
    await eventually(() => server.openWatches() === 2, "the greedy token's two watches");
    const third = await watch(server.url, 'tok-greedy', ['g-3']);
    assert.is(third.status, 503);
    assert.is(third.headers.get('retry-after'), '1');
    assert.match((await third.json()).error.message, /this token holds its share of this server's watches \(2\)/);
    const others = watch(server.url, 'tok-other', ['o-1'], stop.signal).catch(() => undefined);
    await eventually(() => server.openWatches() === 3, 'another token still gets a watch');
    // Ids: 50 of 100 for one token, however they are held.
    const many = await watch(
      server.url,
      'tok-other',
      Array.from({ length: 60 }, (_, i) => `o-many-${i}`),
    );
    assert.is(many.status, 503);
    assert.match((await many.json()).error.message, /this token holds its share of this server's ids \(50\)/);
    stop.abort();
    await Promise.all([...held, others]);
  } finally {
    stop.abort();
    await server.close();
  }
});

test("a watch session counts against its token's share of the ids: a session past the share is not kept", async () => {
  const server = await startTestServer({ tokens: TOKENS, maxWatchedIds: 1_000, tokenShare: 0.5 });
  try {
    const ids = (prefix: string) => Array.from({ length: 300 }, (_, i) => `${prefix}-${i}`);
    const keep = async (token: string, prefix: string) => {
      const res = await fetch(`${server.url}/v1/watch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ids: ids(prefix), keep: true, timeout: '1s' }),
      });
      return { status: res.status, body: await res.json() };
    };
    const first = await keep('tok-greedy', 's1');
    assert.ok(first.body.session, 'the first session is kept');
    const second = await keep('tok-greedy', 's2');
    assert.is(second.body.session, undefined, "600 ids would pass the token's 500");
    const other = await keep('tok-other', 's3');
    assert.ok(other.body.session, 'another token still gets its own');
  } finally {
    await server.close();
  }
});

test("event streams: one reader holds at most its share of --max-event-streams, and streams take no watch's place", async () => {
  const server = await startTestServer({ tokens: TOKENS, maxOpenWatches: 1, maxEventStreams: 4, tokenShare: 0.5, watchTimeoutMs: 30_000 });
  const stop = new AbortController();
  const open = (token: string) => fetch(`${server.url}/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal: stop.signal });
  try {
    assert.is((await open('tok-reader')).status, 200);
    assert.is((await open('tok-reader')).status, 200);
    const third = await open('tok-reader');
    assert.is(third.status, 503);
    assert.match((await third.json()).error.message, /this token holds its share of this server's event streams \(2\)/);
    assert.is((await open('tok-reader-2')).status, 200, 'another reader still gets a stream');
    const workerWatch = watch(server.url, 'tok-other', ['w-1'], stop.signal).catch(() => undefined);
    await eventually(() => server.openWatches() === 1, "a worker's watch finds room beside the streams");
    stop.abort();
    await workerWatch;
  } finally {
    stop.abort();
    await server.close();
  }
});

test.run();
