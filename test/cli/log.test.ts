import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger, GATHER_MS, MAX_REPEAT_KINDS, NAMED_REFUSERS, REPEAT_WINDOW_MS, refusalLog } from '../../src/cli/log.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

function collect() {
  const lines: string[] = [];
  let writes = 0;
  const stream = {
    write: (chunk: string) => {
      writes++;
      lines.push(...chunk.split('\n').filter(Boolean));
    },
  } as unknown as NodeJS.WritableStream;
  return { lines, stream, writes: () => writes };
}

test('the same error logged every 250 ms is written once, then summed up once a minute', () => {
  const clock = new FakeClock();
  const { lines, stream } = collect();
  const log = createLogger(stream, 'plain', clock);
  for (let i = 0; i < 240; i++) {
    log.error('background task failed', { error: 'redis unavailable: connect ECONNREFUSED' });
    clock.advance(250);
  }
  assert.is(lines.length, 2, lines.join('\n'));
  assert.match(lines[0]!, /error background task failed error="redis unavailable: connect ECONNREFUSED"$/);
  assert.match(lines[1]!, /error background task failed \(repeated 239 times in the last minute\)/);
  // A different error is news at once; the quiet one is forgotten after a silent window.
  log.error('background task failed', { error: 'something else' });
  assert.is(lines.length, 3);
  clock.advance(2 * REPEAT_WINDOW_MS);
  log.error('background task failed', { error: 'redis unavailable: connect ECONNREFUSED' });
  assert.is(lines.length, 4, 'after a quiet minute the first error is written again');
  log.close();
  assert.is(clock.pendingTimers, 0);
});

test('errors of more kinds than it counts at once (refusals from as many addresses) are counted in one line a minute', () => {
  const clock = new FakeClock();
  const { lines, stream } = collect();
  const log = createLogger(stream, 'plain', clock);
  for (let i = 0; i < MAX_REPEAT_KINDS + 500; i++) log.error('request refused', { status: 401, from: `10.0.${i >> 8}.${i & 255}` });
  assert.is(lines.length, MAX_REPEAT_KINDS, 'a line for each kind it counts');
  clock.advance(REPEAT_WINDOW_MS);
  assert.is(lines.length, MAX_REPEAT_KINDS + 1);
  assert.match(lines.at(-1)!, /error 500 more errors of other kinds in the last minute, not written one by one$/);
  // Quiet for a window, the kinds are forgotten: a new one is written again.
  clock.advance(REPEAT_WINDOW_MS);
  log.error('request refused', { status: 401, from: '192.0.2.1' });
  assert.match(lines.at(-1)!, /from=192\.0\.2\.1/);
  log.close();
  assert.is(clock.pendingTimers, 0);
});

test('refused requests: each address once a minute, the first ten addresses by name, the rest as one line', () => {
  const clock = new FakeClock();
  const { lines, stream } = collect();
  const log = createLogger(stream, 'plain', clock);
  const refused = refusalLog(log, clock);
  for (let round = 0; round < 3; round++)
    for (let i = 0; i < 500; i++) refused({ status: 401, message: 'missing or wrong token', address: `2001:db8::${i.toString(16)}` });
  assert.is(lines.length, NAMED_REFUSERS + 1, lines.join('\n'));
  assert.match(lines[0]!, /error request refused status=401 from=2001:db8::0 error="missing or wrong token"$/);
  assert.match(lines.at(-1)!, /from="other addresses"/);
  clock.advance(REPEAT_WINDOW_MS);
  // The summaries: how often each repeated, the strangers' as one line.
  assert.match(lines.at(-1)!, /request refused \(repeated 1469 times in the last minute\) status=401 from="other addresses"/);
  log.close();
});

test('info lines close behind one another are written together, in order, an error at once and close() the rest', () => {
  const clock = new FakeClock();
  const { lines, stream, writes } = collect();
  const log = createLogger(stream, 'json', clock);
  log.info('cancelled', { id: 'a' });
  assert.equal(
    lines.map((line) => JSON.parse(line).id),
    ['a'],
    'a line after a quiet spell is written at once',
  );
  log.info('cancelled', { id: 'b' });
  log.info('cancelled', { id: 'c' });
  assert.is(lines.length, 1, 'the lines that follow within the window wait');
  clock.advance(GATHER_MS);
  assert.equal(
    lines.map((line) => JSON.parse(line).id),
    ['a', 'b', 'c'],
  );
  assert.is(writes(), 2, 'the two gathered lines were one write');
  log.info('cancelled', { id: 'd' });
  log.error('request failed', { error: 'boom' });
  assert.equal(
    lines.slice(3).map((line) => JSON.parse(line).id ?? JSON.parse(line).msg),
    ['d', 'request failed'],
    'an error is written at once, after what was gathered',
  );
  log.info('cancelled', { id: 'e' });
  clock.advance(GATHER_MS);
  clock.advance(GATHER_MS);
  log.info('cancelled', { id: 'f' });
  assert.is(JSON.parse(lines.at(-1)!).id, 'f', 'after a window with nothing gathered, a line is written at once again');
  log.info('cancelled', { id: 'g' });
  log.close();
  assert.equal(
    lines.map((line) => JSON.parse(line).id ?? JSON.parse(line).msg),
    ['a', 'b', 'c', 'd', 'request failed', 'e', 'f', 'g'],
  );
  assert.is(clock.pendingTimers, 0);
});

test('text from outside is printable in plain lines and terminal-safe in JSON', () => {
  const { lines, stream } = collect();
  createLogger(stream, 'plain').info('cancelled', { id: 'x\x1b]0;t\x07', reason: 'a\x1b[2J\nb' });
  createLogger(stream, 'json').info('cancelled', { reason: 'a\u009b2J\u202Eb' });
  assert.is(lines.length, 2);
  assert.match(lines[0]!, 'id=x␛]0;t␇ reason="a\\u001b[2J\\nb"');
  assert.not.match(lines[0]!, /[\x00-\x1f]/);
  assert.not.match(lines[1]!, /[\x1b\x9b\u202e]/);
  assert.is(JSON.parse(lines[1]!).reason, 'a\u009b2J\u202Eb');
});

test.run();
