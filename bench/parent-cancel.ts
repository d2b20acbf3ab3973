// Parents: one cancel of a parent with 100,000 children, held by 10 watches of 10,000 ids on the built
// server (sqlite). Measures how long the server takes to mark every child cancel_requested (its own log
// line says), how long until every watch has its answer, and /ping from the probe process meanwhile.
// Runs in `npm run bench`, or alone: npx tsx bench/parent-cancel.ts [--quick]
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ask, quick, scratch, sleep, startClient, startProbe, startServer } from './harness.ts';

export async function parentCancel(watches: number, idsPerWatch: number) {
  const server = await startServer(`sqlite:${join(scratch, 'parents.db')}`);
  const client = startClient();
  let probe: Awaited<ReturnType<typeof startProbe>> | undefined;
  const result = await ask<{ children: number; setUpMs: number; answeredIds: number; allAnsweredMs: number }>(
    client,
    { kind: 'parents', url: server.url, parent: 'bench-job', watches, idsPerWatch, prefix: 'child' },
    async () => {
      // Pinged only from here on: the figures are those of the cancel, not of setting up.
      probe = await startProbe(server.url);
    },
  );
  const logged = () =>
    server.log!()
      .split('\n')
      .find((line) => line.includes('"msg":"children cancelled"'));
  const deadline = Date.now() + 120_000;
  while (!logged()) {
    if (Date.now() > deadline) throw new Error('the server never said it had marked the children');
    await sleep(20);
  }
  const ping = await probe!.stop();
  const line = JSON.parse(logged()!) as { children: number; ms: number };
  client.kill();
  await server.stop();
  return { ...result, marked: line.children, markedMs: line.ms, ping };
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const r = await parentCancel(quick ? 2 : 10, 10_000);
  console.log(JSON.stringify(r, null, 2));
  rmSync(scratch, { recursive: true, force: true });
  process.exit(0);
}
