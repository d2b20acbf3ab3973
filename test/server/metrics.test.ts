// /metrics is read by Prometheus: it must pass Prometheus's own linter, after real traffic.
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DatabaseSync } from 'node:sqlite';
import { saveStatuses } from '../../src/core/store.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { startTestServer, tempDir } from '../helpers/server.ts';

test('GET /metrics passes promtool check metrics after cancels, watches and a lost task', async () => {
  // Debian's prometheus package ships promtool; .ci/run installs it, and its absence fails this test.
  assert.is(spawnSync('promtool', ['--version']).status, 0, 'promtool is not installed (apt-get install prometheus)');
  // With a webhook to a port nothing listens on, so that its counter and queue gauge are linted too.
  const webhooks = { endpoints: ['http://127.0.0.1:9/'], secret: 'metrics-test-secret', events: new Set(['lost'] as const), retryMs: 60_000 };
  const server = await startTestServer({ watchTimeoutMs: 300, leaseMs: 100, webhooks });
  try {
    await fetch(`${server.url}/cancel-task/m-1`);
    await (await fetch(`${server.url}/watch-task/m-1`)).text();
    await (await fetch(`${server.url}/v1/watch?ids=m-2&timeout=100ms`)).text();
    await (await fetch(`${server.url}/nope`)).text();
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(text, /^taskctl_cancels_total\{route="seed"\} 1$/m);
    // Counted as plain numbers on the hot path and handed over when scraped.
    assert.match(text, /^taskctl_watch_requests_total\{outcome="cancelled"\} 1$/m);
    assert.match(text, /^taskctl_watch_requests_total\{outcome="timeout"\} 1$/m);
    assert.match(text, /^taskctl_watch_requests_total\{outcome="gone"\} 0$/m);
    assert.match(text, /^taskctl_watches_rejected_total 0$/m);
    assert.match(text, /^taskctl_open_watches 0$/m);
    assert.match(text, /^taskctl_webhook_queue \d+$/m);
    assert.match(text, /^taskctl_webhook_deliveries_total\{outcome="delivered"\} 0$/m);
    assert.match(text, /^taskctl_store_unreadable_rows_total\{store="memory",kind="status"\} 0$/m, 'every kind shows from the start');
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.is(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
  } finally {
    await server.close();
  }
});

test('a status row that cannot be read is left out of the listing and counted in /metrics', async () => {
  const dir = tempDir();
  const path = `${dir.path}/t.db`;
  const store = new SqliteStore(path);
  await saveStatuses(store, [{ id: 'fine', state: 'watching', since: 1, lastSeenAt: Date.now(), history: [{ state: 'watching', at: 1 }] }]);
  const edit = new DatabaseSync(path);
  edit.prepare("INSERT INTO task_status (id, state, active_at, body) VALUES ('torn', 'watching', 0, '{\"id\":\"torn\",')").run();
  edit.close();
  const server = await startTestServer({ store });
  try {
    const listing = await fetch(`${server.url}/v1/tasks`);
    assert.is(listing.status, 200);
    assert.equal(
      ((await listing.json()) as { tasks: Array<{ id: string }> }).tasks.map((t) => t.id),
      ['fine'],
    );
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(text, /^taskctl_store_unreadable_rows_total\{store="sqlite",kind="status"\} [1-9]\d*$/m);
    assert.match(text, /^taskctl_store_unreadable_rows_total\{store="sqlite",kind="event"\} 0$/m);
  } finally {
    await server.close();
    dir.remove();
  }
});

test.run();
