// Tokens scoped to their tasks (`ids=team-a-*` on a tokens file line), against a real server: every route
// that names a task refuses one outside the scope whole (403 out_of_scope), lists and event streams leave
// the others out, and a reload that changes a scope applies to what the token holds open.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseTokensFile, type TokenEntry, tokenHash } from '../../src/server/auth.ts';
import { refusalOf } from '../helpers/tokens-file.ts';
import type { RunningServer } from '../../src/server/listen.ts';
import { SESSION_MIN_IDS } from '../../src/protocol/limits.ts';
import { follow } from '../helpers/events.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

const entry = (name: string, role: TokenEntry['role'], token: string, scope?: string[]): TokenEntry => ({
  name,
  role,
  sha256: tokenHash(token),
  ...(scope ? { scope } : {}),
});
const TOKENS: TokenEntry[] = [
  entry('a-ops', 'operator', 'tok-a-ops', ['team-a-*', 'shared']),
  entry('a-runner', 'worker', 'tok-a-runner', ['team-a-*']),
  entry('a-viewer', 'reader', 'tok-a-viewer', ['team-a-*']),
  entry('b-runner', 'worker', 'tok-b-runner', ['team-b-*']),
];
const ADMIN = 'tok-admin';

let server: RunningServer;
test.before(async () => {
  server = await startTestServer({ tokens: TOKENS, token: ADMIN, watchTimeoutMs: 30_000 });
});
test.after(() => server.close());

interface Reply {
  status: number;
  body: any;
}

async function call(method: string, path: string, token: string, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(server.url + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed };
}

function assertOutOfScope(reply: Reply, what: string, secret?: RegExp): void {
  assert.is(reply.status, 403, `${what}: ${JSON.stringify(reply.body)}`);
  assert.is(reply.body.error.code, 'out_of_scope', what);
  assert.match(reply.body.error.message, /may only touch tasks matching /, what);
  if (secret !== undefined) assert.not.match(JSON.stringify(reply.body), secret, `${what} names nothing of the other task`);
}

/** What the admin sees of a task: its status, or undefined when it has none. */
async function statusOf(id: string): Promise<any> {
  return (await call('GET', `/v1/tasks/${id}`, ADMIN)).body.status;
}

test('every route naming one task: in scope it works, outside it is 403 out_of_scope naming nothing of the other task', async () => {
  // Another team's task, with a reason and a status the scoped tokens must not learn.
  assert.is((await call('POST', '/v1/tasks/team-b-secret/cancel', ADMIN, { reason: 'b-reason-hush' })).status, 200);
  await server.canceler.cancel('team-a-done');
  const cases: Array<[string, string, string, string, unknown, number]> = [
    // [what, method, path with ID, token, body, status in scope]
    ['seed cancel', 'GET', '/cancel-task/ID', 'tok-a-ops', undefined, 200],
    ['seed watch', 'GET', '/watch-task/ID', 'tok-a-runner', undefined, 200],
    ['v1 cancel', 'POST', '/v1/tasks/ID/cancel', 'tok-a-ops', { reason: 'r' }, 200],
    ['schedule', 'POST', '/v1/tasks/ID/cancel', 'tok-a-ops', { after: '1h' }, 202],
    ['unschedule', 'POST', '/v1/tasks/ID/unschedule', 'tok-a-ops', {}, 200],
    ['GET one task', 'GET', '/v1/tasks/ID', 'tok-a-viewer', undefined, 200],
    ['report', 'POST', '/v1/tasks/ID/report', 'tok-a-runner', { outcome: 'succeeded', exitCode: 0 }, 200],
    ['children', 'GET', '/v1/tasks?parent=ID', 'tok-a-viewer', undefined, 200],
  ];
  let n = 0;
  for (const [what, method, path, token, body, ok] of cases) {
    // The seed watch answers at once on a cancelled id; the others take any id.
    const inside = what === 'seed watch' ? 'team-a-done' : `team-a-${n++}`;
    const allowed = await call(method, path.replace('ID', inside), token, body);
    assert.is(allowed.status, ok, `${what} in scope: ${JSON.stringify(allowed.body)}`);
    assertOutOfScope(await call(method, path.replace('ID', 'team-b-secret'), token, body), what, /b-reason-hush|cancelledAt/);
  }
  // Nothing was changed by the refusals: the other team's task is as its own admin left it.
  const secret = (await call('GET', '/v1/tasks/team-b-secret', ADMIN)).body;
  assert.is(secret.record.reason, 'b-reason-hush');
  assert.is(secret.status.state, 'cancel_requested');
  // `shared` is an exact pattern of a-ops: covered, but `shared-2` is not.
  assert.is((await call('POST', '/v1/tasks/shared/cancel', 'tok-a-ops', {})).status, 200);
  assertOutOfScope(await call('POST', '/v1/tasks/shared-2/cancel', 'tok-a-ops', {}), 'shared-2');
  // An unscoped token keeps today's meaning.
  assert.is((await call('POST', '/v1/tasks/anything/cancel', ADMIN, {})).status, 200);
});

test('a watch (GET, POST, a session) naming any id outside the scope is refused whole: nothing is watched, linked or written', async () => {
  const many = Array.from({ length: SESSION_MIN_IDS }, (_, i) => `team-a-w${i}`);
  const refusals: Array<[string, Promise<Reply>]> = [
    ['GET watch', call('GET', '/v1/watch?ids=team-a-g1,team-b-g1&timeout=1s', 'tok-a-runner')],
    ['POST watch', call('POST', '/v1/watch', 'tok-a-runner', { ids: ['team-a-p1', 'team-b-p1'], timeout: '1s' })],
    ['session', call('POST', '/v1/watch', 'tok-a-runner', { ids: [...many, 'team-b-s1'], keep: true, timeout: '1s' })],
    ['look (timeout 0)', call('POST', '/v1/watch', 'tok-a-runner', { ids: ['team-a-l1', 'outside'], timeout: '0s' })],
    ['parent outside', call('POST', '/v1/watch', 'tok-a-runner', { ids: ['team-a-c1'], parents: ['team-b-p1'], timeout: '1s' })],
    ['report with a parent outside', call('POST', '/v1/tasks/team-a-r1/report', 'tok-a-runner', { outcome: 'succeeded', exitCode: 0, parents: ['team-b-p2'] })],
    [
      'progress',
      call('POST', '/v1/progress', 'tok-a-runner', {
        updates: [
          { id: 'team-a-g1', text: 'half' },
          { id: 'team-b-g1', text: 'half' },
        ],
      }),
    ],
  ];
  for (const [what, reply] of refusals) assertOutOfScope(await reply, what);
  assert.is(server.openWatches(), 0);
  for (const id of ['team-a-g1', 'team-a-p1', 'team-a-w0', 'team-a-l1', 'team-a-c1', 'team-a-r1'])
    assert.is(await statusOf(id), undefined, `${id} was not written`);
  assert.not.ok((await call('GET', '/v1/tasks/team-a-c1', ADMIN)).body.parents, 'no link was stored');

  // The same in scope: a session is kept, a link between covered tasks is made.
  const session = await call('POST', '/v1/watch', 'tok-a-runner', { ids: many, keep: true, timeout: '1s' });
  assert.is(session.status, 200);
  assert.type(session.body.session, 'string');
  const polled = await call('POST', '/v1/watch', 'tok-a-runner', { session: session.body.session, remove: many, timeout: '1s' });
  assert.is(polled.status, 200);
  const linked = await call('POST', '/v1/watch', 'tok-a-runner', { ids: ['team-a-c1'], parents: ['team-a-p0'], timeout: '0s' });
  assert.is(linked.status, 200);
  await eventually(async () => JSON.stringify((await call('GET', '/v1/tasks/team-a-c1', ADMIN)).body.parents) === '["team-a-p0"]', 'the link to be stored');
});

test("a list leaves the others out, page after page: next never names another team's task; children and parents likewise", async () => {
  // Statuses for three teams, interleaved in id order.
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) for (const team of ['team-a-l', 'team-b-l', 'team-c-l']) ids.push(`${team}${String(i).padStart(2, '0')}`);
  for (const id of ids) assert.is((await call('POST', `/v1/tasks/${id}/report`, ADMIN, { outcome: 'succeeded', exitCode: 0 })).status, 200);
  // One parent with children of every team, and a team-a child whose parents span teams (linked by the admin).
  const children = ['team-a-kid1', 'team-b-kid1', 'team-a-kid2', 'team-c-kid1'];
  for (const id of children)
    assert.is((await call('POST', `/v1/tasks/${id}/report`, ADMIN, { outcome: 'succeeded', exitCode: 0, parents: ['team-a-mum', 'team-b-dad'] })).status, 200);
  for (const id of ['team-a-mum', 'team-b-dad'])
    assert.is((await call('POST', `/v1/tasks/${id}/report`, ADMIN, { outcome: 'succeeded', exitCode: 0 })).status, 200);

  const seen: string[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await call('GET', `/v1/tasks?limit=7${after ? `&after=${after}` : ''}`, 'tok-a-viewer');
    assert.is(page.status, 200);
    seen.push(...page.body.tasks.map((t: { id: string }) => t.id));
    after = page.body.next;
    if (after !== undefined) assert.match(after, /^team-a-/, 'a cursor names only a task the token may see');
    pages++;
  } while (after !== undefined && pages < 50);
  const everyA = (await listAll(ADMIN)).filter((id) => id.startsWith('team-a-'));
  assert.ok(everyA.length >= 34, `the admin sees all of team a: ${everyA.length}`);
  assert.equal(seen, everyA, 'every team-a task, in order, and nothing else');
  // A state filter too.
  const succeeded = (await call('GET', '/v1/tasks?state=succeeded&limit=1000', 'tok-a-viewer')).body.tasks.map((t: { id: string }) => t.id);
  assert.ok(succeeded.length > 0 && succeeded.every((id: string) => id.startsWith('team-a-')));

  const kids = await call('GET', '/v1/tasks?parent=team-a-mum', 'tok-a-viewer');
  assert.equal(
    kids.body.tasks.map((t: { id: string }) => t.id),
    ['team-a-kid1', 'team-a-kid2'],
  );
  const one = (await call('GET', '/v1/tasks/team-a-mum', 'tok-a-viewer')).body;
  assert.equal(
    one.children.tasks.map((t: { id: string }) => t.id),
    ['team-a-kid1', 'team-a-kid2'],
  );
  const kid = (await call('GET', '/v1/tasks/team-a-kid1', 'tok-a-viewer')).body;
  assert.equal(kid.parents, ['team-a-mum'], 'team-b-dad is not named');
  assertOutOfScope(await call('GET', '/v1/tasks?parent=team-b-dad', 'tok-a-viewer'), 'children of an outside task');
  assert.equal((await call('GET', '/v1/tasks/team-a-kid1', ADMIN)).body.parents, ['team-a-mum', 'team-b-dad'], 'the admin sees both');
});

async function listAll(token: string): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  do {
    const page = await call('GET', `/v1/tasks?limit=1000${after ? `&after=${after}` : ''}`, token);
    ids.push(...page.body.tasks.map((t: { id: string }) => t.id));
    after = page.body.next;
  } while (after !== undefined);
  return ids;
}

test('an event stream leaves the others out, live and on a resume from before (replay)', async () => {
  const since = await lastSeq();
  const live = follow(server.url, { token: 'tok-a-viewer' });
  const admin = follow(server.url, { token: ADMIN });
  try {
    // Both streams are following once each has heard a cancel made after they opened.
    let warm = 0;
    await eventually(async () => {
      await call('POST', `/v1/tasks/team-a-ev-warm${++warm}/cancel`, ADMIN, {});
      return live.events.some((e) => e.id.startsWith('team-a-ev-warm')) && admin.events.some((e) => e.id.startsWith('team-a-ev-warm'));
    }, 'both streams to follow');
    for (const id of ['team-b-ev1', 'team-a-ev1', 'other-ev1', 'team-a-ev2'])
      assert.is((await call('POST', `/v1/tasks/${id}/cancel`, ADMIN, { reason: `reason of ${id}` })).status, 200);
    await eventually(() => admin.events.some((e) => e.id === 'team-a-ev2'), 'the admin to hear the last cancel');
    await eventually(() => live.events.some((e) => e.id === 'team-a-ev2'), 'the scoped reader to hear the last cancel');
    assert.ok(admin.events.some((e) => e.id === 'team-b-ev1') && admin.events.some((e) => e.id === 'other-ev1'), 'the admin hears every team');
    assert.ok(
      live.events.every((e) => e.id.startsWith('team-a-')),
      `only team a: ${live.events.map((e) => e.id)}`,
    );
  } finally {
    await live.stop();
    await admin.stop();
  }
  // A resume from before those cancels replays only team a's.
  const replay = follow(server.url, { token: 'tok-a-viewer', since });
  try {
    await eventually(() => replay.events.some((e) => e.id === 'team-a-ev2'), 'the replay to reach the last cancel');
    assert.ok(replay.events.some((e) => e.id === 'team-a-ev1'));
    assert.ok(
      replay.events.every((e) => e.id.startsWith('team-a-')),
      `only team a replayed: ${replay.events.map((e) => e.id)}`,
    );
  } finally {
    await replay.stop();
  }
});

/** The seq of the newest event, as an unscoped stream starts from it. */
async function lastSeq(): Promise<number> {
  const res = await fetch(`${server.url}/v1/events`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const reader = res.body!.getReader();
  let text = '';
  while (!/id: (\d+)/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
  await reader.cancel();
  return Number(/id: (\d+)/.exec(text)![1]);
}

test('/v1/me shows a scoped token its patterns; an unscoped one has none', async () => {
  const me = (await call('GET', '/v1/me', 'tok-a-ops')).body;
  assert.equal(me.caller, { name: 'a-ops', role: 'operator', rights: ['watch', 'report', 'status', 'cancel', 'list'], scope: ['team-a-*', 'shared'] });
  assert.is((await call('GET', '/v1/me', ADMIN)).body.caller.scope, undefined);
});

test("a reload that narrows a scope ends the watches and streams it no longer covers, and records their tasks stopped; a revoked worker's tasks too", async () => {
  const rotating = await startTestServer({
    tokens: [
      entry('runner', 'worker', 'tok-runner', ['team-a-*']),
      entry('viewer', 'reader', 'tok-viewer', ['team-a-*']),
      entry('leaving', 'worker', 'tok-leaving'),
      entry('steady', 'reader', 'tok-steady', ['team-a-*']),
    ],
    token: ADMIN,
    watchTimeoutMs: 30_000,
  });
  const watch = (ids: string[], token: string) =>
    fetch(`${rotating.url}/v1/watch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ids, timeout: '30s' }),
    }).then(async (r) => ({ status: r.status, body: await r.json() }));
  const get = async (path: string, token = ADMIN) => (await fetch(rotating.url + path, { headers: { authorization: `Bearer ${token}` } })).json();
  const viewer = follow(rotating.url, { token: 'tok-viewer' });
  const steady = follow(rotating.url, { token: 'tok-steady' });
  try {
    const narrowed = watch(['team-a-1', 'team-a-x1'], 'tok-runner');
    const kept = watch(['team-a-x2'], 'tok-runner');
    const revoked = watch(['rev-1'], 'tok-leaving');
    await eventually(() => rotating.openWatches() === 3, 'three watches held');
    await eventually(async () => (await get('/v1/tasks/rev-1')).status?.state === 'watching', 'the watches written');
    const metrics = async () => (await fetch(`${rotating.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    await eventually(async () => /^taskctl_open_event_streams 2$/m.test(await metrics()), 'both streams open');
    // runner now reaches only team-a-x*; viewer likewise; leaving is gone; steady is unchanged.
    const ended = rotating.replaceTokens([
      entry('runner', 'worker', 'tok-runner', ['team-a-x*']),
      entry('viewer', 'reader', 'tok-viewer', ['team-a-x*']),
      entry('steady', 'reader', 'tok-steady', ['team-a-*']),
    ]);
    assert.equal(ended, { watches: 2, streams: 1, tasksStopped: 2 });
    assert.equal(await narrowed, { status: 200, body: { cancelled: [], records: [] } });
    assert.equal(await revoked, { status: 200, body: { cancelled: [], records: [] } });
    assert.is(rotating.openWatches(), 1, 'the watch still covered holds on');
    // The tasks their workers can no longer report are stopped, saying why; team-a-x1 is still reachable and stays.
    await eventually(async () => (await get('/v1/tasks/rev-1')).status?.state === 'stopped', "the revoked worker's task to be stopped");
    assert.is((await get('/v1/tasks/rev-1')).status.stoppedBy, 'token leaving revoked');
    await eventually(async () => (await get('/v1/tasks/team-a-1')).status?.state === 'stopped', 'the narrowed task to be stopped');
    assert.is((await get('/v1/tasks/team-a-1')).status.stoppedBy, 'token runner no longer covers it');
    assert.is((await get('/v1/tasks/team-a-x1')).status.state, 'watching');
    // The narrowed worker's next watch of the same ids is refused; of the covered one it is held.
    assert.is((await watch(['team-a-1', 'team-a-x1'], 'tok-runner')).status, 403);
    assert.match(await metrics(), /^taskctl_event_streams_cut_total\{reason="rescoped"\} 1$/m);
    // The viewer's stream comes back under the new scope: it hears team-a-x3, not team-a-3.
    for (const id of ['team-a-3', 'team-a-x3'])
      assert.is((await fetch(`${rotating.url}/v1/tasks/${id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } })).status, 200);
    await eventually(() => viewer.events.some((e) => e.id === 'team-a-x3'), 'the rescoped viewer to hear team-a-x3');
    await eventually(() => steady.events.some((e) => e.id === 'team-a-x3'), 'the steady viewer to hear team-a-x3');
    assert.not.ok(
      viewer.events.some((e) => e.id === 'team-a-3'),
      'the rescoped stream left team-a-3 out',
    );
    assert.ok(
      steady.events.some((e) => e.id === 'team-a-3'),
      'the unchanged stream was not cut and hears all of team a',
    );
    await rotating.canceler.cancel('team-a-x2');
    assert.equal((await kept).body.cancelled, ['team-a-x2']);
  } finally {
    await viewer.stop();
    await steady.stop();
    await rotating.close();
  }
});

test('a tokens file line may carry ids=PATTERN,...; a bad pattern is refused naming its line', () => {
  const hash = tokenHash('x');
  const [scoped, plain] = parseTokensFile(`# teams\nci worker sha256:${hash} ids=team-a-*,shared\nops operator sha256:${tokenHash('y')}\n`);
  assert.equal(scoped!.scope, ['team-a-*', 'shared']);
  assert.is(plain!.scope, undefined);
  const bad: Array<[string, number, RegExp]> = [
    [`\nci worker sha256:${hash} ids=`, 2, /ids=: a pattern is empty/],
    [`ci worker sha256:${hash} ids=a,,b`, 1, /ids=: a pattern is empty/],
    [`ci worker sha256:${hash} ids=*`, 1, /covers every task/],
    [`ci worker sha256:${hash} ids=te*m-a`, 1, /may only end a pattern/],
    [`ci worker sha256:${hash} scope=a*`, 1, /the fourth field must be ids=/],
    [`ci worker sha256:${hash} ids=a* more`, 1, /found 5 fields/],
  ];
  for (const [file, line, message] of bad) {
    const refusal = refusalOf(file);
    assert.is(refusal.line, line, file);
    assert.match(refusal.message, `line ${line}: `);
    assert.match(refusal.message, message);
  }
});

test("docs/security.md's sample of scoped tokens is one the server accepts", () => {
  const doc = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8');
  const sample = /```\n(# two teams on one server[\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(sample, 'the sample is in docs/security.md');
  assert.equal(
    parseTokensFile(sample!).map((e) => [e.name, e.scope]),
    [
      ['team-a-runners', ['team-a-*']],
      ['team-a-ops', ['team-a-*', 'nightly-report']],
      ['team-b-ops', ['team-b-*']],
      ['grafana', undefined],
    ],
  );
});

test('a task stopped through a link to a parent cancelled earlier names the token that made the link: in the watch answer, its record and its status', async () => {
  assert.is((await call('POST', '/v1/tasks/team-a-old/cancel', 'tok-a-ops', { reason: 'done with it' })).status, 200);
  // The late child: linked by a-runner to a parent a-ops cancelled before.
  const watched = await call('POST', '/v1/watch', 'tok-a-runner', { ids: ['team-a-late'], parents: ['team-a-old'], timeout: '1s' });
  assert.is(watched.status, 200);
  assert.equal(watched.body.cancelled, ['team-a-late']);
  assert.is(watched.body.parent.by.name, 'a-ops');
  assert.is(watched.body.parent.by.linkedBy, 'a-runner');
  await eventually(
    async () => (await call('GET', '/v1/tasks/team-a-late', 'tok-a-viewer')).body.status?.cancelledBy?.linkedBy === 'a-runner',
    'the status to name the linker',
  );
  const task = (await call('GET', '/v1/tasks/team-a-late', 'tok-a-viewer')).body;
  assert.is(task.status.state, 'cancel_requested');
  assert.equal(task.status.cancelledBy, { name: 'a-ops', address: '127.0.0.1', route: 'v1', linkedBy: 'a-runner' });
  assert.equal(task.record.by, task.status.cancelledBy);
  assert.is(task.record.parent, 'team-a-old');
  // A cancel of one's own (no link) has no linkedBy.
  const own = (await call('GET', '/v1/tasks/team-a-old', 'tok-a-viewer')).body;
  assert.is(own.record.by.linkedBy, undefined);
});

test('a covered task stopped through an ancestor it does not cover reads cancelled, naming nothing of that ancestor: its record, status, lists, events (live and resumed) and watch answers (held, session, late child)', async () => {
  const NEUTRAL = "an ancestor outside this token's scope was cancelled";
  // What the scoped readings must never hold: the ancestor's id, its reason, its asker, who linked.
  const SECRET = /team-b-boss|boss-hush|"by"|cancelledBy|linkedBy|"parent"/;
  // The admin (unscoped) hangs team-a-mid under another team's task; a-runner then builds under team-a-mid.
  const look = (ids: string[], parents: string[], token: string) => call('POST', '/v1/watch', token, { ids, parents, timeout: '0s' });
  assert.is((await look(['team-a-mid'], ['team-b-boss'], ADMIN)).status, 200);
  const since = await lastSeq();
  const live = follow(server.url, { token: 'tok-a-viewer' });
  try {
    let warm = 0;
    await eventually(async () => {
      await call('POST', `/v1/tasks/team-a-gap-warm${++warm}/cancel`, ADMIN, {});
      return live.events.some((e) => e.id.startsWith('team-a-gap-warm'));
    }, 'the stream to follow');
    const held = call('POST', '/v1/watch', 'tok-a-runner', { ids: ['team-a-leaf'], parents: ['team-a-mid'], timeout: '30s' });
    const many = Array.from({ length: SESSION_MIN_IDS }, (_, i) => `team-a-gap-s${i}`);
    const opened = await call('POST', '/v1/watch', 'tok-a-runner', { ids: many, parents: ['team-a-mid'], keep: true, timeout: '30s' });
    assert.is(opened.status, 200);
    const polled = call('POST', '/v1/watch', 'tok-a-runner', { session: opened.body.session, timeout: '30s' });
    await eventually(() => server.openWatches() >= 2, 'the watch and the session poll held');
    await eventually(async () => (await statusOf('team-a-leaf'))?.state === 'watching', 'the leaf watched');
    assert.is((await call('POST', '/v1/tasks/team-b-boss/cancel', ADMIN, { reason: 'boss-hush' })).status, 200);

    // The held watch and the session's poll: every id stopped, each with a neutral record of its own.
    for (const [what, reply, ids] of [
      ['held watch', await held, ['team-a-leaf']],
      ['session poll', await polled, many],
    ] as const) {
      assert.is(reply.status, 200, what);
      assert.equal([...reply.body.cancelled].sort(), [...ids].sort(), what);
      assert.is(reply.body.parent, undefined, `${what}: no ancestor's record`);
      assert.equal(reply.body.records.map((r: any) => [r.id, r.reason]).sort(), ids.map((id) => [id, NEUTRAL]).sort(), what);
      assert.not.match(JSON.stringify(reply.body), SECRET, what);
    }
    // A late child, linked after the cancel (the late-child rule): stopped at once, told the same way.
    const late = await look(['team-a-tardy'], ['team-a-mid'], 'tok-a-runner');
    assert.is(late.status, 200, JSON.stringify(late.body));
    assert.equal(late.body.cancelled, ['team-a-tardy']);
    assert.equal(
      late.body.records.map((r: any) => r.reason),
      [NEUTRAL],
    );
    assert.not.match(JSON.stringify(late.body), SECRET, 'the late child');

    // One task, as a scoped reader reads it: cancelled, the neutral reason, no asker, no ancestor.
    for (const id of ['team-a-leaf', 'team-a-mid', 'team-a-tardy']) {
      await eventually(async () => (await statusOf(id))?.cancelReason !== undefined, `${id}'s status to be written`);
      const task = (await call('GET', `/v1/tasks/${id}`, 'tok-a-viewer')).body;
      assert.is(task.cancelled, true, id);
      assert.is(task.record.reason, NEUTRAL, id);
      assert.is(task.status.state, 'cancel_requested', id);
      assert.is(task.status.cancelReason, NEUTRAL, id);
      assert.not.match(JSON.stringify(task), SECRET, id);
    }
    // Lists and children pages likewise.
    const listed = (await call('GET', '/v1/tasks?limit=1000', 'tok-a-viewer')).body.tasks.filter((t: any) => /^team-a-(leaf|mid|tardy)$/.test(t.id));
    assert.is(listed.length, 3);
    for (const task of listed) assert.equal([task.cancelReason, task.reason], [NEUTRAL, NEUTRAL], task.id);
    assert.not.match(JSON.stringify(listed), SECRET, 'the list');
    const kids = (await call('GET', '/v1/tasks?parent=team-a-mid&limit=1000', 'tok-a-viewer')).body;
    assert.ok(kids.tasks.length > 0);
    assert.not.match(JSON.stringify(kids), SECRET, 'the children page');
    // The stream, live: the stop is heard, nothing of the ancestor is.
    await eventually(() => live.events.some((e) => e.id === 'team-a-leaf' && e.status?.state === 'cancel_requested'), 'the stream to hear the stop');
    const heard = live.events.filter((e) => /^team-a-(leaf|mid|tardy)$/.test(e.id));
    assert.ok(heard.some((e) => e.status?.cancelReason === NEUTRAL));
    assert.not.match(JSON.stringify(heard), SECRET, 'the live stream');
  } finally {
    await live.stop();
  }
  // Resumed from before: the same.
  const replay = follow(server.url, { token: 'tok-a-viewer', since });
  try {
    await eventually(() => replay.events.some((e) => e.id === 'team-a-tardy' && e.status?.cancelReason !== undefined), 'the replay to reach the late child');
    const heard = replay.events.filter((e) => /^team-a-(leaf|mid|tardy|gap-s)/.test(e.id));
    assert.not.match(JSON.stringify(heard), SECRET, 'the resumed stream');
  } finally {
    await replay.stop();
  }
  // The admin still reads the whole story.
  const told = (await call('GET', '/v1/tasks/team-a-leaf', ADMIN)).body;
  assert.match(told.status.cancelReason, /^parent team-b-boss cancelled$/);
  assert.is(told.status.cancelledBy.name, 'admin');
  assert.is((await call('GET', '/v1/tasks/team-a-mid', ADMIN)).body.record.reason, 'parent team-b-boss cancelled');
});

test("a refused link tells a scoped token why without confirming parents it cannot see, or naming an ancestor outside it; the admin's message says all", async () => {
  // Running, with a parent the scoped runner cannot see (linked by the admin).
  const watch = (ids: string[], parents: string[], token: string) => call('POST', '/v1/watch', token, { ids, parents, timeout: '0s' });
  const running = call('POST', '/v1/watch', ADMIN, { ids: ['team-a-busy'], parents: ['team-a-p', 'team-b-hidden'], timeout: '30s' });
  await eventually(async () => (await statusOf('team-a-busy'))?.state === 'watching', 'the task running');
  const scoped = await watch(['team-a-busy'], ['team-a-p'], 'tok-a-runner');
  assert.is(scoped.status, 403, JSON.stringify(scoped.body));
  assert.match(scoped.body.error.message, /"team-a-busy" is already running; only the run that starts a task names its parents/);
  assert.not.match(scoped.body.error.message, /other parents|team-b/);
  const report = await call('POST', '/v1/tasks/team-a-busy/report', 'tok-a-runner', { outcome: 'succeeded', exitCode: 0, parents: ['team-a-p'] });
  assert.is(report.status, 403);
  assert.not.match(report.body.error.message, /other parents|team-b/);
  const admin = await watch(['team-a-busy'], ['team-a-p'], ADMIN);
  assert.is(admin.status, 403);
  assert.match(admin.body.error.message, /is already running with other parents/);
  assert.is((await call('POST', '/v1/tasks/team-a-busy/cancel', ADMIN, {})).status, 200);
  assert.equal((await running).body.cancelled, ['team-a-busy']);

  // A task with another token's run below it may not get new parents: the run is named to the admin only.
  const below = call('POST', '/v1/watch', ADMIN, { ids: ['team-b-kid9'], parents: ['team-a-dad9'], timeout: '30s' });
  await eventually(async () => (await statusOf('team-b-kid9'))?.state === 'watching', 'the run below');
  await eventually(async () => (await call('GET', '/v1/tasks/team-b-kid9', ADMIN)).body.parents?.[0] === 'team-a-dad9', 'its link');
  const under = await call('POST', '/v1/tasks/team-a-dad9/report', 'tok-a-runner', { outcome: 'succeeded', exitCode: 0, parents: ['team-a-up'] });
  assert.is(under.status, 403, JSON.stringify(under.body));
  assert.match(under.body.error.message, /has a task below it that another token runs; it cannot be given new parents/);
  assert.not.match(under.body.error.message, /team-b/);
  assert.is((await call('POST', '/v1/tasks/team-b-kid9/cancel', ADMIN, {})).status, 200);
  assert.equal((await below).body.cancelled, ['team-b-kid9']);
  // A run below that the scope covers is the team's own: the scoped token may.
  const ours = call('POST', '/v1/watch', ADMIN, { ids: ['team-a-kid10'], parents: ['team-a-dad10'], timeout: '30s' });
  await eventually(async () => (await call('GET', '/v1/tasks/team-a-kid10', ADMIN)).body.parents?.[0] === 'team-a-dad10', 'its link');
  const covered = await call('POST', '/v1/tasks/team-a-dad10/report', 'tok-a-runner', { outcome: 'succeeded', exitCode: 0, parents: ['team-a-up'] });
  assert.is(covered.status, 200, JSON.stringify(covered.body));
  assert.is((await call('POST', '/v1/tasks/team-a-kid10/cancel', ADMIN, {})).status, 200);
  assert.equal((await ours).body.cancelled, ['team-a-kid10']);
  // A cycle through a task outside the scope: refused, naming only what the token sent.
  assert.is((await watch(['team-b-loop'], ['team-a-loop-kid'], ADMIN)).status, 200);
  assert.is((await watch(['team-a-loop-top'], ['team-b-loop'], ADMIN)).status, 200);
  const cycle = await call('POST', '/v1/tasks/team-a-loop-kid/report', 'tok-a-runner', { outcome: 'succeeded', exitCode: 0, parents: ['team-a-loop-top'] });
  assert.is(cycle.status, 400, JSON.stringify(cycle.body));
  assert.is(cycle.body.error.code, 'invalid_parents');
  assert.not.match(cycle.body.error.message, /team-b/);
});

// What the review found the answers of cancel and report still told a scoped token, and what lists told
// that one task did not: every answer carrying a record or a status reads through the one scoped reading.
const NEUTRAL_REASON = "an ancestor outside this token's scope was cancelled";

/** An unscoped admin hangs `mid` under another team's `boss`, a-runner hangs `child` under `mid`; the admin cancels `boss`. */
async function stoppedFromOutside(boss: string, mid: string, child: string): Promise<void> {
  const look = (ids: string[], parents: string[], token: string) => call('POST', '/v1/watch', token, { ids, parents, timeout: '0s' });
  assert.is((await look([mid], [boss], ADMIN)).status, 200);
  assert.is((await look([child], [mid], 'tok-a-runner')).status, 200);
  assert.is((await call('POST', `/v1/tasks/${boss}/cancel`, ADMIN, { reason: 'boss-hush' })).status, 200);
  // The cancel's walk down gives mid (a parent) a record of its own, and marks child.
  await eventually(async () => (await call('GET', `/v1/tasks/${mid}`, ADMIN)).body.record?.reason === `parent ${boss} cancelled`, `${mid}'s own record`);
  await eventually(async () => (await statusOf(child))?.cancelReason !== undefined, `${child}'s status`);
}

test("a scoped operator's cancel of a task already stopped through an ancestor it does not cover answers the record as it reads it", async () => {
  await stoppedFromOutside('team-b-y1', 'team-a-y1mid', 'team-a-y1kid');
  const SECRET = /team-b-y1|boss-hush|"by"|linkedBy|"parent"/;
  const cancelled = await call('POST', '/v1/tasks/team-a-y1mid/cancel', 'tok-a-ops', { reason: 'x' });
  assert.is(cancelled.status, 200);
  assert.is(cancelled.body.reason, NEUTRAL_REASON);
  assert.not.match(JSON.stringify(cancelled.body), SECRET, 'the v1 cancel answer');
  // The admin's answer is the whole record.
  const told = await call('POST', '/v1/tasks/team-a-y1mid/cancel', ADMIN, { reason: 'x' });
  assert.is(told.body.reason, 'parent team-b-y1 cancelled');
  assert.is(told.body.by.name, 'admin');
});

test("a scoped worker's report of a task stopped through an ancestor it does not cover answers the status as it reads it", async () => {
  await stoppedFromOutside('team-b-y2', 'team-a-y2mid', 'team-a-y2kid');
  const SECRET = /team-b-y2|boss-hush|cancelledBy|linkedBy|"parent"/;
  const reported = await call('POST', '/v1/tasks/team-a-y2kid/report', 'tok-a-runner', { outcome: 'cancelled' });
  assert.is(reported.status, 200);
  assert.is(reported.body.state, 'cancelled');
  assert.is(reported.body.cancelReason, NEUTRAL_REASON);
  assert.not.match(JSON.stringify(reported.body), SECRET, 'the report answer');
  // The admin's reading still tells all.
  assert.is((await statusOf('team-a-y2kid')).cancelReason, 'parent team-b-y2 cancelled');
});

test("a list reads a task as GET one does: a stop through an ancestor outside the scope is hidden even when the canceller's reason names a covered task", async () => {
  const SECRET = /team-b-src|team-a-anything|cancelledBy|linkedBy|"parent"/;
  // A canceller may not word a reason as the server words a stop through an ancestor, scheduled or not...
  for (const body of [{ reason: 'parent team-a-anything cancelled' }, { reason: 'parent team-a-anything cancelled', after: '1h' }]) {
    const forged = await call('POST', '/v1/tasks/team-b-src/cancel', ADMIN, body);
    assert.is(forged.status, 400, JSON.stringify(forged.body));
    assert.match(forged.body.error.message, /how the server tells a stop through an ancestor/);
  }
  assert.is((await call('GET', '/v1/tasks/team-b-src', ADMIN)).body.cancelled, false);
  // ...but a record kept from before this rule may: the reading must not take its words for structure.
  await server.canceler.cancel('team-b-src', { reason: 'parent team-a-anything cancelled' });
  // An unscoped worker hangs team-a-sp under it: the late-child rule stops it at once.
  const late = await call('POST', '/v1/watch', ADMIN, { ids: ['team-a-sp'], parents: ['team-b-src'], timeout: '0s' });
  assert.equal(late.body.cancelled, ['team-a-sp']);
  await eventually(async () => (await statusOf('team-a-sp'))?.cancelReason !== undefined, 'the status to be written');
  const one = (await call('GET', '/v1/tasks/team-a-sp', 'tok-a-viewer')).body;
  assert.is(one.status.cancelReason, NEUTRAL_REASON);
  assert.not.match(JSON.stringify(one), SECRET, 'one task');
  const listed = (await call('GET', '/v1/tasks?limit=1000', 'tok-a-viewer')).body.tasks.find((t: { id: string }) => t.id === 'team-a-sp');
  assert.equal(listed, { id: 'team-a-sp', ...one.status, reason: one.record.reason });
  // Unscoped, the record names the ancestor it came through.
  assert.is((await call('GET', '/v1/tasks/team-a-sp', ADMIN)).body.record.parent, 'team-b-src');
});

/** The admin's GET of `path`: its JSON answer, or for an event stream that opened, its status alone (the stream is closed at once). */
async function refusedOrOpen(path: string): Promise<Reply> {
  const res = await fetch(server.url + path, { headers: { authorization: `Bearer ${ADMIN}` } });
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    await res.body?.cancel();
    return { status: res.status, body: 'an open event stream' };
  }
  return { status: res.status, body: await res.json() };
}

test('a query parameter given twice is refused on every route, and a bad percent-encoding too', async () => {
  for (const path of [
    '/v1/events?since=1&since=2',
    '/v1/events?state=lost&state=failed',
    '/v1/watch?ids=team-a-q&timeout=1s&timeout=2s',
    '/v1/tasks?state=lost&state=failed',
    '/v1/schedules?limit=1&limit=2',
  ]) {
    const reply = await refusedOrOpen(path);
    assert.is(reply.status, 400, `${path}: ${JSON.stringify(reply.body)}`);
    assert.match(reply.body.error.message, /given 2 times; give it once/, path);
  }
  for (const path of ['/v1/tasks?after=%ZZ', '/v1/tasks?after=%FF', '/v1/schedules?after=%FF', '/v1/events?ids=%FF', '/v1/watch?ids=%ZZ']) {
    const reply = await refusedOrOpen(path);
    assert.is(reply.status, 400, `${path}: ${JSON.stringify(reply.body)}`);
    assert.match(reply.body.error.message, /not valid percent-encoded UTF-8/, path);
  }
});

test.run();
