import { render } from 'ink-testing-library';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REFUSAL_EVERY_MS, ServeActivity } from '../../src/server/serve-activity.ts';
import { ServeScreen } from '../../src/ui/serve-screen.tsx';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);

function frame(activity: ServeActivity, extra: { openWatches?: number; trackedTasks?: number; cancelsPerSecond?: number; watchesPerSecond?: number } = {}) {
  const { lastFrame, unmount } = render(
    <ServeScreen
      state={activity.state}
      openWatches={extra.openWatches ?? 0}
      trackedTasks={extra.trackedTasks}
      cancelsPerSecond={extra.cancelsPerSecond ?? 0}
      watchesPerSecond={extra.watchesPerSecond ?? 0}
      now={T0 + 90_000}
      columns={100}
      rows={30}
    />,
  );
  const text = lastFrame() ?? '';
  unmount();
  return text;
}

test('an idle server: address, store, uptime, nothing recent', () => {
  const activity = new ServeActivity({ url: 'http://127.0.0.1:8080', store: 'sqlite:/data/taskctl.db' }, () => T0);
  const text = frame(activity);
  // The uptime comes before the store, so that it stays when a narrow terminal leaves the store out.
  assert.match(text, 'listening on http://127.0.0.1:8080 · up 1m30s · store sqlite:/data/taskctl.db');
  assert.match(text, 'open watches 0 · cancels/s 0.0');
  assert.match(text, /Recent cancels\s+none yet/);
  assert.match(text, /Recent errors\s+none/);
  assert.match(text, /Task states\s+no task watched yet/);
});

test('a busy server: rates, newest cancels first with reason and source, errors', () => {
  let now = T0;
  const activity = new ServeActivity({ url: 'http://h:1', store: 'memory' }, () => now);
  for (let i = 0; i < 12; i++) {
    now += 1_000;
    activity.cancelled(
      { id: `job-${i}`, reason: i === 11 ? 'operator asked' : undefined, cancelledAt: now, expiresAt: now + 1 },
      { address: '10.0.0.7', name: 'ops' },
    );
  }
  activity.watchAnswered();
  activity.taskChanged({ id: 'train-7', state: 'lost', since: now, worker: { id: 'w', host: 'gpu-3', pid: 77 }, history: [] });
  activity.taskChanged({ id: 'train-8', state: 'succeeded', since: now, history: [] });
  activity.failed(new Error('disk I/O error'), { method: 'POST', path: '/v1/tasks/x/cancel' });
  const text = frame(activity, { openWatches: 1234, cancelsPerSecond: 15.2, watchesPerSecond: 2.5 });
  // With the tracked count too the line no longer fits 100 columns: the short forms take over.
  assert.match(
    frame(activity, { openWatches: 1234, trackedTasks: 56_789, cancelsPerSecond: 15.2, watchesPerSecond: 2.5 }),
    'open watches 1234 · tracked 56789 · cancels/s 15 · answered/s 2.5 · cancels 12',
  );
  assert.match(text, 'open watches 1234 · cancels/s 15 · watches answered/s 2.5 · cancels since start 12');
  const lines = text.split('\n');
  const first = lines.findIndex((l) => l.includes('job-11'));
  assert.ok(first > 0 && lines[first]!.includes('10.0.0.7') && lines[first]!.includes('operator asked'));
  assert.match(lines[first]!, /job-11\s+ops\s+10\.0\.0\.7/, 'who cancelled');
  assert.ok(first < lines.findIndex((l) => l.includes('job-10')), 'newest first');
  assert.not.match(text, 'job-1 ', 'only the ten newest are kept');
  assert.match(text, 'POST /v1/tasks/x/cancel: disk I/O error');
  assert.match(text, /train-7\s+lost\s+gpu-3:77/);
  assert.match(text, /train-8\s+succeeded/);
  assert.ok(text.indexOf('train-8') < text.indexOf('train-7'), 'newest first');
  assert.is(activity.state.watchesAnsweredTotal, 1);
});

test('a cancel asked again is neither listed nor counted again: the first one stands', () => {
  const activity = new ServeActivity({ url: 'http://h:1', store: 'memory' }, () => T0);
  const record = { id: 'r1', reason: 'bad hyperparams', cancelledAt: T0, expiresAt: T0 + 1 };
  activity.cancelled(record, { address: '10.0.0.7', name: 'ops' });
  activity.cancelled(record, { address: '10.0.0.7', name: 'ops', repeat: true });
  assert.is(activity.state.cancelsTotal, 1);
  assert.equal(
    activity.state.recentCancels.map((c) => c.id),
    ['r1'],
  );
});

test('refused requests show in the errors, once a minute for each kind from any address, counting those between', () => {
  let now = T0;
  const activity = new ServeActivity({ url: 'http://h:1', store: 'memory' }, () => now);
  const refuse = (status: number, address: string, message: string) =>
    activity.refused({ status, code: status === 401 ? 'unauthorized' : 'forbidden', message, method: 'POST', path: '/v1/tasks/x/cancel', address });
  for (let i = 0; i < 50; i++) {
    now += 100;
    refuse(401, i === 0 ? '203.0.113.9' : `203.0.113.${10 + i}`, 'missing or wrong token');
  }
  refuse(403, '10.0.0.7', 'token "ci" (role worker) may not cancel');
  activity.failed(new Error('disk I/O error'), { method: 'POST', path: '/v1/tasks/y/cancel' });
  assert.equal(
    activity.state.recentErrors.map((e) => e.message),
    [
      'POST /v1/tasks/y/cancel: disk I/O error',
      'POST /v1/tasks/x/cancel: refused 403 from 10.0.0.7: token "ci" (role worker) may not cancel',
      'POST /v1/tasks/x/cancel: refused 401 from 203.0.113.9: missing or wrong token',
    ],
    'fifty refusals from fifty addresses are one line, and push nothing else off',
  );
  now += REFUSAL_EVERY_MS;
  refuse(401, '203.0.113.9', 'missing or wrong token');
  assert.match(activity.state.recentErrors[0]!.message, /refused 401 from 203\.0\.113\.9: missing or wrong token \(and 49 more since 65s ago\)$/);
  assert.match(frame(activity), /Recent errors[\s\S]*refused 401 from 203\.0\.113\.9/);
});

test('with tokens, who cancelled shows in its own column, with how when it was not through the API', () => {
  const activity = new ServeActivity({ url: 'http://127.0.0.1:8080', store: 'memory' }, () => T0);
  const record = (id: string) => ({ id, cancelledAt: T0, expiresAt: T0 + 1 });
  activity.cancelled(record('nightly'), { address: '10.0.0.9', name: 'ci-runners', route: 'deadline' });
  activity.cancelled(record('train-3'), { address: '10.0.0.7', name: 'release-team', route: 'v1' });
  const text = frame(activity);
  assert.match(text, /train-3\s+release-team\s+10\.0\.0\.7/);
  assert.match(text, /nightly\s+ci-runners \(deadline\)\s+10\.0\.0\.9/);
  // Without auth everyone is "anonymous": no column for that.
  const open = new ServeActivity({ url: 'http://127.0.0.1:8080', store: 'memory' }, () => T0);
  open.cancelled(record('job-1'), { address: '127.0.0.1', name: 'anonymous', route: 'v1' });
  assert.match(frame(open), /job-1\s+127\.0\.0\.1/);
});

test('a failing webhook endpoint is named on the stats line and in the errors until a delivery succeeds', () => {
  const activity = new ServeActivity({ url: 'http://127.0.0.1:8080', store: 'memory' }, () => T0);
  activity.webhooks.failed!('https://hooks.example.com/taskctl', 'answered HTTP 502', false);
  activity.webhooks.failed!('https://hooks.example.com/taskctl', 'answered HTTP 502', false);
  const failing = frame(activity);
  // At 100 columns the stats line takes its short forms: the count there, the endpoint in the errors.
  assert.match(failing, /lost 0 · webhooks failing 1\n/);
  assert.match(failing, 'webhook https://hooks.example.com/taskctl: answered HTTP 502');
  // One error line when it starts failing, not one per retry.
  assert.is(failing.split('answered HTTP 502').length - 1, 1);
  activity.webhooks.failed!('https://hooks.example.com/taskctl', 'answered HTTP 502', true);
  assert.match(frame(activity), 'an event was given up');
  activity.webhooks.delivered!('https://hooks.example.com/taskctl');
  assert.not.match(frame(activity), 'webhooks failing');
});

test.run();
