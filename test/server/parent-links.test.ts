// Parent links as an attacker with a worker token would use them: to get another worker's running task
// cancelled, to fail its watch by nesting links above it, to store chains deeper than the limit, or cycles
// by racing two links. Each is refused on the link being made, and never by failing someone else's watch.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ServerObserver } from '../../src/server/app.ts';
import { type TokenEntry, tokenHash } from '../../src/server/auth.ts';
import type { RunningServer } from '../../src/server/listen.ts';
import { MAX_PARENT_DEPTH } from '../../src/core/task-family.ts';
import { eventually, startTestServer } from '../helpers/server.ts';

const entry = (name: string, role: TokenEntry['role'], token: string): TokenEntry => ({ name, role, sha256: tokenHash(token) });

let server: RunningServer;
const stoppedThroughParent: Array<{ ids: readonly string[]; parent: string; cancelledBy: string | undefined; linkedBy: string }> = [];
test.before(async () => {
  const observer: ServerObserver = {
    stoppedThroughParent: (ids, parent, linkedBy) =>
      stoppedThroughParent.push({ ids, parent: parent.id, cancelledBy: parent.by?.name, linkedBy: linkedBy.name }),
  };
  server = await startTestServer({
    tokens: [entry('team-a', 'worker', 'tok-a'), entry('team-b', 'worker', 'tok-b'), entry('ops', 'operator', 'tok-ops')],
    watchTimeoutMs: 30_000,
    observer,
  });
});
test.after(() => server.close());

/** POST /v1/watch as `token`; resolves with the status and the body. */
async function watch(token: string, body: Record<string, unknown>): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/v1/watch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

test("a worker token cannot give another worker's running task a cancelled parent: refused, nothing cancelled, the victim's watch goes on", async () => {
  const cancelOld = await fetch(`${server.url}/v1/tasks/old-1/cancel`, {
    method: 'POST',
    headers: { authorization: 'Bearer tok-ops', 'content-type': 'application/json' },
    body: '{}',
  });
  assert.is(cancelOld.status, 200);
  const victim = watch('tok-b', { ids: ['victim-1'], timeout: '20s' });
  await eventually(() => server.openWatches() === 1, "the victim's watch to be held");
  assert.is((await watch('tok-a', { ids: ['dummy-1'], parents: ['victim-1'], timeout: '100ms' })).status, 200, "a link from one's own new task is fine");
  const attack = await watch('tok-a', { ids: ['victim-1'], parents: ['old-1'], timeout: '100ms' });
  assert.is(attack.status, 403, JSON.stringify(attack.body));
  assert.match(attack.body.error.message, /victim-1"? is already running with other parents/, attack.body.error.message);
  assert.equal(await server.canceler.find(['victim-1']), [], 'no cancel record for the victim');
  assert.is(server.openWatches(), 1, "the victim's watch is still held");
  // A late child that is really new is stopped through the parent, and the log names who linked it.
  const late = await watch('tok-a', { ids: ['late-1'], parents: ['old-1'], timeout: '5s' });
  assert.equal(late.body.cancelled, ['late-1']);
  assert.equal(stoppedThroughParent.at(-1), { ids: ['late-1'], parent: 'old-1', cancelledBy: 'ops', linkedBy: 'team-a' });
  await server.canceler.cancel('victim-1');
  assert.equal((await victim).body.cancelled, ['victim-1']);
});

test("a worker token cannot cancel another run's task by hanging its not-running parent under a cancelled one", async () => {
  const ops = { authorization: 'Bearer tok-ops', 'content-type': 'application/json' };
  assert.is((await fetch(`${server.url}/v1/tasks/old-2/cancel`, { method: 'POST', headers: ops, body: '{}' })).status, 200);
  // team-b runs step-3 under job-43, a parent that never runs itself (the README's pattern).
  const victim = watch('tok-b', { ids: ['step-3'], parents: ['job-43'], timeout: '20s' });
  await eventually(() => server.openWatches() === 1, "the victim's watch to be held");
  await eventually(async () => (await server.tasks.task('job-43', 10)).children.ids.includes('step-3'), 'the link step-3 -> job-43 stored');
  const attack = await watch('tok-a', { ids: ['job-43'], parents: ['old-2'], timeout: '100ms' });
  assert.is(attack.status, 403, JSON.stringify(attack.body));
  assert.match(attack.body.error.message, /job-43"? has a task below it that another token runs \("?step-3"?\)/, attack.body.error.message);
  assert.equal(await server.canceler.find(['job-43', 'step-3']), [], 'nothing cancelled');
  assert.equal((await server.tasks.task('job-43', 10)).parents, [], 'no link stored');
  assert.is(server.openWatches(), 1, "the victim's watch is still held");
  // The token that runs the steps may: a job started after its parent's cancel stops at once, and its
  // running steps with it (late children stop too).
  const own = await watch('tok-b', { ids: ['job-43'], parents: ['old-2'], timeout: '5s' });
  assert.equal(own.body.cancelled, ['job-43'], JSON.stringify(own.body));
  assert.equal((await victim).body.cancelled, ['step-3']);
});

test("a report from another token does not free a run its worker still polls: the task's parents stay its own", async () => {
  const worker = { id: 'w-b5', host: 'box-b', pid: 5 };
  const victim = watch('tok-b', { ids: ['run-5'], timeout: '20s', worker });
  await eventually(() => server.openWatches() === 1, "the victim's watch to be held");
  await eventually(async () => (await server.tasks.task('run-5', 10)).status?.runBy === 'team-b', "the run to be recorded as team-b's");
  const report = await fetch(`${server.url}/v1/tasks/run-5/report`, {
    method: 'POST',
    headers: { authorization: 'Bearer tok-a', 'content-type': 'application/json' },
    body: JSON.stringify({ outcome: 'failed', exitCode: 1 }),
  });
  assert.is(report.status, 200, 'an unscoped worker may report any task (documented)');
  for (const timeout of ['0s', '100ms']) {
    const relink = await watch('tok-a', { ids: ['run-5'], parents: ['s-5'], timeout, worker: { id: 'w-a', host: 'box-a', pid: 9 } });
    assert.is(relink.status, 403, JSON.stringify(relink.body));
    assert.match(relink.body.error.message, /run-5"? was run by another token, whose worker was seen within the lease/);
  }
  assert.equal((await server.tasks.task('run-5', 10)).parents, [], 'no link stored');
  assert.is((await server.tasks.task('run-5', 10)).status?.runBy, 'team-b', 'a watch of another token does not take the run over');
  await server.canceler.cancel('s-5');
  assert.is(server.openWatches(), 1, "the victim's watch is still held: s-5 is nothing to it");
  await server.canceler.cancel('run-5');
  assert.equal((await victim).body.cancelled, ['run-5']);
});

test('a worker token cannot give new parents to a task with a run of another token below it, even under a cancel that is only scheduled, or one never made', async () => {
  const ops = { authorization: 'Bearer tok-ops', 'content-type': 'application/json' };
  // team-b's step-4 runs under job-44 (which nobody runs), and grand-4 under step-4.
  const victim = watch('tok-b', { ids: ['grand-4'], parents: ['step-4'], timeout: '20s' });
  assert.is((await watch('tok-b', { ids: ['step-4'], parents: ['job-44'], timeout: '100ms' })).status, 200);
  await eventually(async () => (await server.tasks.task('step-4', 10)).children.ids.includes('grand-4'), 'the link grand-4 -> step-4 stored');
  const scheduled = await fetch(`${server.url}/v1/tasks/timer-4/cancel`, { method: 'POST', headers: ops, body: '{"after":"1h"}' });
  assert.is(scheduled.status, 202, 'scheduled');
  for (const parent of ['timer-4', 'anything-4']) {
    const attack = await watch('tok-a', { ids: ['job-44'], parents: [parent], timeout: '100ms' });
    assert.is(attack.status, 403, JSON.stringify(attack.body));
    assert.match(attack.body.error.message, /job-44"? has a task below it that another token runs \("?(step-4|grand-4)"?\)/, attack.body.error.message);
  }
  assert.equal((await server.tasks.task('job-44', 10)).parents, [], 'no link stored');
  // The token that runs everything below may.
  assert.is((await watch('tok-b', { ids: ['job-44'], parents: ['anything-4'], timeout: '100ms' })).status, 200);
  assert.equal((await server.tasks.task('job-44', 10)).parents, ['anything-4']);
  await server.canceler.cancel('grand-4');
  assert.equal((await victim).body.cancelled, ['grand-4']);
});

test("whose run a task is says its status, not who linked it first or who reported last: a claim made ahead, or a run of one's own ended by one's own report, gives no hold over another token's run", async () => {
  const ops = { authorization: 'Bearer tok-ops', 'content-type': 'application/json' };
  assert.is((await fetch(`${server.url}/v1/tasks/old-6/cancel`, { method: 'POST', headers: ops, body: '{}' })).status, 200);
  const report = (token: string, id: string, body: Record<string, unknown>) =>
    fetch(`${server.url}/v1/tasks/${id}/report`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const [workerA, workerB] = [
    { id: 'w-a6', host: 'box-a', pid: 6 },
    { id: 'w-b6', host: 'box-b', pid: 6 },
  ];
  // team-a links team-b's step under its job ahead of team-b's run (a look with the same parents), and
  // runs and ends another step of team-b's itself, reporting it done, just before team-b starts it.
  assert.is((await watch('tok-a', { ids: ['step-6a'], parents: ['job-6'], timeout: '0s' })).status, 200);
  assert.is((await watch('tok-a', { ids: ['step-6b'], parents: ['job-6'], timeout: '100ms', worker: workerA })).status, 200);
  for (const exitCode of [0, 1]) assert.is((await report('tok-a', 'step-6b', { outcome: 'succeeded', exitCode })).status, 200);
  const runs = [
    watch('tok-b', { ids: ['step-6a'], parents: ['job-6'], timeout: '20s', worker: workerB }),
    watch('tok-b', { ids: ['step-6b'], parents: ['job-6'], timeout: '20s', worker: workerB }),
  ];
  for (const id of ['step-6a', 'step-6b'])
    await eventually(async () => (await server.tasks.task(id, 10)).status?.runBy === 'team-b', `${id} to be team-b's run`);
  const attack = await watch('tok-a', { ids: ['job-6'], parents: ['old-6'], timeout: '0s' });
  assert.is(attack.status, 403, JSON.stringify(attack.body));
  assert.match(attack.body.error.message, /has a task below it that another token runs/);
  assert.equal(await server.canceler.find(['job-6', 'step-6a', 'step-6b']), [], 'nothing cancelled');
  await server.canceler.cancel('job-6');
  for (const run of runs) assert.is((await run).status, 200);
});

test("a look under a cancelled parent, or another token's reports of its own run, do not keep a later run from naming its parents", async () => {
  const ops = { authorization: 'Bearer tok-ops', 'content-type': 'application/json' };
  assert.is((await fetch(`${server.url}/v1/tasks/old-7/cancel`, { method: 'POST', headers: ops, body: '{}' })).status, 200);
  // A look of an id nobody runs, under a cancelled parent: stopped, and its status says cancel requested.
  assert.equal((await watch('tok-a', { ids: ['unused-7'], parents: ['old-7'], timeout: '0s' })).body.cancelled, ['unused-7']);
  // team-a runs and reports an id again and again.
  assert.is((await watch('tok-a', { ids: ['busy-7'], timeout: '100ms', worker: { id: 'w-a7', host: 'box-a', pid: 7 } })).status, 200);
  for (const exitCode of [1, 2, 1]) {
    const told = await fetch(`${server.url}/v1/tasks/busy-7/report`, {
      method: 'POST',
      headers: { authorization: 'Bearer tok-a', 'content-type': 'application/json' },
      body: JSON.stringify({ outcome: 'failed', exitCode }),
    });
    assert.is(told.status, 200);
  }
  for (const id of ['unused-7', 'busy-7']) {
    const started = await watch('tok-b', { ids: [id], parents: ['release-7'], timeout: '0s', worker: { id: 'w-b7', host: 'box-b', pid: 7 } });
    assert.is(started.status, 200, `${id}: ${JSON.stringify(started.body)}`);
    assert.equal((await server.tasks.task(id, 10)).parents, ['release-7'], id);
  }
});

test("links nesting above a running task are refused when made, and never fail that task's own watch", async () => {
  assert.is((await watch('tok-b', { ids: ['deep-victim'], parents: ['deep-0'], timeout: '100ms' })).status, 200);
  // Another token may not build above it at all (team-b's run below may be going) ...
  const other = await watch('tok-a', { ids: ['deep-0'], parents: ['deep-1'], timeout: '100ms' });
  assert.is(other.status, 403, JSON.stringify(other.body));
  // ... and the token that runs it only as deep as the limit.
  let refusedAt = -1;
  for (let level = 0; level < 20; level++) {
    const made = await watch('tok-b', { ids: [`deep-${level}`], parents: [`deep-${level + 1}`], timeout: '100ms' });
    if (made.status === 400) {
      assert.is(made.body.error.code, 'invalid_parents');
      refusedAt = level;
      break;
    }
    assert.is(made.status, 200, JSON.stringify(made.body));
  }
  // deep-victim, deep-0 ... : the chain holds MAX_PARENT_DEPTH levels above deep-victim at most.
  assert.is(refusedAt, MAX_PARENT_DEPTH - 1, `refused at level ${refusedAt}`);
  const again = await watch('tok-b', { ids: ['deep-victim'], parents: ['deep-0'], timeout: '100ms' });
  assert.is(again.status, 200, `the victim's own watch still works: ${JSON.stringify(again.body)}`);
});

test('a chain built from the bottom up stops at the depth limit', async () => {
  let stored = 0;
  for (let level = 0; level < 30; level++) {
    const made = await watch('tok-a', { ids: [`up-${level}`], parents: [`up-${level + 1}`], timeout: '100ms' });
    if (made.status !== 200) {
      assert.is(made.body.error.code, 'invalid_parents');
      break;
    }
    stored++;
  }
  assert.is(stored, MAX_PARENT_DEPTH);
});

test('two links made together cannot form a cycle between them', async () => {
  for (let race = 0; race < 20; race++) {
    // One token, so the second is refused for the cycle, not for linking under the other's task.
    const [one, two] = await Promise.all([
      watch('tok-a', { ids: [`x-${race}`], parents: [`y-${race}`], timeout: '100ms' }),
      watch('tok-a', { ids: [`y-${race}`], parents: [`x-${race}`], timeout: '100ms' }),
    ]);
    assert.equal([one.status, two.status].sort(), [200, 400], `race ${race}: ${JSON.stringify([one.body, two.body])}`);
  }
});

test('a cancel that reaches children through links later names, for each child, the token that made its link: its status, its record, and the own record of a child that is a parent', async () => {
  // team-a links kid-1 under mum-1, team-b links kid-2 (a parent itself, of grand-2) under mum-1.
  const held = [
    watch('tok-a', { ids: ['kid-1'], parents: ['mum-1'], timeout: '20s' }),
    watch('tok-b', { ids: ['kid-2'], parents: ['mum-1'], timeout: '20s' }),
    watch('tok-b', { ids: ['grand-2'], parents: ['kid-2'], timeout: '20s' }),
  ];
  const get = async (id: string) => (await fetch(`${server.url}/v1/tasks/${id}`, { headers: { authorization: 'Bearer tok-ops' } })).json();
  await eventually(async () => (await get('kid-2')).parents?.[0] === 'mum-1' && (await get('grand-2')).parents?.[0] === 'kid-2', 'the links stored');
  await eventually(async () => (await get('kid-1')).parents?.[0] === 'mum-1', 'the links stored');
  const cancel = await fetch(`${server.url}/v1/tasks/mum-1/cancel`, {
    method: 'POST',
    headers: { authorization: 'Bearer tok-ops', 'content-type': 'application/json' },
    body: '{}',
  });
  assert.is(cancel.status, 200);
  for (const reply of held) assert.is((await reply).status, 200);
  for (const [id, linker] of [
    ['kid-1', 'team-a'],
    ['kid-2', 'team-b'],
    ['grand-2', 'team-b'],
  ] as const) {
    await eventually(async () => (await get(id)).status?.cancelledBy?.linkedBy === linker, `${id}'s status to name ${linker}`);
    const task = await get(id);
    assert.equal(task.status.cancelledBy, { name: 'ops', address: '127.0.0.1', route: 'v1', linkedBy: linker }, id);
    assert.is(task.status.cancelReason, 'parent mum-1 cancelled', id);
    assert.is(task.record.by.linkedBy, linker, `${id}'s record`);
  }
  // kid-2 is a parent: its own cancel record (which wakes its children's waits everywhere) names its linker too.
  const [own] = await server.canceler.find(['kid-2']);
  assert.is(own?.by?.linkedBy, 'team-b');
  // The cancelled task itself was not stopped through a link.
  assert.is((await get('mum-1')).record.by.linkedBy, undefined);
});

test.run();
