// Batched against per-id: cancel-to-watcher p99 of the same ids watched one per connection, and watched by
// a few workers in sessions (two polls each, as `taskctl work` holds), one cancel at a time, in interleaved
// rounds so that the machine's other load falls on both alike. The target: batched never worse, at 1,000
// ids and at 10,000. Run alone: npx tsx bench/batched-latency.ts [--quick].
import { fileURLToPath } from 'node:url';
import { ask, median, quick, ratio, sleep, startClient, startServer } from './harness.ts';

/** Workers the batched ids are split between (the bench's latency rows use the same). */
const BATCH_WORKERS = 4;

async function p99Of(n: number, mode: 'per-id' | 'batched', prefix: string): Promise<number> {
  const server = await startServer('memory');
  const client = startClient();
  await sleep(200);
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  const result = await ask<{ latencyMs: Record<string, number> }>(
    client,
    { kind: 'latency', url: server.url, ids, mode, batchWorkers: BATCH_WORKERS, cancelConcurrency: 1 },
    async () => {
      // Every watch held before the first cancel (each worker's first, at least: as the bench's latency rows wait).
      const want = mode === 'per-id' ? n : BATCH_WORKERS;
      const deadline = Date.now() + 60_000;
      while (((await (await fetch(`${server.url}/healthz`)).json()) as { openWatches: number }).openWatches < want) {
        if (Date.now() > deadline) throw new Error(`${mode}: fewer than ${want} watches held after 60 s`);
        await sleep(20);
      }
      await sleep(300);
    },
  );
  client.kill();
  await server.stop();
  return result.latencyMs.p99!;
}

/** Per size, `rounds` interleaved runs of each mode: the p99s, their medians, and batched over per-id. */
export async function batchedAgainstPerId(sizes: readonly number[], rounds: number, log: (line: string) => void = () => {}) {
  let serial = 0;
  const bySize: Record<string, { perId: number[]; batched: number[]; perIdP99: number; batchedP99: number; batchedToPerId: number }> = {};
  for (const n of sizes) {
    const perId: number[] = [];
    const batched: number[] = [];
    for (let round = 0; round < rounds; round++) {
      log(`batched against per-id: ${n} ids, round ${round + 1} of ${rounds}`);
      perId.push(await p99Of(n, 'per-id', `bp${serial++}`));
      batched.push(await p99Of(n, 'batched', `bb${serial++}`));
    }
    bySize[n] = { perId, batched, perIdP99: median(perId), batchedP99: median(batched), batchedToPerId: ratio(median(batched), median(perId)) };
  }
  return { rounds, batchWorkers: BATCH_WORKERS, bySize };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await batchedAgainstPerId(quick ? [1_000] : [1_000, 10_000], quick ? 1 : 3, (line) => process.stderr.write(`${line}\n`));
  console.log(JSON.stringify(result, null, 2));
  process.exit(0);
}
