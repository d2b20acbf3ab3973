// The hub that turns task changes into events, on a log the test can reach into and a clock it moves.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type SnapshotParts, type TaskEvent, TaskEventHub, type TaskEventLog, type TaskSnapshot } from '../../src/core/task-events.ts';
import { PROGRESS_INTERVAL_MS, progressText, explicitProgress, MAX_PROGRESS_CHARS } from '../../src/core/progress.ts';
import { TaskTracker } from '../../src/core/task-tracker.ts';
import { MemoryEventLog } from '../../src/store/memory-event-log.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const status = (id: string, state: 'watching' | 'lost' = 'watching') => ({ id, state, since: 1, history: [{ state, at: 1 }] });

function hub(
  options: {
    log?: TaskEventLog;
    snapshot?: (ids: readonly string[], wanted: SnapshotParts) => Promise<TaskSnapshot[]>;
    maxEvents?: number;
    clock?: FakeClock;
  } = {},
) {
  const clock = options.clock ?? new FakeClock();
  const errors: unknown[] = [];
  const events = new TaskEventHub({
    log: options.log ?? new MemoryEventLog(clock.now()),
    snapshot: options.snapshot ?? (async (ids) => ids.map((id) => ({ id }))),
    clock,
    window: { maxEvents: options.maxEvents ?? 100, maxAgeMs: 60_000 },
    origin: 'here',
    onError: (e) => errors.push(e),
  });
  const heard: TaskEvent[] = [];
  const resets: number[] = [];
  let closed = 0;
  events.subscribe({ taskEvent: (e) => heard.push(e), reset: (after) => resets.push(after), closed: () => closed++ });
  return { events, heard, resets, errors, clock, closed: () => closed };
}

test('changes become events in the order recorded, with contiguous seqs, completed by the snapshot', async () => {
  const looked: string[][] = [];
  const { events, heard, errors } = hub({
    snapshot: async (ids) => {
      looked.push([...ids]);
      return ids.map((id) => ({ id, record: { id, cancelledAt: 5, expiresAt: 50, reason: `why ${id}` }, status: status(id, 'lost') }));
    },
  });
  await events.start();
  const start = events.delivered;
  events.record('watching', 'a', { status: status('a') });
  events.record('scheduled', 'b', { schedule: { id: 'b', at: 99 } });
  events.record('unscheduled', 'a', { schedule: undefined });
  await events.settled();
  assert.equal(errors, []);
  assert.equal(looked, [['a', 'b']], 'one look-up for the batch, each id once');
  assert.equal(
    heard.map((e) => [e.seq - start, e.change, e.id]),
    [
      [1, 'watching', 'a'],
      [2, 'scheduled', 'b'],
      [3, 'unscheduled', 'a'],
    ],
  );
  assert.is(heard[0]!.status!.state, 'watching', 'what the change brought wins over what was looked up');
  assert.is(heard[0]!.record!.reason, 'why a', 'the rest comes from the look-up');
  assert.equal(heard[1]!.schedule, { id: 'b', at: 99 });
  assert.is(heard[2]!.schedule, undefined, 'a dropped schedule is known to be gone, not looked up');
  assert.ok(heard.every((e) => e.origin === 'here'));
  assert.is(events.delivered, start + 3);
});

test('the snapshot is asked only for what the changes did not bring: a state change, not its status', async () => {
  const asked: SnapshotParts[] = [];
  const { events, heard, errors } = hub({
    snapshot: async (ids, wanted) => {
      asked.push(wanted);
      return ids.map((id) => ({ id }));
    },
  });
  await events.start();
  events.record('cancel_requested', 'a', { status: status('a') });
  await events.settled();
  events.record('scheduled', 'b', { schedule: { id: 'b', at: 99 } });
  events.record('watching', 'c', { status: status('c') });
  await events.settled();
  assert.equal(errors, []);
  assert.equal(asked, [
    { record: true, status: false, schedule: true },
    { record: true, status: true, schedule: true },
  ]);
  assert.is(heard[0]!.status!.state, 'watching', 'the status it brought');
});

test('a log that moved past what the hub read is a reset for every subscriber, then events go on', async () => {
  const log = new MemoryEventLog();
  const { events, heard, resets } = hub({ log, maxEvents: 3 });
  await events.start();
  const start = events.delivered;
  // Another writer (a server sharing the log) appends 10 while this hub is not looking; the log keeps 3.
  await log.appendEvents(
    Array.from({ length: 10 }, (_, i) => ({ id: `x${i}`, change: 'watching' as const, at: i, origin: 'there' })),
    3,
  );
  events.record('lost', 'y', { status: status('y', 'lost') });
  await events.settled();
  // The hub's own append pushed x7 out too: the window holds x8, x9 and y.
  assert.equal(resets, [start + 9 - 1], 'told where the kept window begins');
  assert.equal(
    heard.map((e) => e.id),
    ['x8', 'x9', 'y'],
  );
});

test('old events are trimmed by age on the timer; close tells subscribers and stops everything', async () => {
  const clock = new FakeClock();
  const log = new MemoryEventLog(clock.now());
  const { events, closed } = hub({ log, clock });
  await events.start();
  events.record('watching', 'old');
  await events.settled();
  clock.advance(61_000);
  events.record('watching', 'new');
  await events.settled();
  await events.trim();
  const { events: kept } = await log.readEvents(0, 10);
  assert.equal(
    kept.map((e) => e.id),
    ['new'],
  );
  events.close();
  assert.is(closed(), 1);
  assert.is(clock.pendingTimers, 0, 'no timer left behind');
  events.record('watching', 'after-close');
  await events.settled();
  assert.equal(
    (await log.readEvents(0, 10)).events.map((e) => e.id),
    ['new'],
    'nothing recorded once closed',
  );
});

test('a store that fails an append loses that batch, says so, and the next one still goes through', async () => {
  const log = new MemoryEventLog();
  let fail = true;
  const flaky: TaskEventLog = {
    appendEvents: (drafts, keep) => (fail ? Promise.reject(new Error('store down')) : log.appendEvents(drafts, keep)),
    readEvents: (after, limit) => log.readEvents(after, limit),
    trimEvents: (before, limit) => log.trimEvents(before, limit),
  };
  const { events, heard, errors } = hub({ log: flaky });
  await events.start();
  events.record('watching', 'lost-to-the-outage');
  await events.settled();
  assert.is(errors.length, 1);
  fail = false;
  events.record('watching', 'after');
  await events.settled();
  assert.equal(
    heard.map((e) => e.id),
    ['after'],
  );
});

test('follow(): from a cursor, what the log holds and then the live events, each once, even when events come during the catching up', async () => {
  const { events } = hub({ maxEvents: 1_000 });
  await events.start();
  const start = events.delivered;
  for (let i = 0; i < 1_200; i++) events.record('watching', `c${i}`);
  await events.settled();
  const heard: number[] = [];
  let started: number | undefined;
  let pages = 0;
  const following = events.follow(
    start + 500,
    { started: (after) => (started = after), taskEvent: (e) => heard.push(e.seq) },
    // Between pages of catching up, more changes land (live, while this subscriber is not live yet).
    async () => {
      pages++;
      events.record('lost', `during-${pages}`);
      await events.settled();
    },
  );
  await following.done;
  events.record('watching', 'after');
  await events.settled();
  assert.is(started, start + 500);
  assert.is(pages, 1, 'two pages, a pause between them, and live at once after the second');
  assert.equal(
    heard,
    Array.from({ length: heard.length }, (_, i) => start + 501 + i),
    'contiguous, no duplicate',
  );
  assert.is(heard.at(-1), events.delivered, 'up to the last event');
  following.stop();
  events.record('watching', 'after-stop');
  await events.settled();
  assert.is(heard.at(-1), events.delivered - 1, 'nothing after stop');
});

test('follow(): from before the window, or from another sequence, a reset and then live events', async () => {
  const { events } = hub({ maxEvents: 5 });
  await events.start();
  const start = events.delivered;
  for (let i = 0; i < 20; i++) events.record('watching', `r${i}`);
  await events.settled();
  for (const [after, reason] of [
    [start + 3, /the events after \d+ are no longer kept/],
    [events.delivered + 10, /not from this server's sequence/],
  ] as const) {
    const resets: Array<[number, string]> = [];
    const heard: string[] = [];
    const following = events.follow(after, { reset: (at, why) => resets.push([at, why.reason]), taskEvent: (e) => heard.push(e.id) });
    await following.done;
    assert.is(resets.length, 1);
    assert.is(resets[0]![0], events.delivered, 'it goes on from now');
    assert.match(resets[0]![1], reason);
    events.record('watching', `live-${after}`);
    await events.settled();
    assert.equal(heard, [`live-${after}`]);
    following.stop();
  }
});

test('progress: written once per interval with the latest text, an unchanged text is no news, unknown tasks are skipped', async () => {
  const clock = new FakeClock();
  const store = new MemoryStore();
  const noticed: Array<[string, string]> = [];
  const tracker = new TaskTracker({
    store,
    clock,
    leaseMs: 60_000,
    onUpdate: (u) => void (u.kind === 'progress' && noticed.push([u.status.id, u.status.progress!.text])),
  });
  await tracker.watchStarted(['p'], { id: 'w', host: 'h', pid: 1 });
  for (let i = 1; i <= 50; i++)
    tracker.progressed([
      { id: 'p', text: `step ${i}` },
      { id: 'nobody', text: 'x' },
    ]);
  assert.is((await tracker.statuses(['p']))[0]!.progress?.text, 'step 50', 'shown at once on this server');
  assert.is((await store.loadStatuses(['p']))[0]!.progress, undefined, 'not written yet');
  clock.advance(PROGRESS_INTERVAL_MS);
  await tracker.flushProgress();
  assert.equal(noticed, [['p', 'step 50']], 'fifty reports, one write and one notice');
  assert.is((await store.loadStatuses(['p']))[0]!.progress?.text, 'step 50');
  assert.equal(await store.loadStatuses(['nobody']), [], 'progress does not make up a task');
  tracker.progressed([{ id: 'p', text: 'step 50' }]);
  clock.advance(PROGRESS_INTERVAL_MS);
  await tracker.flushProgress();
  assert.is(noticed.length, 1, 'the same text again is not news');
  // Progress still pending when the run ends goes with its end; a line after the end is late, and dropped.
  const states: string[] = [];
  const ending = new TaskTracker({
    store,
    clock,
    leaseMs: 60_000,
    onUpdate: (u) => void states.push(u.kind === 'progress' ? `progress ${u.status.progress!.text}` : u.kind === 'state' ? u.status.state : u.kind),
  });
  await ending.watchStarted(['q'], { id: 'w', host: 'h', pid: 1 });
  ending.progressed([{ id: 'q', text: 'almost' }]);
  const ended = await ending.reported('q', { outcome: 'succeeded', exitCode: 0 });
  assert.is(ended.progress?.text, 'almost', 'the last progress is kept with the end');
  ending.progressed([{ id: 'q', text: 'after the end' }]);
  clock.advance(PROGRESS_INTERVAL_MS);
  await ending.flushProgress();
  assert.equal(states, ['watching', 'succeeded'], 'no progress after the end');
  assert.is((await store.loadStatuses(['q']))[0]!.progress?.text, 'almost');
  ending.close();
  tracker.close();
});

test('progress text: escapes and control characters removed, spaces trimmed, cut to 200 characters; ::progress lines', () => {
  assert.is(progressText('  \x1b[32mepoch 3/10\x1b[0m loss=0.1\r  '), 'epoch 3/10 loss=0.1');
  assert.is(progressText('\x1b]0;evil title\x07done\tnow'), 'done now');
  assert.is(progressText('a\u202Eb\u200Bc\x00d\x9b2Je'), 'abcde');
  assert.is(progressText(' \x1b[2J \t'), undefined, 'nothing left is no progress');
  const long = progressText('日'.repeat(500))!;
  assert.is(Array.from(long).length, MAX_PROGRESS_CHARS);
  assert.ok(long.endsWith('…'));
  assert.is(explicitProgress('::progress epoch 4/10'), 'epoch 4/10');
  assert.is(explicitProgress('::progress'), '');
  assert.is(explicitProgress('::progressive'), undefined);
  assert.is(explicitProgress('say ::progress x'), undefined);
});

test.run();
