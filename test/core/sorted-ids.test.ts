import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SortedIds } from '../../src/core/sorted-ids.ts';

// A seeded generator, so a failure repeats.
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
}

test('adds, deletes and pages like a sorted array, across many chunks', () => {
  const ids = new SortedIds();
  const reference = new Set<string>();
  const next = random(7);
  // Enough ids for dozens of chunks, with deletes that empty some of them.
  for (let step = 0; step < 40_000; step++) {
    const id = `t-${Math.floor(next() * 20_000)}`;
    if (next() < 0.6) {
      ids.add(id);
      reference.add(id);
    } else {
      ids.delete(id);
      reference.delete(id);
    }
  }
  const sorted = [...reference].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  assert.is(ids.size, sorted.length);
  assert.equal(ids.page(undefined, sorted.length + 10), sorted);
  // Paging through in pages of 333, each after the last id of the one before, gives everything once.
  const paged: string[] = [];
  for (let page = ids.page(undefined, 333); page.length > 0; page = ids.page(paged.at(-1), 333)) paged.push(...page);
  assert.equal(paged, sorted);
  // After an id that is not there: from the next one that is.
  assert.equal(ids.page('t-1000x', 3), sorted.filter((id) => id > 't-1000x').slice(0, 3));
  assert.equal(ids.page(sorted.at(-1), 5), []);
});

test('an id added twice is held once; deleting one that is not there changes nothing', () => {
  const ids = new SortedIds();
  ids.add('b');
  ids.add('a');
  ids.add('b');
  ids.delete('c');
  assert.is(ids.size, 2);
  assert.equal(ids.page(undefined, 10), ['a', 'b']);
  ids.delete('a');
  ids.delete('b');
  assert.is(ids.size, 0);
  assert.equal(ids.page(undefined, 10), []);
  assert.equal(ids.page('a', 10), []);
});

test.run();
