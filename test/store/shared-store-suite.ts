import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Canceler } from '../../src/core/canceler.ts';
import { type CancelStore, saveStatuses } from '../../src/core/store.ts';
import { InvalidParentsError, LinkRefusedError } from '../../src/core/task-family.ts';
import { TaskService } from '../../src/core/task-service.ts';
import type { TaskStatus } from '../../src/core/task-status.ts';

type Pair = { a: CancelStore; b: CancelStore; cleanup(): Promise<void> };

/**
 * The contract of stores that servers share (Redis, PostgreSQL): two store instances on one database, as
 * two servers have them. Each test opens a fresh pair on a namespace of its own.
 */
export function sharedStoreSuite(name: string, openPair: () => Promise<Pair>) {
  const test = suite<Pair>(name);
  test.before.each(async (context) => {
    Object.assign(context, await openPair());
  });
  test.after.each(async ({ cleanup }) => cleanup());

  const counter = (id: string, n: number): TaskStatus => ({ id, state: 'watching', since: 1, lastSeenAt: n, history: [{ state: 'watching', at: 1 }] });
  // A read-modify-write that a plain overwrite would lose: one more than what is stored.
  const increment = (status: TaskStatus | undefined, id: string): TaskStatus => counter(id, (status?.lastSeenAt ?? 0) + 1);

  test('read-modify-writes racing on two servers lose no update (compare-and-set)', async ({ a, b }) => {
    const ids = Array.from({ length: 20 }, (_, i) => `race-${i}`);
    await saveStatuses(
      a,
      ids.map((id) => counter(id, 0)),
    );
    const rounds = 40;
    // Each server adds one to every id, round after round (a server's tracker changes an id one change at a
    // time), both servers at once: their reads and writes interleave.
    const run = async (store: CancelStore) => {
      for (let round = 0; round < rounds; round++) await store.updateStatuses(ids, increment);
    };
    await Promise.all([run(a), run(b)]);
    for (const store of [a, b]) {
      const counts = (await store.loadStatuses(ids)).map((status) => status.lastSeenAt);
      assert.equal(
        counts,
        ids.map(() => 2 * rounds),
        'every increment of both servers is there',
      );
    }
  });

  test('an update is made from what the other server wrote, and said to be written once', async ({ a, b }) => {
    await saveStatuses(a, [counter('shared', 0)]);
    const [first] = await a.updateStatuses(
      ['shared'],
      (status) => status && { ...status, state: 'cancelled', since: 5, history: [...status.history, { state: 'cancelled', at: 5 }] },
    );
    assert.is(first?.after.state, 'cancelled');
    let seen: TaskStatus | undefined;
    const changes = await b.updateStatuses(['shared'], (status) => (seen = status) && { ...status, lastSeenAt: 9 });
    assert.is(seen?.state, 'cancelled', 'B read what A wrote');
    assert.equal(
      changes.map((c) => [c.before?.state, c.after.state, c.after.lastSeenAt]),
      [['cancelled', 'cancelled', 9]],
    );
    assert.equal(
      (await a.loadStatuses(['shared'])).map((s) => [s.state, s.lastSeenAt]),
      [['cancelled', 9]],
    );
  });

  test('the first of two servers to create a status wins; the other applies its update over it', async ({ a, b }) => {
    const created = await Promise.all([a.updateStatuses(['fresh'], increment), b.updateStatuses(['fresh'], increment)]);
    assert.is(created.flat().length, 2, 'both written, one after the other');
    assert.equal(
      (await b.loadStatuses(['fresh'])).map((s) => s.lastSeenAt),
      [2],
    );
    assert.is(await a.countStatuses(), 1, 'counted once');
  });

  test('opposite links made at once on two servers never store a cycle: the check and the write are one step', async ({ a, b }) => {
    const serve = (store: CancelStore) => {
      const canceler = new Canceler({ store });
      return { canceler, tasks: new TaskService({ store, canceler, leaseMs: 60_000 }) };
    };
    const [one, two] = [serve(a), serve(b)];
    const linker = { name: 'runner', address: 'test' };
    const races = 30;
    let refused = 0;
    try {
      for (let race = 0; race < races; race++) {
        const [x, y] = [`x${race}`, `y${race}`];
        // x under y on one server, y under x on the other, in the same moment.
        const made = await Promise.allSettled([one.tasks.look([x], [y], linker), two.tasks.look([y], [x], linker)]);
        for (const result of made) {
          if (result.status === 'rejected') {
            assert.instance(result.reason, InvalidParentsError);
            refused++;
          }
        }
        const links = new Map((await a.loadParents([x, y])).map((link) => [link.child, link.parents]));
        assert.ok(links.size >= 1, `race ${race}: one of the links is stored`);
        assert.not.ok(links.get(x)?.includes(y) && links.get(y)?.includes(x), `race ${race}: a cycle was stored`);
      }
    } finally {
      for (const { tasks, canceler } of [one, two]) {
        tasks.close();
        canceler.close();
      }
    }
    assert.ok(refused >= 1, `each race refused one link (${refused} of ${races} seen by the check that ran second)`);
  });

  test("a link declared before another server linked another token's run below it is checked again as it is written, and refused", async ({ a, b }) => {
    const serve = (store: CancelStore) => {
      const canceler = new Canceler({ store });
      return { canceler, tasks: new TaskService({ store, canceler, leaseMs: 60_000 }) };
    };
    const [one, two] = [serve(a), serve(b)];
    const [teamA, teamB] = [
      { name: 'team-a', address: 'test' },
      { name: 'team-b', address: 'test' },
    ];
    try {
      // team-a declares job under mid on one server: nothing is below job yet, so the check passes.
      const { changed } = await one.tasks.declareParents(['job'], ['mid'], undefined, teamA);
      assert.equal(changed, ['job']);
      // Meanwhile team-b's step starts under job through the other server.
      await two.tasks.look(['step'], ['job'], teamB);
      await two.tasks.watchStarted(['step'], { id: 'w-b', host: 'box-b', pid: 1 }, 'team-b');
      let refused: unknown;
      try {
        await one.tasks.link(changed, ['mid'], undefined, teamA);
      } catch (error) {
        refused = error;
      }
      assert.instance(refused, LinkRefusedError, 'the write checked the links and runs stored since the declare');
      assert.match((refused as Error).message, /has a task below it that another token runs/);
      assert.equal(await a.loadParents(['job']), [], 'nothing written');
      two.tasks.watchEnded(['step']);
    } finally {
      for (const { tasks, canceler } of [one, two]) {
        tasks.close();
        canceler.close();
      }
    }
  });

  return test;
}
