import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
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

test.run();
