// Webhooks with the endpoint down: a flood of ended tasks, each an event for a --webhook URL that refuses
// connections. What it costs the server afterwards: CPU over the next seconds, tries made (the failed
// count on /metrics), and RSS, with the queue still full. Run alone: npx tsx bench/webhook-storm.ts [--quick].
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { cpuTicks, quick, rssKb, sleep, startServer } from './harness.ts';
import { freePort } from '../test/helpers/tcp-proxy.ts';

async function metric(url: string, line: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? Number.NaN : Number(found.slice(found.lastIndexOf(' ') + 1));
}

/** Reports `count` tasks failed, `concurrency` at a time. */
async function endTasks(url: string, count: number, concurrency = 32): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const body = '{"outcome":"failed","exitCode":1}';
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const id = `storm-${next++}`;
        await new Promise<void>((resolve, reject) => {
          const req = request(
            `${url}/v1/tasks/${id}/report`,
            { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
            (res) => {
              res.resume();
              res.on('end', resolve);
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      }
    }),
  );
  agent.destroy();
}

/** `events` events for an endpoint that is down; CPU, tries and RSS over the `watchSeconds` after. */
export async function webhookStorm(events = quick ? 10_000 : 60_000, watchSeconds = quick ? 15 : 60) {
  const down = `http://127.0.0.1:${await freePort()}/hooks`;
  const server = await startServer('memory', { '--webhook': down, '--webhook-secret': 'bench-secret-bench-secret' });
  await sleep(300);
  const idleRssMb = Math.round(rssKb(server.pid) / 1024);
  await endTasks(server.url, events);
  const ticks = cpuTicks(server.pid);
  const triesBefore = await metric(server.url, 'taskctl_webhook_deliveries_total{outcome="failed"}');
  await sleep(watchSeconds * 1_000);
  const cpuPercent = Math.round(((cpuTicks(server.pid) - ticks) / 100 / watchSeconds) * 1_000) / 10;
  const tries = await metric(server.url, 'taskctl_webhook_deliveries_total{outcome="failed"}');
  const queued = await metric(server.url, 'taskctl_webhook_queue');
  const rssMb = Math.round(rssKb(server.pid) / 1024);
  await server.stop();
  return { events, watchSeconds, cpuPercent, triesWhileFlooding: triesBefore, triesAfter: tries - triesBefore, queued, idleRssMb, rssMb };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await webhookStorm(), null, 2));
  process.exit(0);
}
