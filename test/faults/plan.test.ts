import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type CancelRecord, type FaultWindow, type Hearing, judge, summarize } from '../../bench/faults/check.ts';
import { planTopology, seededRandom } from '../../bench/faults/plan.ts';

const redis = { name: 'redis', servers: 2, storeFaults: ['redis-restart', 'pubsub-kill'] as const };
const sqlite = { name: 'sqlite', servers: 1, storeFaults: [] };
const postgres = { name: 'postgres', servers: 2, storeFaults: ['pg-kill-connections'] as const, addedStoreFaults: ['pg-restart'] as const };

test('plan: the same seed draws the same plan; another seed, another plan', () => {
  assert.equal(planTopology(redis, { seed: 42, quick: true }), planTopology(redis, { seed: 42, quick: true }));
  assert.not.equal(planTopology(redis, { seed: 42, quick: true }).faults, planTopology(redis, { seed: 43, quick: true }).faults);
  const random = seededRandom(7);
  const draws = Array.from({ length: 1_000 }, random);
  assert.ok(
    draws.every((draw) => draw >= 0 && draw < 1),
    'draws are in [0, 1)',
  );
  assert.ok(new Set(draws).size > 990, 'and spread');
});

test('plan: faults never overlap on one target, end before settling, and hit only what the topology has', () => {
  for (let seed = 0; seed < 50; seed++) {
    for (const shape of [redis, sqlite, postgres]) {
      const plan = planTopology(shape, { seed, quick: seed % 2 === 0 });
      const names = new Set([...plan.workers.map((worker) => worker.name), 'store', ...Array.from({ length: shape.servers }, (_, i) => `server-${i}`)]);
      const busyUntil = new Map<string, number>();
      for (const fault of plan.faults) {
        assert.ok(names.has(fault.target), `${fault.target} is in ${shape.name}`);
        assert.ok((busyUntil.get(fault.target) ?? -1) < fault.atMs, `seed ${seed}: two faults at once on ${fault.target}`);
        busyUntil.set(fault.target, fault.atMs + fault.forMs);
        assert.ok(fault.atMs + fault.forMs < plan.phaseMs, 'healed before the phase ends');
        if (fault.kind === 'redis-restart' || fault.kind === 'pubsub-kill') assert.is(shape.name, 'redis');
        if (fault.kind.startsWith('pg-')) assert.is(shape.name, 'postgres');
        if (fault.kind === 'worker-kill' || fault.kind === 'worker-stop') assert.is.not(fault.target, 'pollers', 'the pollers are no process of their own');
      }
      const ids = plan.workers.flatMap((worker) => worker.ids);
      const cancelled = plan.cancels.map((cancel) => cancel.id);
      assert.is(new Set(cancelled).size, cancelled.length, 'each id cancelled once');
      assert.ok(
        cancelled.every((id) => ids.includes(id)),
        'only ids a worker watches',
      );
      assert.ok(cancelled.length < ids.length, 'some ids are never cancelled, so a false report can show');
      assert.ok(
        plan.workers.some((worker) => worker.kind === 'work' && worker.ids.length >= 256),
        'a worker with a watch session',
      );
      assert.ok(
        plan.workers.some((worker) => worker.kind === 'seed-pollers' && worker.ids.length > 256),
        'pollers past the parking line',
      );
    }
  }
});

test('plan: a store fault added to a topology later leaves every fault a seed drew before as it was', () => {
  const before = { name: 'postgres', servers: 2, storeFaults: ['pg-kill-connections'] as const };
  let restarts = 0;
  for (let seed = 0; seed < 50; seed++) {
    for (const quick of [true, false]) {
      const earlier = planTopology(before, { seed, quick });
      const now = planTopology(postgres, { seed, quick });
      assert.equal(
        now.faults.filter((fault) => fault.kind !== 'pg-restart'),
        earlier.faults,
        `seed ${seed}`,
      );
      assert.equal(now.cancels, earlier.cancels);
      restarts += now.faults.filter((fault) => fault.kind === 'pg-restart').length;
    }
  }
  assert.ok(restarts > 100, `${restarts} restarts in 100 plans`);
});

const cancel = (id: string, owner: string, sentAtMs: number, ackedAtMs: number | undefined): CancelRecord => ({
  id,
  owner,
  server: 'server-0',
  sentAtMs,
  ackedAtMs,
});
const heard = (id: string, worker: string, atMs: number, generation = 1): Hearing => ({ id, worker, process: `${worker}#${generation}`, atMs });
const everything = () => true;

test('check: an acknowledged cancel not heard by its owner is lost, even when another worker heard the id', () => {
  const verdict = judge(
    [cancel('a', 'w1', 0, 5), cancel('b', 'w1', 0, 5), cancel('c', 'w1', 0, undefined)],
    [heard('a', 'w1', 10), heard('b', 'w2', 10)],
    [],
    everything,
  );
  assert.is(verdict.acknowledged, 2, 'the unanswered cancel is no set element');
  assert.equal(verdict.lost, ['b']);
});

test('check: an id heard that was never asked for is false; one asked but never answered is not', () => {
  const verdict = judge([cancel('a', 'w1', 0, undefined)], [heard('a', 'w1', 10), heard('z', 'w1', 10)], [], everything);
  assert.equal(verdict.false, ['z']);
  assert.equal(verdict.lost, []);
});

test('check: one process hearing an id twice is a duplicate; a restarted process hearing it again is not', () => {
  const verdict = judge([cancel('a', 'w1', 0, 5)], [heard('a', 'w1', 10), heard('a', 'w1', 20, 2), heard('a', 'w1', 30, 2)], [], everything);
  assert.equal(verdict.duplicates, ['w1#2 a']);
});

test('check: latency runs from the answer to the first hearing, split by the faults that reach the cancel', () => {
  const faults: FaultWindow[] = [{ kind: 'link-cut', target: 'w2', fromMs: 100, untilMs: 2_000 }];
  const verdict = judge(
    [cancel('early', 'w1', 0, 10), cancel('cut-off', 'w2', 500, 510), cancel('before', 'w1', 0, 20)],
    [heard('early', 'w1', 30), heard('cut-off', 'w2', 3_000), heard('cut-off', 'w2', 3_500, 2), heard('before', 'w1', 15)],
    faults,
    (fault, record) => fault.target === record.owner,
  );
  assert.equal(verdict.latencyMs.untouched, [20, 0], 'heard before the answer arrived counts 0');
  assert.equal(verdict.latencyMs.touched, [2_490]);
  assert.equal(
    verdict.slowest.map((slow) => [slow.cancel.id, slow.latencyMs, slow.faults.length]),
    [
      ['cut-off', 2_490, 1],
      ['early', 20, 0],
      ['before', 0, 0],
    ],
    'the tail, named with its faults',
  );
  assert.equal(summarize([5, 1, 3]), { count: 3, p50Ms: 3, p99Ms: 5, maxMs: 5 });
  assert.equal(summarize([]), { count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 });
});

test.run();
