import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'postgres';
import type { TopologyPlan } from '../../bench/faults/plan.ts';
import { killAll, taskctlCommand } from '../../bench/faults/processes.ts';
import { runTopology } from '../../bench/faults/run-topology.ts';
import { TOPOLOGIES, type Topology } from '../../bench/faults/topologies.ts';

const taskctl = taskctlCommand();
const scratch = mkdtempSync(join(tmpdir(), 'taskctl-faults-test-'));
process.env.TASKCTL_DATA_DIR = scratch;

/** A store that forgets on restart: what the suite must catch. */
const memory: Topology = {
  name: 'memory',
  servers: 1,
  storeFaults: [],
  unavailable: () => undefined,
  open: async () => ({ store: 'memory', breakWith: () => Promise.reject(new Error('no store faults')), close: async () => {} }),
};

/** The worker is cut off, five of its ids are cancelled, the server is killed and restarted, the link heals. */
const plan = (name: string): TopologyPlan => ({
  topology: name,
  workers: [{ name: 'work-a', kind: 'work', ids: Array.from({ length: 10 }, (_, i) => `${name}.${i}`), servers: [0] }],
  faults: [
    { kind: 'link-cut', atMs: 0, forMs: 3_000, target: 'work-a' },
    { kind: 'server-kill', atMs: 1_000, forMs: 300, target: 'server-0' },
  ],
  cancels: Array.from({ length: 5 }, (_, i) => ({ atMs: 300, id: `${name}.${i}`, server: 0 })),
  phaseMs: 3_500,
});

test.after(() => {
  killAll();
  rmSync(scratch, { recursive: true, force: true });
});

test('faults: a store that forgets its cancels on a restart is caught: every acknowledged cancel is lost', async () => {
  const result = await runTopology(memory, plan('memory'), { taskctl, scratch: join(scratch, 'memory'), log: () => {}, settleMs: 8_000 });
  assert.is(result.verdict.acknowledged, 5);
  assert.equal([...result.verdict.lost].sort(), ['memory.0', 'memory.1', 'memory.2', 'memory.3', 'memory.4']);
  assert.equal(result.verdict.false, []);
  assert.equal(result.problems, []);
});

test('faults: the same faults on sqlite lose nothing, and the cancels are heard after a fault', async () => {
  const sqlite = TOPOLOGIES.find((topology) => topology.name === 'sqlite')!;
  const result = await runTopology(sqlite, plan('sqlite'), { taskctl, scratch: join(scratch, 'sqlite'), log: () => {}, settleMs: 20_000 });
  assert.is(result.verdict.acknowledged, 5);
  assert.equal(result.verdict.lost, []);
  assert.equal(result.verdict.false, []);
  assert.equal(result.verdict.duplicates, []);
  assert.is(result.verdict.latencyMs.touched.length, 5, 'all five were touched by the cut');
  assert.equal(result.faults, { 'link-cut': 1, 'server-kill': 1 });
});

test('faults: PostgreSQL restarted (-m immediate) while cancels are made loses none of those it acknowledged', async () => {
  const postgres = TOPOLOGIES.find((topology) => topology.name === 'postgres')!;
  const why = postgres.unavailable(taskctl);
  if (why) return console.warn(`SKIPPED: ${why}`);
  // The same topology, noting when its PostgreSQL started: at the start and again after the fault healed.
  const startedAt: string[] = [];
  const noted: Topology = {
    ...postgres,
    open: async (dir) => {
      const store = await postgres.open(dir);
      const note = async () => {
        const sql = pg(store.store, { max: 1, onnotice: () => {} });
        startedAt.push(String((await sql`SELECT pg_postmaster_start_time() AS at`)[0]!.at));
        await sql.end({ timeout: 1 });
      };
      await note();
      return {
        ...store,
        breakWith: async (kind) => {
          const heal = await store.breakWith(kind);
          return async () => {
            await heal();
            await note();
          };
        },
      };
    },
  };
  const ids = Array.from({ length: 10 }, (_, i) => `postgres.${i}`);
  const restartPlan: TopologyPlan = {
    topology: 'postgres',
    workers: [{ name: 'work-a', kind: 'work', ids, servers: [0] }],
    faults: [{ kind: 'pg-restart', atMs: 1_500, forMs: 1_000, target: 'store' }],
    // Before, during and after the restart, to either server: those made while it is down are refused.
    cancels: ids.slice(0, 6).map((id, i) => ({ atMs: i * 500, id, server: i % 2 })),
    phaseMs: 3_500,
  };
  const result = await runTopology(noted, restartPlan, { taskctl, scratch: join(scratch, 'postgres'), log: () => {}, settleMs: 20_000 });
  assert.is(startedAt.length, 2);
  assert.is.not(startedAt[1], startedAt[0], 'PostgreSQL itself was restarted');
  assert.ok(result.verdict.acknowledged >= 1, 'the cancel made a second and a half before the restart was acknowledged');
  assert.equal(result.verdict.lost, []);
  assert.equal(result.verdict.false, []);
  assert.equal(result.verdict.duplicates, []);
  assert.equal(result.faults, { 'pg-restart': 1 });
});

test.run();
