import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseTokensFile, type TokenEntry, tokenHash } from '../../src/server/auth.ts';
import { refusalOf } from '../helpers/tokens-file.ts';
import type { RunningServer } from '../../src/server/listen.ts';
import { follow, post } from '../helpers/events.ts';
import { rejects } from '../helpers/rejects.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

const TOKENS = { worker: 'tok-worker', operator: 'tok-operator', reader: 'tok-reader', admin: 'tok-admin' } as const;
const entry = (name: string, role: TokenEntry['role'], token: string): TokenEntry => ({ name, role, sha256: tokenHash(token) });
const FILE: TokenEntry[] = [
  entry('w', 'worker', TOKENS.worker),
  entry('o', 'operator', TOKENS.operator),
  entry('r', 'reader', TOKENS.reader),
  entry('a', 'admin', TOKENS.admin),
];

let server: RunningServer;
test.before(async () => {
  server = await startTestServer({ tokens: FILE, token: 'single-admin', watchTimeoutMs: 30_000 });
  // Watches on a cancelled id answer at once, so every watch route can be called without waiting.
  await server.canceler.cancel('done');
});
test.after(() => server.close());

type Caller = keyof typeof TOKENS | 'single' | 'none' | 'wrong';
const bearer: Record<Caller, string | undefined> = { ...TOKENS, single: 'single-admin', none: undefined, wrong: 'tok-nobody' };

let n = 0;
interface Case {
  readonly name: string;
  readonly request: () => { method: string; path: string; body?: unknown };
  /** The status with the right, and the roles that have it. */
  readonly ok: number;
  readonly allowed: ReadonlyArray<keyof typeof TOKENS>;
  /** What a 403 says is needed. */
  readonly needs?: string;
}

// Written out by hand from the issue, not derived from ROLE_RIGHTS, so a wrong mapping there fails here.
const CASES: Case[] = [
  {
    name: 'seed cancel',
    request: () => ({ method: 'GET', path: `/cancel-task/c${n++}` }),
    ok: 200,
    allowed: ['operator', 'admin'],
    needs: 'the operator role',
  },
  {
    name: 'seed watch',
    request: () => ({ method: 'GET', path: '/watch-task/done' }),
    ok: 200,
    allowed: ['worker', 'operator', 'admin'],
    needs: 'the worker or operator role',
  },
  {
    name: 'v1 cancel',
    request: () => ({ method: 'POST', path: `/v1/tasks/c${n++}/cancel`, body: { reason: 'r' } }),
    ok: 200,
    allowed: ['operator', 'admin'],
    needs: 'the operator role',
  },
  {
    name: 'scheduled cancel',
    request: () => ({ method: 'POST', path: `/v1/tasks/c${n++}/cancel`, body: { after: '1h' } }),
    ok: 202,
    allowed: ['operator', 'admin'],
    needs: 'the operator role',
  },
  { name: 'status', request: () => ({ method: 'GET', path: '/v1/tasks/done' }), ok: 200, allowed: ['worker', 'operator', 'reader', 'admin'] },
  {
    name: 'list',
    request: () => ({ method: 'GET', path: '/v1/tasks' }),
    ok: 200,
    allowed: ['operator', 'reader', 'admin'],
    needs: 'the operator or reader role',
  },
  {
    name: 'report',
    request: () => ({ method: 'POST', path: `/v1/tasks/r${n++}/report`, body: { outcome: 'succeeded', exitCode: 0 } }),
    ok: 200,
    allowed: ['worker', 'operator', 'admin'],
    needs: 'the worker or operator role',
  },
  {
    name: 'GET watch',
    request: () => ({ method: 'GET', path: '/v1/watch?ids=done&timeout=1s' }),
    ok: 200,
    allowed: ['worker', 'operator', 'admin'],
    needs: 'the worker or operator role',
  },
  {
    name: 'POST watch',
    request: () => ({ method: 'POST', path: '/v1/watch', body: { ids: ['done'], timeout: '1s' } }),
    ok: 200,
    allowed: ['worker', 'operator', 'admin'],
    needs: 'the worker or operator role',
  },
  { name: 'metrics', request: () => ({ method: 'GET', path: '/metrics' }), ok: 200, allowed: ['reader', 'admin'], needs: 'the reader role' },
];

async function call(request: { method: string; path: string; body?: unknown }, token: string | undefined): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(server.url + request.path, {
    method: request.method,
    headers,
    ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
  });
  return { status: res.status, body: await res.text() };
}

test('every route with every role: the right gets through, a valid token without it gets 403 naming the role, no valid token gets 401', async () => {
  for (const c of CASES) {
    for (const caller of Object.keys(bearer) as Caller[]) {
      const { status, body } = await call(c.request(), bearer[caller]);
      const where = `${c.name} as ${caller}`;
      if (caller === 'none' || caller === 'wrong') {
        assert.is(status, 401, where);
        assert.is(JSON.parse(body).error.code, 'unauthorized', where);
      } else if (caller === 'single' || c.allowed.includes(caller)) {
        assert.is(status, c.ok, `${where}: ${body}`);
      } else {
        assert.is(status, 403, where);
        const error = JSON.parse(body).error;
        assert.is(error.code, 'forbidden', where);
        assert.match(error.message, `(role ${caller})`, where);
        assert.match(error.message, `needs ${c.needs}`, where);
      }
    }
  }
});

test('/ping and /healthz stay open to all', async () => {
  for (const token of [undefined, 'tok-nobody', TOKENS.reader]) {
    assert.is((await call({ method: 'GET', path: '/ping' }, token)).status, 200);
    assert.is((await call({ method: 'GET', path: '/healthz' }, token)).status, 200);
  }
});

/** A POST /v1/watch held open with `token`; resolves with the answer. */
function holdWatch(id: string, token: string): Promise<{ status: number; body: string }> {
  return call({ method: 'POST', path: '/v1/watch', body: { ids: [id], timeout: '30s' } }, token);
}

test('replacing the tokens: a removed token gets 401 at once and its open watches answer "not cancelled"; the others hold on', async () => {
  const rotating = await startTestServer({
    tokens: [entry('old', 'worker', 'tok-old'), entry('kept', 'worker', 'tok-kept'), entry('demoted', 'operator', 'tok-demoted')],
    token: 'single',
    watchTimeoutMs: 30_000,
  });
  try {
    const call2 = (path: string, token: string) => fetch(rotating.url + path, { headers: { authorization: `Bearer ${token}` } });
    const watch = (id: string, token: string) =>
      fetch(`${rotating.url}/v1/watch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ids: [id], timeout: '30s' }),
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const old = watch('t-old', 'tok-old');
    const kept = watch('t-kept', 'tok-kept');
    const demoted = watch('t-demoted', 'tok-demoted');
    const single = watch('t-single', 'single');
    await eventually(() => rotating.openWatches() === 4, 'four watches held');
    // "old" goes; "demoted" stays but as a reader, which may not watch; "kept" stays as it was.
    const ended = rotating.replaceTokens([entry('kept', 'worker', 'tok-kept'), entry('demoted', 'reader', 'tok-demoted'), entry('new', 'worker', 'tok-new')]);
    assert.equal(ended, { watches: 2, streams: 0, tasksStopped: 2 });
    assert.is(rotating.openWatches(), 2, 'ended there and then, not at the watch timeout');
    assert.equal(await old, { status: 200, body: { cancelled: [], records: [] } });
    assert.equal(await demoted, { status: 200, body: { cancelled: [], records: [] } });
    await eventually(() => rotating.openWatches() === 2, 'the kept token and the --token admin still hold theirs');
    assert.is((await call2('/v1/tasks/t-old', 'tok-old')).status, 401);
    assert.is((await call2('/v1/watch?ids=x&timeout=1s', 'tok-demoted')).status, 403);
    assert.is((await call2('/v1/tasks/t-new', 'tok-new')).status, 200, 'a token added by the reload works');
    await rotating.canceler.cancel('t-kept');
    assert.equal((await kept).body.cancelled, ['t-kept']);
    await rotating.canceler.cancel('t-single');
    assert.equal((await single).body.cancelled, ['t-single']);
  } finally {
    await rotating.close();
  }
});

test('seed watches of a removed token end too, answering "false"', async () => {
  const rotating = await startTestServer({ tokens: [entry('old', 'worker', 'tok-old')], watchTimeoutMs: 30_000 });
  try {
    const seed = fetch(`${rotating.url}/watch-task/s1`, { headers: { authorization: 'Bearer tok-old' } }).then((r) => r.text());
    await eventually(() => rotating.openWatches() === 1, 'the seed watch held');
    assert.equal(rotating.replaceTokens([]), { watches: 1, streams: 0, tasksStopped: 1 });
    // Ended there and then, not at the watch timeout.
    assert.is(rotating.openWatches(), 0);
    assert.is(await seed, 'false');
  } finally {
    await rotating.close();
  }
});

test("replacing the tokens: the event stream of a removed reader ends there and then, and its client is refused when it comes back; a kept reader's stream goes on", async () => {
  const rotating = await startTestServer({ tokens: [entry('gone', 'reader', 'tok-gone'), entry('stays', 'reader', 'tok-stays')], token: 'single' });
  const gone = follow(rotating.url, { token: 'tok-gone' });
  const stays = follow(rotating.url, { token: 'tok-stays' });
  try {
    const metrics = async () => (await fetch(`${rotating.url}/metrics`, { headers: { authorization: 'Bearer tok-stays' } })).text();
    await eventually(async () => /^taskctl_open_event_streams 2$/m.test(await metrics()), 'both streams to be open');
    assert.equal(rotating.replaceTokens([entry('stays', 'reader', 'tok-stays')]), { watches: 0, streams: 1, tasksStopped: 0 });
    await rejects(gone.done, /not authorized/);
    assert.is(gone.events.length, 0);
    assert.is(await post(`${rotating.url}/v1/tasks/after-revoke/cancel`, { reason: 'secret reason' }, 'single'), 200);
    await eventually(() => stays.events.some((e) => e.id === 'after-revoke'), 'the kept reader to hear the cancel');
    assert.is(gone.events.length, 0, 'the removed reader heard nothing after the reload');
    assert.match(await metrics(), /^taskctl_event_streams_cut_total\{reason="revoked"\} 1$/m);
  } finally {
    await gone.stop();
    await stays.stop();
    await rotating.close();
  }
});

test('a tokens file: comments and blank lines skipped, hashes lower-cased, a name may repeat; a bad line is refused with its number', () => {
  const hash = tokenHash('x');
  const text = `# who may do what\n\nci worker sha256:${hash.toUpperCase()}\n  ops   operator   sha256:${tokenHash('y')}  \nci worker sha256:${tokenHash('z')}\r\n`;
  assert.equal(
    parseTokensFile(text).map((e) => [e.name, e.role, e.sha256]),
    [
      ['ci', 'worker', hash],
      ['ops', 'operator', tokenHash('y')],
      ['ci', 'worker', tokenHash('z')],
    ],
  );
  const bad: Array<[string, number, RegExp]> = [
    [`ci worker sha256:${hash}\nops operator\n`, 2, /expected "NAME ROLE sha256:HEX \[ids=PATTERN,...\]", found 2 fields/],
    [`\n\nci boss sha256:${hash}`, 3, /unknown role "boss"/],
    [`ci worker ${hash}`, 1, /sha256:<64 hex digits>/],
    [`ci worker sha256:${hash.slice(1)}`, 1, /sha256:<64 hex digits>/],
    [`c\u001b[2Ji worker sha256:${hash}`, 1, /the name must be/],
    [`a worker sha256:${hash}\nb reader sha256:${hash}`, 2, /listed twice/],
  ];
  for (const [file, line, message] of bad) {
    const refusal = refusalOf(file);
    assert.is(refusal.line, line, file);
    assert.match(refusal.message, `line ${line}: `);
    assert.match(refusal.message, message);
  }
});

test('a tokens file that lists no token (empty, or only comments and blank lines) is refused whole', () => {
  for (const text of ['', '\n\n', '# every token removed\n   \n']) {
    const refusal = refusalOf(text);
    assert.is(refusal.line, undefined);
    assert.match(refusal.message, /^lists no token/);
  }
});

test("docs/security.md's sample tokens file is one the server accepts", () => {
  const doc = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8');
  const sample = /```\n(# \/etc\/taskctl\/tokens[\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(sample, 'the sample is in docs/security.md');
  assert.equal(
    parseTokensFile(sample!).map((e) => [e.name, e.role]),
    [
      ['gpu-runners', 'worker'],
      ['ci-runners', 'worker'],
      ['release-team', 'operator'],
      ['grafana', 'reader'],
    ],
  );
});

test('who cancelled: the token name, the client address and the route are recorded, shown by GET /v1/tasks/:id; the first cancel keeps its asker', async () => {
  const v1 = await call({ method: 'POST', path: '/v1/tasks/who-1/cancel', body: { reason: 'first' } }, TOKENS.operator);
  assert.equal(JSON.parse(v1.body).by, { name: 'o', address: '127.0.0.1', route: 'v1' });
  await call({ method: 'GET', path: '/cancel-task/who-1' }, 'single-admin');
  const task = JSON.parse((await call({ method: 'GET', path: '/v1/tasks/who-1' }, TOKENS.reader)).body);
  assert.equal(task.record.by, { name: 'o', address: '127.0.0.1', route: 'v1' }, 'the second cancel (by admin) did not replace the first');
  await eventually(
    async () => JSON.parse((await call({ method: 'GET', path: '/v1/tasks/who-1' }, TOKENS.reader)).body).status?.cancelledBy?.name === 'o',
    'the status to name the asker',
  );
  await call({ method: 'GET', path: '/cancel-task/who-2' }, 'single-admin');
  assert.equal(JSON.parse((await call({ method: 'GET', path: '/v1/tasks/who-2' }, TOKENS.reader)).body).record.by, {
    name: 'admin',
    address: '127.0.0.1',
    route: 'seed',
  });
  const listed = JSON.parse((await call({ method: 'GET', path: '/v1/tasks' }, TOKENS.reader)).body).tasks;
  assert.equal(listed.find((t: { id: string }) => t.id === 'who-2').cancelledBy, { name: 'admin', address: '127.0.0.1', route: 'seed' });
});

test('who cancelled on a server without auth is "anonymous"', async () => {
  const open = await startTestServer();
  try {
    const record = await (await fetch(`${open.url}/v1/tasks/anon/cancel`, { method: 'POST' })).json();
    assert.equal(record.by, { name: 'anonymous', address: '127.0.0.1', route: 'v1' });
  } finally {
    await open.close();
  }
});

test('a schedule remembers who made it; a worker deadline is recorded as route "deadline" when it comes due', async () => {
  const clocked = await startTestServer({ tokens: FILE });
  try {
    const schedule = (id: string, reason: string) =>
      fetch(`${clocked.url}/v1/tasks/${id}/cancel`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS.operator}`, 'content-type': 'application/json' },
        body: JSON.stringify({ after: '100ms', reason }),
      });
    assert.is((await schedule('sch-1', 'nightly cleanup')).status, 202);
    assert.is((await schedule('sch-2', 'deadline: work --timeout 2h passed')).status, 202);
    await eventually(async () => (await clocked.canceler.find(['sch-1', 'sch-2'])).length === 2, 'both schedules to fire');
    const [one, two] = await Promise.all([clocked.canceler.find(['sch-1']), clocked.canceler.find(['sch-2'])]);
    assert.equal(one[0]!.by, { name: 'o', address: '127.0.0.1', route: 'scheduled' });
    assert.equal(two[0]!.by, { name: 'o', address: '127.0.0.1', route: 'deadline' });
  } finally {
    await clocked.close();
  }
});

test.run();
