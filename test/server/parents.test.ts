// Parent tasks over HTTP: a real server, real long polls. A parent's cancel answers its children's watches,
// reaches children that start later, marks the known ones, and a cycle is refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { RunningServer } from '../../src/server/listen.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { eventually, startTestServer, tempDir } from '../helpers/server.ts';

let server: RunningServer;
const dir = tempDir();
test.before(async () => {
  server = await startTestServer({ watchTimeoutMs: 1_000, store: new SqliteStore(`${dir.path}/parents.db`) });
});
test.after(async () => {
  await server.close();
  dir.remove();
});

const get = (path: string) => fetch(server.url + path);
const postJson = (path: string, body: unknown) =>
  fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const watch = (body: Record<string, unknown>) => postJson('/v1/watch', { timeout: '30s', ...body });
const task = async (id: string) => (await get(`/v1/tasks/${encodeURIComponent(id)}`)).json();
const stateOf = async (id: string) => (await task(id)).status?.state;

test("a grandparent's cancel answers a child's watch: every id, and the grandparent's record", async () => {
  // step-a's own watch declares job-1 as its parent; sub-a and sub-b then name step-a.
  const stepWatch = watch({ ids: ['step-a'], parents: ['job-1'], timeout: '1s' });
  await eventually(async () => (await task('step-a')).parents?.[0] === 'job-1', 'the link step-a -> job-1');
  await stepWatch;
  const held = watch({ ids: ['sub-a', 'sub-b'], parents: ['step-a'] });
  await eventually(() => server.openWatches() === 1, 'the watch to be held');
  assert.is(server.canceler.stats().watchedIds, 4, 'sub-a, sub-b, and their two ancestors once each');
  const cancel = await postJson('/v1/tasks/job-1/cancel', { reason: 'wrong dataset' });
  const record = await cancel.json();
  const reply = await (await held).json();
  assert.equal(reply, { cancelled: ['sub-a', 'sub-b'], records: [], parent: record });
  // step-a, a parent itself, got a cancel of its own from job-1's; sub-b's record names step-a as the
  // ancestor that reached it, and passes job-1's reason on: the tree names the task that was cancelled.
  await eventually(async () => (await task('step-a')).record?.reason === 'parent job-1 cancelled', "step-a's own record");
  const own = (await task('step-a')).record;
  // ...and who made the link the cancel came down (here the anonymous caller of a server without tokens).
  const linked = { ...record.by, linkedBy: 'anonymous' };
  assert.equal(own.by, linked, "step-a's cancel names whoever cancelled job-1, through whose link");
  assert.equal((await task('sub-b')).record, {
    id: 'sub-b',
    reason: 'parent job-1 cancelled',
    parent: 'step-a',
    cancelledAt: own.cancelledAt,
    expiresAt: own.expiresAt,
    by: linked,
  });
  const status = (await task('sub-b')).status;
  assert.equal([status.state, status.cancelledBy], ['cancel_requested', linked], 'marked as cancelled by the same asker');
});

test('a client without parents gets the same answers as before: no parent keys, records of its own', async () => {
  const held = get('/v1/watch?ids=plain-1,plain-2');
  await eventually(() => server.openWatches() === 1, 'the watch to be held');
  await postJson('/v1/tasks/plain-2/cancel', { reason: 'mine' });
  const reply = await (await held).json();
  assert.equal(Object.keys(reply), ['cancelled', 'records']);
  assert.equal(reply.cancelled, ['plain-2']);
  assert.equal(Object.keys(reply.records[0]).sort(), ['by', 'cancelledAt', 'expiresAt', 'id', 'reason']);
  // The seed's watch names no parents: the parent's cancel is not its business.
  await watch({ ids: ['seed-child'], parents: ['seed-parent'], timeout: '100ms' });
  await postJson('/v1/tasks/seed-parent/cancel', {});
  assert.is(await (await get('/watch-task/seed-child')).text(), 'false');
  assert.is(await (await get('/watch-task/seed-parent')).text(), 'true');
});

test('a child that starts after its parent was cancelled is stopped at once, and marked as the walk would have', async () => {
  await postJson('/v1/tasks/job-late/cancel', { reason: 'too late' });
  const reply = await (await get('/v1/watch?ids=late-1,late-1,late-own&parents=job-late')).json();
  assert.equal(reply.cancelled, ['late-1', 'late-own']);
  assert.equal([reply.records, reply.parent.id, reply.parent.reason], [[], 'job-late', 'too late']);
  await eventually(async () => (await stateOf('late-1')) === 'cancel_requested', 'late-1 to be marked');
  const late = await task('late-1');
  assert.equal([late.cancelled, late.record.parent, late.status.cancelReason, late.parents], [true, 'job-late', 'parent job-late cancelled', ['job-late']]);
});

test("a parent's cancel marks every known running child cancel_requested, and its status lists them", async () => {
  // Children whose watches came and went: watching, but held by nobody right now.
  await watch({ ids: ['kid-1', 'kid-2', 'kid-3'], parents: ['job-2'], timeout: '100ms' });
  await postJson('/v1/tasks/kid-3/report', { outcome: 'succeeded', exitCode: 0, parents: ['job-2'] });
  await eventually(async () => (await task('job-2')).children?.tasks.length === 3, 'three children known');
  await postJson('/v1/tasks/job-2/cancel', { reason: 'stop the pipeline' });
  await eventually(async () => (await stateOf('kid-2')) === 'cancel_requested', 'kid-2 to be marked');
  const parent = await task('job-2');
  assert.equal(
    parent.children.tasks.map((t: { id: string; state: string; cancelReason?: string }) => [t.id, t.state, t.cancelReason]),
    [
      ['kid-1', 'cancel_requested', 'parent job-2 cancelled'],
      ['kid-2', 'cancel_requested', 'parent job-2 cancelled'],
      ['kid-3', 'succeeded', undefined],
    ],
  );
  assert.is(parent.children.next, undefined);
  assert.equal(
    (await task('kid-1')).status.history.map((h: { state: string }) => h.state),
    ['watching', 'cancel_requested'],
  );
});

test('a scheduled cancel of a parent reaches its children too', async () => {
  await watch({ ids: ['sched-kid'], parents: ['sched-job'], timeout: '100ms' });
  await eventually(async () => (await task('sched-job')).children !== undefined, 'the link');
  assert.is((await postJson('/v1/tasks/sched-job/cancel', { after: '300ms' })).status, 202);
  await eventually(async () => (await stateOf('sched-kid')) === 'cancel_requested', 'the child marked when the schedule fires', 5_000);
});

test('GET /v1/tasks?parent= pages through the children by id, with or without a state', async () => {
  const ids = Array.from({ length: 7 }, (_, i) => `page-kid-${i}`);
  await watch({ ids, parents: ['page-job'], timeout: '100ms' });
  await postJson('/v1/tasks/page-kid-5/report', { outcome: 'failed', exitCode: 3 });
  await eventually(async () => (await (await get('/v1/tasks?parent=page-job')).json()).tasks.length === 7, 'seven children listed');
  const first = await (await get('/v1/tasks?parent=page-job&limit=3')).json();
  assert.equal(
    first.tasks.map((t: { id: string }) => t.id),
    ids.slice(0, 3),
  );
  assert.is(first.next, 'page-kid-2');
  const rest = await (await get('/v1/tasks?parent=page-job&limit=10&after=page-kid-2')).json();
  assert.equal(
    rest.tasks.map((t: { id: string }) => t.id),
    ids.slice(3),
  );
  assert.is(rest.next, undefined);
  const failed = await (await get('/v1/tasks?parent=page-job&state=failed')).json();
  assert.equal(
    failed.tasks.map((t: { id: string }) => t.id),
    ['page-kid-5'],
  );
  assert.equal((await (await get('/v1/tasks?parent=nobodys-parent')).json()).tasks, []);
});

test('a cycle, a task its own parent, or too deep a nesting is refused with 400 invalid_parents, nothing held', async () => {
  await postJson('/v1/tasks/cyc-b/report', { outcome: 'succeeded', parents: ['cyc-a'] });
  const refusals = [
    await watch({ ids: ['cyc-a'], parents: ['cyc-b'] }),
    await get('/v1/watch?ids=cyc-x,cyc-a&parents=cyc-b'),
    await watch({ ids: ['self'], parents: ['self'] }),
    await postJson('/v1/tasks/cyc-a/report', { outcome: 'failed', parents: ['cyc-b'] }),
  ];
  for (const res of refusals) {
    assert.is(res.status, 400);
    const { error } = await res.json();
    assert.is(error.code, 'invalid_parents');
  }
  assert.is(server.openWatches(), 0);
  assert.is(await stateOf('cyc-a'), undefined, 'the refused report stored nothing');
  // deep-1 under deep-2 ... under deep-9: a task under deep-1 would have 9 levels of ancestors.
  for (let i = 1; i <= 8; i++) await postJson(`/v1/tasks/deep-${i}/report`, { outcome: 'succeeded', parents: [`deep-${i + 1}`] });
  const deep = await watch({ ids: ['deepest'], parents: ['deep-1'] });
  assert.is(deep.status, 400);
  assert.match((await deep.json()).error.message, /more than 8 levels deep/);
  const shallower = watch({ ids: ['less-deep'], parents: ['deep-2'], timeout: '100ms' });
  assert.is((await shallower).status, 200, 'eight levels are allowed');
});

test('bad parents are a 400 like any bad input', async () => {
  for (const body of [
    { ids: ['x'], parents: 'job' },
    { ids: ['x'], parents: ['bad id'] },
    { ids: ['x'], parents: Array.from({ length: 9 }, (_, i) => `p${i}`) },
  ]) {
    const res = await watch(body);
    assert.is(res.status, 400, JSON.stringify(body));
    assert.is((await res.json()).error.code, 'invalid_request');
  }
  assert.is((await get('/v1/tasks?parent=a%20b')).status, 400);
});

test('watching 1,000 ids under one parent holds 1,001 ids', async () => {
  const ids = Array.from({ length: 1_000 }, (_, i) => `many-${i}`);
  const held = watch({ ids, parents: ['many-parent'] });
  await eventually(() => server.openWatches() === 1, 'the watch to be held');
  const metrics = await (await get('/metrics')).text();
  assert.match(metrics, /^taskctl_watched_ids 1001$/m);
  await postJson('/v1/tasks/many-parent/cancel', {});
  assert.is((await (await held).json()).cancelled.length, 1_000);
});

test.run();
