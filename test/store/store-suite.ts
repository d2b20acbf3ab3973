import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type CancelStore, type LinkCheck, saveStatuses, type UnreadableRow } from '../../src/core/store.ts';
import type { TaskStatus } from '../../src/core/task-status.ts';

/** Writes rows as a corrupted file or a hand edit would leave them, past the store's own code. */
export interface RawRows {
  /** Stores `body` as the stored form of `id`'s status, listed under `state`. */
  status(id: string, state: string, body: string): Promise<void>;
  /** Appends an event whose stored body is `body`, at the next seq. */
  event(body: string): Promise<void>;
}

type Opened = { store: CancelStore; cleanup(): Promise<void>; raw?: RawRows };

/** The contract every store keeps; each store's test file runs it against a fresh store. */
export function storeSuite(
  name: string,
  open: () => Promise<Opened>,
  /** Stores that expire records on their own clock (Redis) skip the sweep test, which runs on test time. */
  capabilities: { sweeps: boolean } = { sweeps: true },
) {
  const test = suite<Opened>(name);
  test.before.each(async (context) => {
    Object.assign(context, await open());
  });
  test.after.each(async ({ cleanup }) => cleanup());

  test('insert keeps the first live record for an id', async ({ store }) => {
    const first = await store.insert({ id: 'a', reason: 'first', cancelledAt: 100, expiresAt: 1_100 }, 100);
    const second = await store.insert({ id: 'a', reason: 'second', cancelledAt: 200, expiresAt: 1_200 }, 200);
    assert.equal(second, first);
    assert.equal(await store.find(['a'], 300), [first]);
  });

  test('an expired record is replaced by a new cancel', async ({ store }) => {
    await store.insert({ id: 'a', cancelledAt: 100, expiresAt: 200 }, 100);
    const fresh = await store.insert({ id: 'a', reason: 'again', cancelledAt: 300, expiresAt: 400 }, 300);
    assert.is(fresh.reason, 'again');
    assert.equal(await store.find(['a'], 350), [fresh]);
  });

  test('find returns only live records among many ids, reasons intact', async ({ store }) => {
    await store.insert({ id: 'x', cancelledAt: 0, expiresAt: 1_000 }, 0);
    await store.insert({ id: 'y', reason: 'why', cancelledAt: 0, expiresAt: 5_000 }, 0);
    await store.insert({ id: 'ünï/code?', cancelledAt: 0, expiresAt: 5_000 }, 0);
    const found = await store.find(['x', 'y', 'z', 'ünï/code?'], 2_000);
    assert.equal(found.map((r) => r.id).sort(), ['y', 'ünï/code?'].sort());
    assert.is(found.find((r) => r.id === 'y')!.reason, 'why');
    assert.not.ok('reason' in found.find((r) => r.id !== 'y')!, 'no reason key when none was given');
    assert.equal(await store.find([], 0), []);
  });

  test('concurrent inserts of one id agree on one record', async ({ store }) => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.insert({ id: 'race', reason: `r${i}`, cancelledAt: i, expiresAt: 10_000 }, i)),
    );
    assert.ok(results.every((r) => r.reason === results[0]!.reason));
  });

  test('many ids in one find', async ({ store }) => {
    const ids = Array.from({ length: 2_000 }, (_, i) => `bulk-${i}`);
    await Promise.all(ids.filter((_, i) => i % 2 === 0).map((id) => store.insert({ id, cancelledAt: 0, expiresAt: 10_000 }, 0)));
    assert.is((await store.find(ids, 1)).length, 1_000);
  });

  if (capabilities.sweeps)
    test('sweep deletes expired records and says how many', async ({ store }) => {
      await store.insert({ id: 'old', cancelledAt: 0, expiresAt: 1_000 }, 0);
      await store.insert({ id: 'new', cancelledAt: 0, expiresAt: 9_000 }, 0);
      assert.is(await store.sweep(5_000), 1);
      assert.equal(
        (await store.find(['old', 'new'], 0)).map((r) => r.id),
        ['new'],
      );
    });

  const status = (id: string, state: TaskStatus['state'], lastSeenAt?: number): TaskStatus => ({
    id,
    state,
    since: 1,
    ...(lastSeenAt === undefined ? {} : { lastSeenAt }),
    worker: { id: 'w1', host: 'box', pid: 42 },
    history: [{ state, at: 1 }],
  });
  /** `previous` moved on to `state` at `at`, as the tracker makes a status from the one it loaded. */
  const next = (previous: TaskStatus, state: TaskStatus['state'], at: number, lastSeenAt?: number): TaskStatus => ({
    ...previous,
    state,
    since: at,
    ...(lastSeenAt === undefined ? {} : { lastSeenAt }),
    history: [...previous.history, { state, at }],
  });

  test('statuses are saved, replaced and loaded by id', async ({ store }) => {
    await saveStatuses(store, [status('a', 'watching', 10), status('b', 'cancel_requested', 10)]);
    await saveStatuses(store, [next(status('a', 'watching', 10), 'succeeded', 20, 20)]);
    const loaded = await store.loadStatuses(['a', 'b', 'missing']);
    assert.equal(loaded.map((s) => [s.id, s.state]).sort(), [
      ['a', 'succeeded'],
      ['b', 'cancel_requested'],
    ]);
    assert.equal(loaded.find((s) => s.id === 'a')!.worker, { id: 'w1', host: 'box', pid: 42 });
  });

  test('statuses list in id order, by state, page by page', async ({ store }) => {
    const ids = Array.from({ length: 25 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    await saveStatuses(
      store,
      ids.map((id, i) => status(id, i % 5 === 0 ? 'lost' : 'watching', 10)),
    );
    const first = await store.listStatuses({ limit: 10 });
    assert.equal(
      first.map((s) => s.id),
      ids.slice(0, 10),
    );
    const second = await store.listStatuses({ limit: 10, after: first.at(-1)!.id });
    assert.equal(
      second.map((s) => s.id),
      ids.slice(10, 20),
    );
    const lost = await store.listStatuses({ state: 'lost', limit: 100 });
    assert.equal(
      lost.map((s) => s.id),
      ['t00', 't05', 't10', 't15', 't20'],
    );
    await saveStatuses(store, [next(status('t05', 'lost', 10), 'watching', 10)]);
    assert.equal(
      (await store.listStatuses({ state: 'lost', limit: 100 })).map((s) => s.id),
      ['t00', 't10', 't15', 't20'],
      'a state change moves it out',
    );
  });

  test('findQuiet returns watched tasks not seen since a time, and nothing that ended', async ({ store }) => {
    await saveStatuses(store, [
      status('old', 'watching', 100),
      status('fresh', 'watching', 900),
      status('asked', 'cancel_requested', 50),
      status('done', 'succeeded', 10),
    ]);
    assert.equal((await store.findQuiet(500, 100)).map((s) => s.id).sort(), ['asked', 'old']);
  });

  test('findInactive lists statuses by last activity, oldest first; forgetStatuses removes them and counts', async ({ store }) => {
    const at = (id: string, since: number, lastSeenAt?: number): TaskStatus => ({
      ...status(id, 'succeeded'),
      since,
      ...(lastSeenAt === undefined ? {} : { lastSeenAt }),
    });
    await saveStatuses(store, [at('old', 100), at('seen-lately', 100, 900), at('recent', 800), at('older', 50)]);
    assert.is(await store.countStatuses(), 4);
    assert.equal((await store.findInactive(500, 10)).sort(), ['old', 'older']);
    assert.is((await store.findInactive(500, 1)).length, 1);
    assert.is(await store.forgetStatuses(['older', 'old', 'missing'], 500), 2);
    assert.is(await store.countStatuses(), 2);
    assert.equal(
      (await store.loadStatuses(['older', 'old', 'recent'])).map((s) => s.id),
      ['recent'],
    );
    assert.equal(
      (await store.listStatuses({ limit: 10 })).map((s) => s.id),
      ['recent', 'seen-lately'],
    );
    assert.equal(await store.listStatuses({ state: 'succeeded', limit: 10, after: 'recent' }).then((l) => l.map((s) => s.id)), ['seen-lately']);
  });

  test('forgetStatuses keeps a status that became active again before the delete', async ({ store }) => {
    await saveStatuses(store, [{ ...status('revived', 'lost'), since: 100 }]);
    assert.equal(await store.findInactive(500, 10), ['revived']);
    // A watch brings it back (on this server or another) between the look-up and the delete.
    await saveStatuses(store, [next({ ...status('revived', 'lost'), since: 100 }, 'watching', 600, 600)]);
    assert.is(await store.forgetStatuses(['revived'], 500), 0);
    assert.equal(
      (await store.loadStatuses(['revived'])).map((s) => s.state),
      ['watching'],
    );
    assert.is(await store.countStatuses(), 1);
  });

  test('a status only moves forward: one made from an older version never replaces one further along', async ({ store }) => {
    const watching = status('raced', 'watching', 10);
    await saveStatuses(store, [watching]);
    // Two writers load the watching status; the worker's report (cancelled) is saved first, then the
    // cancel's write (cancel_requested) computed from the same old status.
    const requested = next(watching, 'cancel_requested', 5);
    const confirmed = next(watching, 'cancelled', 6);
    await saveStatuses(store, [confirmed]);
    await saveStatuses(store, [requested]);
    assert.equal(
      (await store.loadStatuses(['raced'])).map((s) => s.state),
      ['cancelled'],
    );
    assert.equal(
      (await store.listStatuses({ state: 'cancel_requested', limit: 10 })).map((s) => s.id),
      [],
      'not listed as cancel_requested',
    );
    // A status made from the stored one replaces it whatever its state: a new run after an end.
    const rerun = next(confirmed, 'watching', 20, 20);
    await saveStatuses(store, [rerun]);
    assert.equal(
      (await store.loadStatuses(['raced'])).map((s) => s.state),
      ['watching'],
    );
    // A stale write further along wins: a report that was made before the new run's watch still ends it.
    await saveStatuses(store, [next(confirmed, 'stopped', 21)]);
    assert.equal(
      (await store.loadStatuses(['raced'])).map((s) => s.state),
      ['stopped'],
    );
    // And two ends race: the first saved is kept.
    await saveStatuses(store, [next(rerun, 'failed', 22)]);
    assert.equal(
      (await store.loadStatuses(['raced'])).map((s) => s.state),
      ['stopped'],
    );
  });

  test('thousands of statuses save, load, list and forget in one call each', async ({ store }) => {
    const many = Array.from({ length: 3_000 }, (_, i) => ({ ...status(`m${String(i).padStart(5, '0')}`, 'succeeded'), since: i }));
    await saveStatuses(store, many);
    assert.is(await store.countStatuses(), 3_000);
    assert.is((await store.loadStatuses(many.map((s) => s.id))).length, 3_000);
    assert.equal(
      (await store.listStatuses({ limit: 2, after: 'm01499' })).map((s) => s.id),
      ['m01500', 'm01501'],
    );
    assert.is((await store.findInactive(2_500, 5_000)).length, 2_500);
    assert.is(
      await store.forgetStatuses(
        many.map((s) => s.id),
        2_500,
      ),
      2_500,
    );
    assert.is(await store.countStatuses(), 500);
  });

  test('scheduled cancels: stored, moved, found when due (soonest first), forgotten', async ({ store }) => {
    await store.schedule({ id: 'later', at: 5_000, reason: 'deadline' });
    await store.schedule({ id: 'sooner', at: 1_000 });
    await store.schedule({ id: 'moved', at: 9_000 });
    await store.schedule({ id: 'moved', at: 2_000, reason: 'moved up' });
    assert.equal(await store.dueSchedules(500, 10), []);
    assert.equal(await store.dueSchedules(2_000, 10), [
      { id: 'sooner', at: 1_000 },
      { id: 'moved', at: 2_000, reason: 'moved up' },
    ]);
    assert.equal(await store.loadSchedules(['later', 'nope']), [{ id: 'later', at: 5_000, reason: 'deadline' }]);
    await store.unschedule('sooner');
    assert.equal(
      (await store.dueSchedules(10_000, 10)).map((s) => s.id),
      ['moved', 'later'],
    );
  });

  test('scheduled cancels list in id order, page by page; moved ones once, dropped ones not at all', async ({ store }) => {
    const ids = Array.from({ length: 25 }, (_, i) => `s${String(i).padStart(2, '0')}`);
    // Stored in an order that is neither by id nor by time.
    for (const [i, id] of [...ids].reverse().entries()) await store.schedule({ id, at: 10_000 + ((i * 7) % 25), ...(i % 2 ? { reason: `r${i}` } : {}) });
    await store.schedule({ id: 's03', at: 99_000, reason: 'moved' });
    await store.unschedule('s07');
    const first = await store.listSchedules(undefined, 10);
    const kept = ids.filter((id) => id !== 's07');
    assert.equal(
      first.map((s) => s.id),
      kept.slice(0, 10),
    );
    assert.equal(
      first.find((s) => s.id === 's03'),
      { id: 's03', at: 99_000, reason: 'moved' },
    );
    const rest = await store.listSchedules(first.at(-1)!.id, 100);
    assert.equal(
      rest.map((s) => s.id),
      kept.slice(10),
    );
    assert.equal(await store.listSchedules('s24', 10), []);
  });

  test('who asked is kept with a record and a schedule; the first cancel keeps its asker', async ({ store }) => {
    const ops = { name: 'ops', address: '10.0.0.7', route: 'v1' } as const;
    const first = await store.insert({ id: 'who', cancelledAt: 0, expiresAt: 10_000, by: ops }, 0);
    const second = await store.insert(
      { id: 'who', reason: 'again', cancelledAt: 1, expiresAt: 10_000, by: { name: 'ci', address: '10.0.0.8', route: 'seed' } },
      1,
    );
    assert.equal(first.by, ops);
    assert.equal(second.by, ops);
    assert.equal((await store.find(['who'], 2))[0]!.by, ops);
    const deadline = { name: 'runner', address: '10.0.0.9', route: 'deadline' } as const;
    await store.schedule({ id: 'later', at: 5_000, reason: 'r', by: deadline });
    assert.equal(await store.loadSchedules(['later']), [{ id: 'later', at: 5_000, reason: 'r', by: deadline }]);
    assert.equal(await store.dueSchedules(5_000, 10), [{ id: 'later', at: 5_000, reason: 'r', by: deadline }]);
    await store.schedule({ id: 'later', at: 6_000 });
    assert.equal(await store.loadSchedules(['later']), [{ id: 'later', at: 6_000 }], 'a schedule moved by nobody known forgets the old asker');
  });

  test('a cancel through a link keeps the linking token (by.linkedBy) in its record and in the status; records without it read as before', async ({
    store,
  }) => {
    const by = { name: 'ops', address: '10.0.0.7', route: 'v1', linkedBy: 'runner-b' } as const;
    await store.insert({ id: 'linked-child', reason: 'parent p cancelled', cancelledAt: 0, expiresAt: 10_000, by }, 0);
    assert.equal((await store.find(['linked-child'], 1))[0]!.by, by);
    const status = {
      id: 'linked-child',
      state: 'cancel_requested',
      since: 1,
      cancelledBy: by,
      cancelReason: 'parent p cancelled',
      history: [{ state: 'cancel_requested', at: 1 }],
    } as const;
    await saveStatuses(store, [status]);
    assert.equal((await store.loadStatuses(['linked-child']))[0]!.cancelledBy, by);
  });

  // Parent links.

  const parentsOf = async (store: CancelStore, ids: string[]) =>
    Object.fromEntries((await store.loadParents(ids)).map((link) => [link.child, [...link.parents].sort()]));

  test('parent links: saved, loaded by child, listed by parent in id order, replaced', async ({ store }) => {
    await store.saveParents([
      { child: 'step-2', parents: ['job-42'] },
      { child: 'step-1', parents: ['job-42', 'nightly'] },
      { child: 'sub-1', parents: ['step-1'] },
    ]);
    assert.equal(await parentsOf(store, ['step-1', 'step-2', 'sub-1', 'job-42', 'nobody']), {
      'step-1': ['job-42', 'nightly'],
      'step-2': ['job-42'],
      'sub-1': ['step-1'],
    });
    assert.equal(await store.listChildren('job-42', undefined, 10), ['step-1', 'step-2']);
    assert.equal(await store.listChildren('nightly', undefined, 10), ['step-1']);
    assert.equal(await store.listChildren('nobody', undefined, 10), []);
    // A task declaring other parents moves from the old parents' lists to the new ones'.
    await store.saveParents([{ child: 'step-1', parents: ['job-43'] }]);
    assert.equal(await parentsOf(store, ['step-1']), { 'step-1': ['job-43'] });
    assert.equal(await store.listChildren('job-42', undefined, 10), ['step-2']);
    assert.equal(await store.listChildren('nightly', undefined, 10), []);
    assert.equal(await store.listChildren('job-43', undefined, 10), ['step-1']);
    assert.equal((await store.parentsAmong(['job-42', 'nightly', 'job-43', 'step-1', 'step-2', 'sub-1'])).sort(), ['job-42', 'job-43', 'step-1']);
  });

  test('a parent with thousands of children pages them by id; parentsAmong answers for many ids at once', async ({ store }) => {
    const children = Array.from({ length: 3_000 }, (_, i) => `c${String(i).padStart(5, '0')}`);
    await store.saveParents(children.map((child) => ({ child, parents: ['big'] })));
    const paged: string[] = [];
    for (let after: string | undefined; ; ) {
      const page = await store.listChildren('big', after, 700);
      paged.push(...page);
      if (page.length < 700) break;
      after = page.at(-1);
    }
    assert.equal(paged, children);
    assert.equal(await store.listChildren('big', 'c01499', 2), ['c01500', 'c01501']);
    await store.saveParents([
      { child: 'c00007', parents: ['big'] },
      { child: 'grandchild', parents: ['c00007'] },
    ]);
    assert.equal((await store.parentsAmong([...children, 'big', 'grandchild'])).sort(), ['big', 'c00007']);
    assert.is((await store.loadParents(children)).length, 3_000);
  });

  test('forgetParents forgets the links of children whose status is gone, and only theirs', async ({ store }) => {
    await saveStatuses(store, [{ ...status('kept', 'watching', 10) }, { ...status('gone', 'succeeded'), since: 1 }]);
    await store.saveParents([
      { child: 'kept', parents: ['job'] },
      { child: 'gone', parents: ['job', 'other'] },
      { child: 'never-had-a-status', parents: ['job'] },
    ]);
    assert.is(await store.forgetStatuses(['gone'], 500), 1);
    assert.is(await store.forgetParents(['kept', 'gone', 'never-had-a-status', 'unknown']), 3, 'the two links of gone, one of never-had-a-status');
    assert.equal(await parentsOf(store, ['kept', 'gone', 'never-had-a-status']), { kept: ['job'] });
    assert.equal(await store.listChildren('job', undefined, 10), ['kept']);
    assert.equal(await store.listChildren('other', undefined, 10), []);
    assert.equal(await store.parentsAmong(['job', 'other']), ['job']);
    assert.is(await store.forgetParents(['kept']), 0, 'a child with a status keeps its links');
  });

  test('webhook outbox: queued once per id, claimed out of reach for a lease, retried, finished', async ({ store }) => {
    const delivery = (id: string, nextAt: number) => ({
      id,
      eventId: `e-${id}`,
      endpoint: 'http://hooks.example/x',
      body: `{"n":"${id}"}`,
      createdAt: 0,
      attempts: 0,
      nextAt,
    });
    await store.enqueueDeliveries([delivery('a', 100), delivery('b', 900), delivery('later', 5_000)]);
    await store.enqueueDeliveries([{ ...delivery('a', 50), body: 'another server queued it too' }]);
    assert.is(await store.countDeliveries(), 3);
    const claimed = await store.claimDeliveries(1_000, 500, 10);
    assert.equal(
      claimed.map((d) => d.id),
      ['a', 'b'],
      'due ones, soonest first',
    );
    assert.is(claimed[0]!.body, '{"n":"a"}', 'the first one queued is kept');
    assert.equal(await store.claimDeliveries(1_200, 500, 10), [], 'claimed ones are out of reach for the lease');
    await store.retryDelivery('a', 1, 3_000);
    await store.finishDelivery('b');
    assert.is(await store.countDeliveries(), 2);
    assert.equal(
      (await store.claimDeliveries(1_600, 500, 10)).map((d) => d.id),
      [],
      'a moved to 3,000, b is gone',
    );
    const again = await store.claimDeliveries(3_000, 500, 10);
    assert.equal(
      again.map((d) => [d.id, d.attempts]),
      [['a', 1]],
    );
  });

  // The memory store keeps objects as they are, so it has no rows that could be unreadable (and no raw writer).
  test('rows that cannot be read are left out and counted, told once per kind; never made up, never failing a listing', async ({ store, raw }) => {
    if (!raw) return;
    const told: UnreadableRow[] = [];
    store.unreadable.onFirst((row) => told.push(row));
    await saveStatuses(store, [status('good', 'watching', 10)]);
    await raw.status('broken', 'watching', '{"id":"broken", not json');
    await raw.status('alien', 'watching', JSON.stringify({ ...status('alien', 'watching', 10), state: 'exploded' }));
    assert.equal(
      (await store.loadStatuses(['good', 'broken', 'alien'])).map((s) => s.id),
      ['good'],
    );
    assert.equal(
      (await store.listStatuses({ limit: 10 })).map((s) => s.id),
      ['good'],
    );
    assert.equal(
      (await store.listStatuses({ state: 'watching', limit: 10 })).map((s) => s.id),
      ['good'],
    );
    assert.is(store.unreadable.counts().get('status'), 6, 'each of the two, three times: a load and two listings');
    assert.equal(
      told.map((row) => row.kind),
      ['status'],
      'told once',
    );
    // An update replaces an unreadable status as it would a missing one.
    const changes = await store.updateStatuses(['broken'], (current, id) => current ?? status(id, 'watching', 20));
    assert.equal(
      changes.map((c) => [c.before, c.after.id]),
      [[undefined, 'broken']],
    );
    assert.equal(
      (await store.loadStatuses(['broken'])).map((s) => s.lastSeenAt),
      [20],
    );

    await store.appendEvents([{ change: 'watching', at: 1, origin: 'o', id: 'good' }], 100);
    await raw.event('{not json');
    await raw.event(JSON.stringify({ change: 'exploded', origin: 'o', id: 'good' }));
    await store.appendEvents([{ change: 'succeeded', at: 2, origin: 'o', id: 'good' }], 100);
    const { events } = await store.readEvents(0, 10);
    assert.equal(
      events.map((e) => [e.change, e.id]),
      [
        ['watching', 'good'],
        ['succeeded', 'good'],
      ],
      'left out, not made up as events of an unknown task',
    );
    assert.is(store.unreadable.counts().get('event'), 2);
    assert.equal(
      told.map((row) => row.kind),
      ['status', 'event'],
    );
  });

  test('check answers when the store can serve', async ({ store }) => {
    await store.check();
  });

  test('a checked link save: the check reads the links saved before it, nothing is written when it throws, and checked saves of one store take turns', async ({
    store,
  }) => {
    // The rule a server checks, reduced to a cycle: refused when a new parent has the child above it.
    const noCycle: LinkCheck = async (links, reader) => {
      for (const { child, parents } of links) {
        let level = [...parents];
        for (let depth = 0; level.length > 0 && depth < 10; depth++) {
          if (level.includes(child)) throw new Error(`a cycle through ${child}`);
          level = (await reader.loadParents(level)).flatMap((link) => link.parents);
        }
      }
      // Another turn for the other save to come in, were the two not one at a time.
      await new Promise((resolve) => setImmediate(resolve));
    };
    const made = await Promise.allSettled([
      store.saveParents([{ child: 'loop-a', parents: ['loop-b'] }], noCycle),
      store.saveParents([{ child: 'loop-b', parents: ['loop-a'] }], noCycle),
    ]);
    assert.equal(
      made.map((result) => result.status),
      ['fulfilled', 'rejected'],
    );
    assert.match(String((made[1] as PromiseRejectedResult).reason), /a cycle through loop-b/);
    assert.equal(await store.loadParents(['loop-a', 'loop-b']), [{ child: 'loop-a', parents: ['loop-b'] }]);
    assert.equal(await store.listChildren('loop-a', undefined, 10), [], 'nothing of the refused link was written');
  });

  test('a link keeps the name of who made it, until the child is linked again or forgotten', async ({ store }) => {
    await store.saveParents([
      { child: 'made-1', parents: ['p1', 'p2'], linkedBy: 'runner' },
      { child: 'made-2', parents: ['p1'] },
    ]);
    assert.equal(
      (await store.loadParents(['made-1', 'made-2'])).sort((a, b) => a.child.localeCompare(b.child)),
      [
        { child: 'made-1', parents: ['p1', 'p2'], linkedBy: 'runner' },
        { child: 'made-2', parents: ['p1'] },
      ],
    );
    await store.saveParents([{ child: 'made-1', parents: ['p3'] }]);
    assert.equal(await store.loadParents(['made-1']), [{ child: 'made-1', parents: ['p3'] }], 'linked again by someone unknown');
    await store.saveParents([{ child: 'made-1', parents: ['p3'], linkedBy: 'other' }]);
    assert.is(await store.forgetParents(['made-1']), 1);
    await store.saveParents([{ child: 'made-1', parents: ['p4'] }]);
    assert.equal(await store.loadParents(['made-1']), [{ child: 'made-1', parents: ['p4'] }], 'forgotten with the links');
  });

  return test;
}
