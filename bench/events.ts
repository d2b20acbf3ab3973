// The event stream: how soon a change reaches 100 connected GET /v1/events clients, and what an idle
// stream costs the server in memory. The server is the built binary (memory store); the clients are a
// process of their own (event-clients.ts). Run alone: npx tsx bench/events.ts [--quick].
import { fork } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { EventScenario } from './event-clients.ts';
import { quick, rssKb, sleep, startServer, track } from './harness.ts';

const here = fileURLToPath(new URL('.', import.meta.url));

function startClients() {
  return track(fork(join(here, 'event-clients.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
}

function ask<T>(client: ReturnType<typeof startClients>, scenario: EventScenario, onOpened?: () => Promise<void>): Promise<T> {
  return new Promise((resolve, reject) => {
    client.on('message', async (message: { opened?: boolean; result?: T; error?: string }) => {
      if (message.opened) {
        await onOpened?.();
        client.send({ go: true });
      } else if (message.error) reject(new Error(message.error));
      else if (message.result) resolve(message.result);
    });
    client.send({ scenario });
  });
}

/** One change at a time, then bursts of 16, each to `clients` streams. */
export async function eventFanout(clients = 100) {
  const server = await startServer('memory');
  const results = [];
  for (const burst of [1, 16]) {
    const client = startClients();
    results.push(
      await ask<Record<string, unknown>>(client, { kind: 'fanout', url: server.url, clients, changes: quick ? 100 : 500, burst, prefix: `burst${burst}` }),
    );
    client.kill();
  }
  await server.stop();
  return results;
}

/** Server RSS with `clients` idle streams open, against none. */
export async function eventStreamMemory(clients = quick ? 1_000 : 5_000) {
  const server = await startServer('memory');
  await sleep(500);
  const idle = rssKb(server.pid);
  let held = 0;
  const client = startClients();
  await ask(client, { kind: 'hold', url: server.url, clients }, async () => {
    await sleep(1_000);
    held = rssKb(server.pid);
  });
  client.kill();
  await server.stop();
  return {
    clients,
    serverRssIdleMb: Math.round(idle / 1024),
    serverRssHeldMb: Math.round(held / 1024),
    bytesPerStream: Math.round(((held - idle) * 1024) / clients),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const load = loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
  const fan = await eventFanout();
  const memory = await eventStreamMemory();
  console.log(
    JSON.stringify(
      {
        machine: {
          cpus: cpus().length,
          loadBefore: load,
          loadAfter: loadavg()
            .map((n) => n.toFixed(2))
            .join(' '),
        },
        fanout: fan,
        memory,
      },
      null,
      2,
    ),
  );
}
