// What serve sizes V8's young generation by: the ids its watches hold, and its event streams.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { eventually, startTestServer } from '../helpers/server.ts';

test('the server tells each change in the ids its watches hold and the streams it keeps, down to none', async () => {
  const told: number[] = [];
  const server = await startTestServer({ onHeldChanged: (held) => told.push(held) });
  const leaving = new AbortController();
  const held = [
    fetch(`${server.url}/watch-task/a`, { signal: leaving.signal }),
    fetch(`${server.url}/v1/watch?ids=b,c`, { signal: leaving.signal }),
    fetch(`${server.url}/v1/events`, { signal: leaving.signal }),
  ];
  await eventually(() => told.at(-1) === 4, 'three ids in two watches, and a stream');
  // A re-poll of a cancelled id is answered as it comes: it is never held, so never told.
  await (await fetch(`${server.url}/cancel-task/done`)).text();
  const before = told.length;
  assert.is(await (await fetch(`${server.url}/watch-task/done`)).text(), 'true');
  assert.is(told.length, before);
  // A cancel answers its watch: one fewer held.
  await (await fetch(`${server.url}/cancel-task/a`)).text();
  assert.is(await (await held[0]!).text(), 'true');
  await eventually(() => told.at(-1) === 3, 'the answered watch let go of its id');
  leaving.abort();
  await Promise.allSettled(held);
  await eventually(() => told.at(-1) === 0, 'the clients that left let go');
  assert.ok(
    told.every((n) => n >= 0 && n <= 4),
    `never more than held: ${told}`,
  );
  await server.close();
});

test.run();
