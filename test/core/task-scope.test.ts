import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scopePatternProblem, TaskScope } from '../../src/core/task-scope.ts';

test('a scope covers its exact ids and the ids starting with its prefixes, nothing else', () => {
  const scope = new TaskScope(['team-a-*', 'shared', 'x.*']);
  for (const id of ['team-a-', 'team-a-1', 'team-a-build/../x'.replace('/', '-'), 'shared', 'x.1']) assert.ok(scope.covers(id), id);
  for (const id of ['team-a', 'team-b-1', 'shared-2', 'sharedx', 'x', 'xx.1', 'TEAM-A-1']) assert.not.ok(scope.covers(id), id);
  assert.is(scope.firstOutside(['team-a-1', 'shared', 'team-b-1', 'zz']), 'team-b-1');
  assert.is(scope.firstOutside(['team-a-1', 'shared']), undefined);
  assert.is(String(scope), 'team-a-*,shared,x.*');
  assert.ok(scope.equals(new TaskScope(['team-a-*', 'shared', 'x.*'])));
  assert.not.ok(scope.equals(new TaskScope(['team-a-*', 'shared'])));
  assert.not.ok(scope.equals(undefined));
});

test('patterns: an exact id or a prefix ending in *; anything else says why', () => {
  for (const good of ['a', 'team-a-*', '.*', 'ü-*', 'a.b@c']) assert.is(scopePatternProblem(good), undefined, good);
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['*', /covers every task/],
    ['a*b', /may only end a pattern/],
    ['**', /may only end a pattern/],
    ['a/b*', /the pattern contains "\/"/],
    ['a\u0000', /the pattern contains U\+0000/],
    ['..', /cannot travel in a URL path/],
    ['x'.repeat(300), /bytes long/],
  ];
  for (const [pattern, why] of bad) assert.match(scopePatternProblem(pattern) ?? 'accepted', why, pattern);
  assert.throws(() => new TaskScope([]), /at least one pattern/);
  assert.throws(() => new TaskScope(['a*b']), /may only end/);
});

test('resumeAfter skips the stretches no pattern can match, never a covered id', () => {
  const scope = new TaskScope(['m-*', 'qq', 'c-*']);
  // From the start: just before the first covered stretch ("c-" less its last character).
  assert.is(scope.resumeAfter(undefined), 'c');
  // Inside a prefix's stretch, the walk goes on from where it is.
  assert.is(scope.resumeAfter('c-17'), 'c-17');
  // Past "c-", before "m-": on to just before "m-".
  assert.is(scope.resumeAfter('d'), 'm');
  // Past every prefix, before the exact id: just before it.
  assert.is(scope.resumeAfter('n'), 'q');
  // Past everything: nothing can follow.
  assert.is(scope.resumeAfter('qq'), null);
  assert.is(scope.resumeAfter('zzz'), null);
  // A one-character exact id is found from the start.
  assert.is(new TaskScope(['q', 'z-*']).resumeAfter(undefined), undefined);
  // A character outside the BMP is not split.
  assert.is(new TaskScope(['a😀*']).resumeAfter(undefined), 'a');
  assert.is(new TaskScope(['😀b*']).resumeAfter(undefined), '😀');
});

test('resumeAfter, checked against a walk of every id: a scoped walk meets exactly the covered ids, in order', () => {
  const ids = Array.from({ length: 400 }, (_, i) => `${'abcdefgh'[i % 8]}${'-_.'[i % 3]}${i}`).sort();
  const scope = new TaskScope(['b-*', 'd_*', 'h.3*', 'a-0', 'g']);
  const page = (after: string | undefined, limit: number) => ids.filter((id) => after === undefined || id > after).slice(0, limit);
  const met: string[] = [];
  let reads = 0;
  for (let cursor = scope.resumeAfter(undefined); cursor !== null; ) {
    const found = page(cursor, 7);
    reads++;
    met.push(...found.filter((id) => scope.covers(id)));
    if (found.length < 7) break;
    cursor = scope.resumeAfter(found.at(-1)!);
  }
  assert.equal(
    met,
    ids.filter((id) => scope.covers(id)),
  );
  assert.ok(reads < Math.ceil(ids.length / 7), `skipped stretches: ${reads} reads`);
});

test.run();
