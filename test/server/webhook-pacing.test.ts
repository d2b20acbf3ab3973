// One endpoint's pace, with time passed in: the concurrency bound, the cap on tries per second, the rest
// after a failure and the one-at-a-time probe, and deferred work spread at the endpoint's rate.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EndpointPacing, type PacingPolicy } from '../../src/server/webhook-pacing.ts';

const POLICY: PacingPolicy = { concurrency: 3, triesPerSecond: 10, backoff: { baseMs: 1_000, capMs: 8_000 } };
// Jitter at its top: the rest is the whole ceiling.
const noJitter = () => 1;

test('at most `concurrency` tries at once; a finish makes room', () => {
  const pacing = new EndpointPacing(POLICY, 0, noJitter);
  assert.equal([pacing.start(0), pacing.start(0), pacing.start(0)], [0, 0, 0]);
  assert.is(pacing.start(0), Number.POSITIVE_INFINITY, 'a fourth waits for a finish');
  pacing.finished(0, true);
  // Room again, but the burst of tokens is spent: the next token comes at the tries-per-second rate.
  assert.is(pacing.start(0), 100);
  assert.is(pacing.start(100), 0);
});

test('tries per second are capped however fast they finish', () => {
  const pacing = new EndpointPacing(POLICY, 0, noJitter);
  let started = 0;
  for (let now = 0; now < 10_000; now += 5) {
    while (pacing.start(now) === 0) {
      started++;
      pacing.finished(now, true);
    }
  }
  // Ten seconds at ten a second, plus the first burst.
  assert.ok(started <= 10 * 10 + POLICY.concurrency, `${started} tries in 10 s`);
  assert.ok(started >= 10 * 10, `${started} tries in 10 s`);
});

test('a failure rests the endpoint, then one probe at a time until one succeeds', () => {
  const pacing = new EndpointPacing(POLICY, 0, noJitter);
  pacing.start(0);
  pacing.start(0);
  pacing.finished(10, false);
  assert.ok(pacing.failing);
  assert.is(pacing.restingFor(10), 1_000);
  // The other try in flight failing within the rest does not lengthen it.
  pacing.finished(20, false);
  assert.is(pacing.restingFor(20), 990);
  assert.is(pacing.start(500), 510, 'nothing starts while it rests');
  assert.is(pacing.start(1_010), 0, 'the probe');
  assert.is(pacing.start(1_010), Number.POSITIVE_INFINITY, 'one probe at a time');
  pacing.finished(1_100, false);
  assert.is(pacing.restingFor(1_100), 2_000, 'the rest doubles');
  assert.is(pacing.start(3_100), 0);
  pacing.finished(3_200, true);
  assert.not.ok(pacing.failing);
  assert.is(pacing.limit, POLICY.concurrency, 'a success gives back the whole concurrency');
});

test('deferred work is spread at the endpoint rate, after its rest', () => {
  const pacing = new EndpointPacing(POLICY, 0, noJitter);
  assert.equal(
    [0, 1, 2].map(() => pacing.deferredUntil(0)),
    [0, 100, 200],
  );
  pacing.start(0);
  pacing.finished(0, false);
  // Resting until 1,000: slots start there.
  assert.equal(
    [0, 1].map(() => pacing.deferredUntil(0)),
    [1_000, 1_100],
  );
  assert.not.ok(pacing.idle(0));
  pacing.start(1_000);
  pacing.finished(1_000, true);
  assert.ok(pacing.idle(1_200), 'nothing in flight, failing or booked: its state can go');
});

test.run();
