import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nextTurn } from '../../src/core/turns.ts';

test('callers are let go in the order they asked, one per turn of the event loop', async () => {
  const order: string[] = [];
  const waits = ['a', 'b', 'c'].map((name) =>
    nextTurn().then(() => {
      order.push(name);
      // Work that a released caller hands back to the event loop runs before the caller after next:
      // callers are not all let go in one go.
      if (name === 'a') setImmediate(() => order.push('after a'));
    }),
  );
  await Promise.all(waits);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(order, ['a', 'b', 'after a', 'c']);
});

test.run();
