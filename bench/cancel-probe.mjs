// Preloaded into a server under bench/cancel-cost.ts (node --import): on SIGUSR2 it starts counting, on
// the next it writes to $CANCEL_PROBE_OUT the CPU time (process.cpuUsage) and the bytes allocated on V8's
// heap meanwhile (what is in use at the end, less at the start, plus what every collection in between freed).
import { appendFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { GCProfiler, getHeapStatistics } from 'node:v8';

// With $CANCEL_PROBE_PROFILE set, a CPU profile of the same span is written there.
const session = process.env.CANCEL_PROBE_PROFILE ? new Session() : undefined;
if (session) {
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 100 });
}

let started;
process.on('SIGUSR2', () => {
  if (started === undefined) {
    const profiler = new GCProfiler();
    profiler.start();
    session?.post('Profiler.start');
    started = { profiler, cpu: process.cpuUsage(), used: getHeapStatistics().used_heap_size };
    return;
  }
  const cpu = process.cpuUsage(started.cpu);
  const used = getHeapStatistics().used_heap_size;
  const { statistics } = started.profiler.stop();
  let freed = 0;
  const kinds = {};
  for (const gc of statistics) {
    freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
    kinds[gc.gcType] = (kinds[gc.gcType] ?? 0) + 1;
  }
  writeFileSync(
    process.env.CANCEL_PROBE_OUT,
    JSON.stringify({ cpuUs: cpu.user + cpu.system, allocatedBytes: used - started.used + freed, collections: kinds }),
  );
  started = undefined;
  session?.post('Profiler.stop', (error, result) => {
    if (!error) writeFileSync(process.env.CANCEL_PROBE_PROFILE, JSON.stringify(result.profile));
  });
});

// On SIGWINCH: what the process holds, after a full collection when --expose-gc allows one, to
// $CANCEL_PROBE_OUT.mem (appended, one JSON line each).
process.on('SIGWINCH', () => {
  globalThis.gc?.();
  const heap = getHeapStatistics();
  const usage = process.memoryUsage();
  appendFileSync(
    `${process.env.CANCEL_PROBE_OUT}.mem`,
    `${JSON.stringify({ rss: usage.rss, heapUsed: heap.used_heap_size, heapTotal: heap.total_heap_size, external: usage.external, malloced: heap.malloced_memory })}\n`,
  );
});
