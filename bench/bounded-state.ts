// Bounded state: a server that sees millions of task ids keeps its memory and its file from growing, and
// never makes a bystander's /ping wait. Both scenarios run on the default (sqlite) store.
import { join } from 'node:path';
import { ask, metric, type ProbeStats, quick, ratio, rssKb, scratch, sleep, sqliteBytes, startClient, startProbe, startServer } from './harness.ts';

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

/**
 * Flood: `watches` watches of `idsPerWatch` fresh ids each (a status is written for every id), then 150
 * `taskctl ls` at once. The probe's /ping figures are taken for each phase.
 */
export async function flood(watches: number, idsPerWatch: number, pagers: number) {
  const db = join(scratch, 'flood.db');
  const server = await startServer(`sqlite:${db}`);
  const probe = await startProbe(server.url);
  const client = startClient();
  await sleep(200);
  const idle = rssKb(server.pid);
  let floodPing: ProbeStats | undefined;
  let heldRss = 0;
  const result = await ask<{ tracked: number; writtenMs: number; firstPageMs: number; pages: { p50: number; p99: number; max: number } }>(
    client,
    { kind: 'flood', url: server.url, watches, idsPerWatch, pagers, prefix: 'flood' },
    async () => {
      floodPing = await probe.mark();
      heldRss = rssKb(server.pid);
    },
  );
  const listingPing = await probe.stop();
  const after = { rssMb: Math.round(rssKb(server.pid) / 1024), dbMb: mb(sqliteBytes(db)) };
  client.kill();
  await sleep(500);
  const released = Math.round(rssKb(server.pid) / 1024);
  await server.stop();
  return {
    watches,
    idsPerWatch,
    pagers,
    ...result,
    ping: { flood: floodPing!, listing: listingPing },
    rssMb: { idle: Math.round(idle / 1024), held: Math.round(heldRss / 1024), afterListing: after.rssMb, afterRelease: released },
    dbMb: after.dbMb,
  };
}

interface Sample {
  atSeconds: number;
  rssMb: number;
  dbMb: number;
  tracked: number;
}

/**
 * Churn: `total` distinct ids pass through watch -> cancel -> report with a short retention and TTL, and
 * memory, file size and tracked tasks are sampled as they go: all three should level off, not grow.
 */
export async function churn(total: number) {
  const db = join(scratch, 'churn.db');
  const retentionMs = 5_000;
  // A 1 s watch timeout makes the lease 3 s, under the 5 s retention; records expire as fast.
  const server = await startServer(`sqlite:${db}`, { '--watch-timeout': '1s', '--retention': `${retentionMs}ms`, '--ttl': `${retentionMs}ms` });
  const probe = await startProbe(server.url);
  const client = startClient();
  const samples: Sample[] = [];
  const started = Date.now();
  let peakRssMb = 0;
  const sampler = setInterval(
    async () => {
      const rssMb = Math.round(rssKb(server.pid) / 1024);
      peakRssMb = Math.max(peakRssMb, rssMb);
      samples.push({
        atSeconds: Math.round((Date.now() - started) / 1000),
        rssMb,
        dbMb: mb(sqliteBytes(db)),
        tracked: await metric(server.url, 'taskctl_tasks_tracked'),
      });
    },
    quick ? 1_000 : 5_000,
  );
  const result = await ask<{ ids: number; failed: number; seconds: number; idsPerSecond: number }>(client, {
    kind: 'churn',
    url: server.url,
    total,
    batch: 1_000,
    inFlight: 4,
    concurrency: 16,
    prefix: 'churn',
  });
  clearInterval(sampler);
  const ping = await probe.stop();
  const end = { rssMb: Math.round(rssKb(server.pid) / 1024), dbMb: mb(sqliteBytes(db)), tracked: await metric(server.url, 'taskctl_tasks_tracked') };
  client.kill();
  await server.stop();
  const quarter = samples[Math.floor(samples.length / 4)] ?? samples[0]!;
  // What the retention window can hold: ids that went through in the last (retention + lease + a sweep).
  const windowBound = Math.round(result.idsPerSecond * ((retentionMs + 3_000 + 1_000) / 1_000));
  return {
    ...result,
    ping,
    peakRssMb,
    quarter,
    end,
    rssEndToQuarter: ratio(end.rssMb, quarter.rssMb),
    dbEndToQuarter: ratio(end.dbMb, Math.max(1, quarter.dbMb)),
    trackedWindowBound: windowBound,
    samples,
  };
}
