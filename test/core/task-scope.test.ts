import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TaskStatus } from '../../src/core/task-status.ts';
import {
  answerInScope,
  OUTSIDE_ANCESTOR_REASON,
  recordInScope,
  scopePatternProblem,
  snapshotInScope,
  statusInScope,
  TaskScope,
} from '../../src/core/task-scope.ts';

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

test('a stop through an ancestor outside the scope reads neutral: no ancestor id, reason or asker; times stay; in scope it reads as stored', () => {
  const scope = new TaskScope(['a-*']);
  const by = { name: 'b-ops', address: '10.0.0.2', route: 'v1' as const, linkedBy: 'linker' };
  const times = { cancelledAt: 100, expiresAt: 900 };
  // Made from an outside ancestor's record; an own record whose reason passes an outside cancel down.
  const viaOutside = { id: 'a-kid', reason: 'parent b-boss cancelled', ...times, by, parent: 'b-boss' };
  const passedDown = { id: 'a-mid', reason: 'parent b-boss cancelled', ...times, by };
  // An outside ancestor's reason that names a covered task further up still hides the outside link.
  const throughOutside = { id: 'a-kid', reason: 'parent a-top cancelled', ...times, by, parent: 'b-mid' };
  for (const record of [viaOutside, passedDown, throughOutside])
    assert.equal(recordInScope(scope, record), { id: record.id, reason: OUTSIDE_ANCESTOR_REASON, ...times }, record.reason);
  // Nothing outside: the very same object, as for an unscoped token.
  const inside = { id: 'a-kid', reason: 'parent a-top cancelled', ...times, by, parent: 'a-top' };
  const own = { id: 'a-x', reason: 'parent of nothing, just words', ...times, by };
  for (const record of [inside, own]) assert.is(recordInScope(scope, record), record);
  assert.is(recordInScope(undefined, viaOutside), viaOutside);

  const status: TaskStatus = {
    id: 'a-kid',
    state: 'cancel_requested',
    since: 5,
    cancelReason: 'parent b-boss cancelled',
    cancelledBy: by,
    history: [{ state: 'cancel_requested', at: 5 }],
  };
  const shown = statusInScope(scope, status);
  assert.is(shown.cancelReason, OUTSIDE_ANCESTOR_REASON);
  assert.not.ok('cancelledBy' in shown);
  assert.equal(shown.history, status.history);
  assert.is(statusInScope(undefined, status), status);
  const ownCancel: TaskStatus = { ...status, cancelReason: undefined, cancelledBy: { name: 'a-ops', address: 'x', route: 'v1' } };
  assert.is(statusInScope(scope, ownCancel), ownCancel);
  // Its record made neutral hides the status's asker too.
  assert.not.ok('cancelledBy' in statusInScope(scope, ownCancel, true));

  const event = { id: 'a-mid', record: passedDown, status: { ...status, id: 'a-mid' } };
  const read = snapshotInScope(scope, event);
  assert.is(read.record?.reason, OUTSIDE_ANCESTOR_REASON);
  assert.is(read.status?.cancelReason, OUTSIDE_ANCESTOR_REASON);
  const plain = { id: 'a-y', status: { ...status, id: 'a-y', cancelReason: undefined, cancelledBy: undefined } };
  assert.is(snapshotInScope(scope, plain), plain);
});

test('what hides a stop rests on the links: a covered ancestor whose own stop came from outside, and a status no record backs, read neutral', () => {
  const scope = new TaskScope(['a-*']);
  const by = { name: 'b-ops', address: '10.0.0.2', route: 'v1' as const };
  const times = { cancelledAt: 100, expiresAt: 900 };
  // a-kid's record comes from a-top (covered), whose own record a cancel down from outside gave it.
  const fromTop = { id: 'a-kid', reason: 'parent a-top cancelled', ...times, by, parent: 'a-top' };
  const topFromOutside = { id: 'a-top', reason: 'parent b-boss cancelled', ...times, by };
  assert.equal(recordInScope(scope, fromTop, topFromOutside), { id: 'a-kid', reason: OUTSIDE_ANCESTOR_REASON, ...times });
  const topOwn = { id: 'a-top', reason: 'release pulled', ...times, by };
  assert.is(recordInScope(scope, fromTop, topOwn), fromTop);
  // Words that name a covered task decide nothing when no record in scope backs the stop.
  const status: TaskStatus = {
    id: 'a-sp',
    state: 'cancel_requested',
    since: 5,
    cancelReason: 'parent a-anything cancelled',
    cancelledBy: by,
    history: [{ state: 'cancel_requested', at: 5 }],
  };
  assert.is(statusInScope(scope, status, false, true), status);
  const unbacked = statusInScope(scope, status, false, false);
  assert.is(unbacked.cancelReason, OUTSIDE_ANCESTOR_REASON);
  assert.not.ok('cancelledBy' in unbacked);
  assert.is(statusInScope(undefined, status, false, false), status);
});

test("a watch answer through an outside ancestor: every id stopped gets a neutral record of its own, the ancestor's record is not sent", () => {
  const scope = new TaskScope(['a-*']);
  const parent = { id: 'b-boss', reason: 'boss-hush', cancelledAt: 1, expiresAt: 2, by: { name: 'b-ops', address: 'x', route: 'v1' as const } };
  const own = { id: 'a-2', reason: 'parent b-boss cancelled', cancelledAt: 1, expiresAt: 2, by: parent.by };
  const answer = answerInScope(scope, { cancelled: ['a-1', 'a-2', 'a-3'], records: [own], parent });
  assert.is(answer.parent, undefined);
  assert.equal(answer.cancelled, ['a-1', 'a-2', 'a-3']);
  assert.equal(
    answer.records.map((r) => [r.id, r.reason, r.cancelledAt, 'by' in r]),
    ['a-2', 'a-1', 'a-3'].map((id) => [id, OUTSIDE_ANCESTOR_REASON, 1, false]),
  );
  // A covered ancestor, or no scope: as it was.
  const covered = { cancelled: ['a-1'], records: [], parent: { ...parent, id: 'a-boss' } };
  assert.is(answerInScope(scope, covered), covered);
  const unscoped = { cancelled: ['a-1'], records: [], parent };
  assert.is(answerInScope(undefined, unscoped), unscoped);
});

test.run();
