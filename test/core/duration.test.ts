import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatDuration, parseDuration } from '../../src/core/duration.ts';

test('parses the units people type', () => {
  assert.is(parseDuration('250ms'), 250);
  assert.is(parseDuration('30s'), 30_000);
  assert.is(parseDuration('5m'), 300_000);
  assert.is(parseDuration('2h'), 7_200_000);
  assert.is(parseDuration('1h30m'), 5_400_000);
  assert.is(parseDuration('1.5s'), 1_500);
  assert.is(parseDuration('1d'), 86_400_000);
  assert.is(parseDuration('45'), 45_000, 'a bare number is seconds');
});

test('refuses what is not a duration', () => {
  for (const bad of ['', 's', '-5s', '5 s', '5x', '5s5', 'abc', '1e9s', '5s-', '9'.repeat(400) + 'd']) {
    assert.throws(() => parseDuration(bad), /duration/, bad);
  }
});

test('formats durations compactly', () => {
  assert.is(formatDuration(850), '850ms');
  assert.is(formatDuration(12_400), '12s');
  assert.is(formatDuration(245_000), '4m05s');
  assert.is(formatDuration(7_800_000), '2h10m');
  assert.is(formatDuration(100_800_000), '1d04h');
  assert.is(formatDuration(86_400_000), '1d');
  assert.is(formatDuration(7_200_000), '2h');
  assert.is(formatDuration(300_000), '5m');
});

test.run();
