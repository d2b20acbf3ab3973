// The web page's state rules without a browser: the URL's view, the task list under listings and events,
// the row window, the anchor that keeps rows still, and the event-stream framing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TaskEventData } from '../../src/protocol/events.ts';
import { ago, anchorShift, fromNow, rowWindow, searchOfView, TaskList, viewOfSearch } from '../../src/web/page-state.ts';
import { SseParser } from '../../src/protocol/sse.ts';

const T0 = '2026-01-01T00:00:00.000Z';
const event = (id: string, state: string, change = state): TaskEventData =>
  ({ id, cancelled: state === 'cancelled', change, at: T0, status: { state, since: T0, history: [] } }) as TaskEventData;
const listed = (id: string, state: string) => ({ id, status: { state, since: T0, history: [] } }) as never;

test('the view comes from the URL and goes back to it; what it cannot mean is left out', () => {
  assert.equal(viewOfSearch('?q=train-&state=watching&task=job%2F1'), { q: 'train-', state: 'watching', task: 'job/1' });
  assert.equal(viewOfSearch('?state=nonsense&q='), { q: '' }, 'an unknown state is no filter');
  assert.equal(viewOfSearch('?q=' + 'x'.repeat(5_000)).q.length, 256);
  assert.is(searchOfView({ q: '' }), '');
  for (const view of [
    { q: 'a b&c', state: 'lost' as const },
    { q: '', task: '<img src=x>' },
    { q: 'x', task: 'y' },
  ]) {
    assert.equal(viewOfSearch(searchOfView(view)), view, JSON.stringify(view));
  }
});

test('the first listing shows page by page; events during it wait and apply after, in order', () => {
  const list = new TaskList();
  list.beginListing();
  list.listed([listed('b', 'watching')]);
  assert.is(list.size, 1, 'the first page shows before the listing ends');
  assert.equal(list.apply([event('b', 'cancel_requested'), event('c', 'watching'), event('b', 'cancelled')]), new Set(), 'held');
  assert.is(list.get('b')!.status!.state, 'watching');
  list.listed([listed('a', 'lost')]);
  const changed = list.endListing();
  assert.equal([...changed].sort(), ['b', 'c']);
  assert.is(list.get('b')!.status!.state, 'cancelled', 'the latest event wins');
  assert.equal(list.shown({ q: '' }), ['a', 'b', 'c']);
});

test('a listing after a reset replaces what was known only when it ends; a task it lacks is gone', () => {
  const list = new TaskList();
  list.beginListing();
  list.listed([listed('old', 'watching'), listed('kept', 'watching')]);
  list.endListing();
  list.beginListing();
  list.listed([listed('kept', 'succeeded')]);
  assert.equal(list.shown({ q: '' }), ['kept', 'old'], 'unchanged while listing');
  list.endListing();
  assert.equal(list.shown({ q: '' }), ['kept']);
  assert.is(list.get('kept')!.status!.state, 'succeeded');
});

test('only a change of state flashes a row; progress does not', () => {
  const list = new TaskList();
  assert.equal([...list.apply([event('a', 'watching')])], ['a']);
  assert.equal([...list.apply([event('a', 'watching', 'progress')])], []);
  assert.equal([...list.apply([event('a', 'cancel_requested')])], ['a']);
});

test('search is an id substring in any case, with the state filter; the result is kept until something changes', () => {
  const list = new TaskList();
  list.apply([event('train-1', 'watching'), event('Train-2', 'cancelled'), event('eval-1', 'watching')]);
  assert.equal(list.shown({ q: 'TRAIN' }), ['Train-2', 'train-1']);
  assert.equal(list.shown({ q: 'train', state: 'watching' }), ['train-1']);
  assert.equal(list.shown({ q: '', state: 'lost' }), []);
  const once = list.shown({ q: 'train' });
  assert.ok(list.shown({ q: 'train' }) === once, 'the same array while nothing changed');
  list.apply([event('train-3', 'watching')]);
  assert.equal(list.shown({ q: 'train' }), ['Train-2', 'train-1', 'train-3']);
});

test('the row window covers the screen and some more, and never leaves the list', () => {
  assert.equal(rowWindow(0, 40, 100, 0, 800), { first: 0, end: 0 });
  assert.equal(rowWindow(10_000, 40, 100, 0, 800, 5), { first: 0, end: 23 });
  assert.equal(rowWindow(10_000, 40, 100, 100 + 40 * 5_000, 800, 5), { first: 4_995, end: 5_025 });
  assert.equal(rowWindow(10, 40, 100, 100_000, 800, 5), { first: 9, end: 10 });
});

test('rows that come above the first one on screen scroll the page by as much, so it stays put', () => {
  assert.is(anchorShift(['b', 'c', 'd'], ['a', 'aa', 'b', 'c', 'd'], 'c', 40), 80);
  assert.is(anchorShift(['a', 'b', 'c'], ['b', 'c'], 'c', 60), -60);
  assert.is(anchorShift(['a', 'b'], ['a'], 'b', 40), 0, 'gone: nothing to keep');
  assert.is(anchorShift([], ['a'], undefined, 40), 0);
});

test('times read as people say them', () => {
  const now = Date.parse(T0);
  assert.is(ago(T0, now + 12_000), '12s ago');
  assert.is(ago(T0, now + 3 * 60_000), '3m ago');
  assert.is(ago(T0, now + 2 * 3_600_000), '2h ago');
  assert.is(ago(T0, now + 4 * 86_400_000), '4d ago');
  assert.is(ago(T0, now - 5_000), '0s ago', 'a clock behind the server is no negative age');
  assert.is(fromNow(new Date(now + 599_500).toISOString(), now), 'in 10m 0s');
  assert.is(fromNow(T0, now + 1), 'now');
});

test('the event stream is framed whatever the chunks: CRLF split across them, comments, ids, multi-line data', () => {
  const reader = new SseParser();
  const bytes = new TextEncoder().encode(': hi\r\nevent: task\r\nid: 7\r\ndata: {"a":\r\ndata: 1}\r\n\r\nid: 8\nevent: reset\ndata: {}\n\n');
  const messages = [];
  // One byte at a time: every split there is.
  for (const byte of bytes) messages.push(...reader.push(new Uint8Array([byte])));
  assert.equal(messages, [
    { type: 'task', data: '{"a":\n1}', id: '7' },
    { type: 'reset', data: '{}', id: '8' },
  ]);
  assert.is(reader.lastId, '8');
  assert.throws(() => new SseParser().push(new TextEncoder().encode('data: ' + 'x'.repeat(1_100_000))), /more than 262144 bytes/);
});

test.run();
