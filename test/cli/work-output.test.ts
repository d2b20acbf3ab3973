// work's plain lines (printPlainEvents) for a log: what an outage of the server leaves in it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OUTAGE_LINE_EVERY_MS } from '../../src/cli/outage-thinning.ts';
import { printPlainEvents } from '../../src/cli/work-output.ts';
import { initialWorkState, type WorkEvent, WorkStore } from '../../src/worker/work-state.ts';

function plainLines() {
  const store = new WorkStore(initialWorkState('http://s:1', ['a'], 'watch', 0));
  const lines: string[] = [];
  const sink = {
    write: (chunk: string) =>
      lines.push(
        ...chunk
          .split('\n')
          .filter(Boolean)
          .map((line) => line.slice(9)),
      ),
  } as unknown as NodeJS.WritableStream;
  printPlainEvents(store, sink, sink);
  return { lines, dispatch: (event: WorkEvent) => store.dispatch(event) };
}

const failure = (ts: number, error: string, attempt: number): WorkEvent => ({ event: 'disconnected', ts, error, attempt, retryInMs: 3_000 });

test('an outage whose failures alternate is a line per kind, again once a minute, and the reconnection counts the rest', () => {
  const { lines, dispatch } = plainLines();
  dispatch({ event: 'connected', ts: 0 });
  // Two ways of failing, in turn, every 3 s for two and a half minutes: 50 attempts.
  for (let i = 0; i < 50; i++) dispatch(failure(1_000 + i * 3_000, i % 2 === 0 ? 'connection reset' : 'HTTP 502 from a proxy', i + 1));
  dispatch({ event: 'reconnected', ts: 160_000 });
  assert.equal(lines, [
    'connected to http://s:1',
    'disconnected: connection reset; retrying in 3s (attempt 1)',
    'disconnected: HTTP 502 from a proxy; retrying in 3s (attempt 2)',
    'still disconnected: connection reset; retrying in 3s (attempt 21)',
    'still disconnected: HTTP 502 from a proxy; retrying in 3s (attempt 22)',
    'still disconnected: connection reset; retrying in 3s (attempt 41)',
    'still disconnected: HTTP 502 from a proxy; retrying in 3s (attempt 42)',
    'reconnected to http://s:1 (44 more failed attempts to reach the server not shown)',
  ]);
  assert.is(OUTAGE_LINE_EVERY_MS, 60_000);
});

test('work ending while cut off says how many attempts were not shown; a cancel or an exit is never held back', () => {
  const { lines, dispatch } = plainLines();
  dispatch({ event: 'connected', ts: 0 });
  dispatch(failure(1_000, 'connection refused', 1));
  dispatch(failure(2_000, 'connection refused', 2));
  dispatch({ event: 'cancelled', ts: 2_500, task: 'a', reason: 'heard before the cut' });
  dispatch(failure(3_000, 'connection refused', 3));
  dispatch({ event: 'done', ts: 4_000, exitCode: 0 });
  assert.equal(lines, [
    'connected to http://s:1',
    'disconnected: connection refused; retrying in 3s (attempt 1)',
    'cancelled a (reason: heard before the cut)',
    'all tasks ended; exit code 0 (2 more failed attempts to reach the server not shown)',
  ]);
});

test.run();
