import { copyFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import { saveStatuses } from '../../src/core/store.ts';
import { migrate, SQLITE_MIGRATIONS } from '../../src/store/sqlite/schema.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { tempDir } from '../helpers/server.ts';
import { storeSuite } from './store-suite.ts';

const test = storeSuite('sqlite store', async () => {
  const dir = tempDir();
  const path = `${dir.path}/nested/folder/taskctl.db`;
  const store = new SqliteStore(path);
  // A second connection to the file writes what a hand edit or a damaged disk would.
  const edit = (work: (db: DatabaseSync) => void) => {
    const db = new DatabaseSync(path);
    try {
      work(db);
    } finally {
      db.close();
    }
  };
  return {
    store,
    raw: {
      status: async (id, state, body) =>
        edit(
          (db) =>
            void db.prepare('INSERT OR REPLACE INTO task_status (id, state, last_seen_at, active_at, body) VALUES (?, ?, NULL, 0, ?)').run(id, state, body),
        ),
      event: async (body) =>
        edit((db) => {
          const { last } = db.prepare('UPDATE event_sequence SET last = last + 1 RETURNING last').get() as { last: number };
          db.prepare('INSERT INTO task_events (seq, at, body) VALUES (?, 1, ?)').run(last, body);
        }),
    },
    cleanup: async () => {
      await store.close();
      dir.remove();
    },
  };
});

test('records written before close are there when the file is opened again', async () => {
  const dir = tempDir();
  const path = `${dir.path}/reopen.db`;
  const first = new SqliteStore(path);
  await first.insert({ id: 'kept', reason: 'r', cancelledAt: 1, expiresAt: 10_000 }, 1);
  await first.close();
  const second = new SqliteStore(path);
  assert.equal(await second.find(['kept'], 2), [{ id: 'kept', reason: 'r', cancelledAt: 1, expiresAt: 10_000 }]);
  await second.close();
  dir.remove();
});

test('a database made before cancels recorded who asked still opens, keeps its rows, and records the asker from then on', async () => {
  const dir = tempDir();
  const path = `${dir.path}/old.db`;
  // The schema as the first release wrote it: no cancelled_by, no scheduled_by.
  const old = new DatabaseSync(path);
  old.exec(`
    CREATE TABLE cancels (id TEXT PRIMARY KEY, reason TEXT, cancelled_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE schedules (id TEXT PRIMARY KEY, at INTEGER NOT NULL, reason TEXT) WITHOUT ROWID;
    INSERT INTO cancels VALUES ('old', 'from before', 1, 10000);
    INSERT INTO schedules VALUES ('due', 5, NULL);
  `);
  old.close();
  const store = new SqliteStore(path);
  assert.equal(await store.find(['old'], 2), [{ id: 'old', reason: 'from before', cancelledAt: 1, expiresAt: 10_000 }]);
  assert.equal(await store.dueSchedules(10, 10), [{ id: 'due', at: 5 }]);
  const by = { name: 'ops', address: '127.0.0.1', route: 'v1' } as const;
  await store.insert({ id: 'new', cancelledAt: 2, expiresAt: 10_000, by }, 2);
  await store.close();
  const reopened = new SqliteStore(path);
  assert.equal((await reopened.find(['new'], 3))[0]!.by, by);
  await reopened.close();
  dir.remove();
});

test('a file made by the release before schema versions opens, is migrated to the newest version, and keeps everything', async () => {
  const dir = tempDir();
  const path = `${dir.path}/old.db`;
  copyFileSync(fileURLToPath(new URL('../fixtures/sqlite-before-versions.db', import.meta.url)), path);
  const store = new SqliteStore(path);
  const by = { name: 'ops', address: '10.0.0.7', route: 'v1' } as const;
  assert.equal(await store.find(['kept-cancel', 'anonymous-cancel'], 2_000).then((found) => found.sort((a, b) => a.id.localeCompare(b.id))), [
    { id: 'anonymous-cancel', cancelledAt: 1_000, expiresAt: 4_102_444_800_000 },
    { id: 'kept-cancel', reason: 'from the old release', cancelledAt: 1_000, expiresAt: 4_102_444_800_000, by },
  ]);
  const statuses = await store.loadStatuses(['job-running', 'job-done', 'kept-cancel']);
  assert.equal(statuses.map((s) => [s.id, s.state]).sort(), [
    ['job-done', 'succeeded'],
    ['job-running', 'watching'],
    ['kept-cancel', 'cancel_requested'],
  ]);
  assert.is(await store.countStatuses(), 3);
  assert.equal((await store.findInactive(2_600, 10)).sort(), ['job-running', 'kept-cancel'], 'last activity kept');
  assert.equal(await store.loadSchedules(['later']), [{ id: 'later', at: 4_102_444_800_000, reason: 'nightly cut-off', by }]);
  assert.equal(await store.listSchedules(undefined, 10), [{ id: 'later', at: 4_102_444_800_000, reason: 'nightly cut-off', by }]);
  assert.equal(await store.loadParents(['job-running']), [{ child: 'job-running', parents: ['pipeline-7'] }]);
  assert.is(await store.countDeliveries(), 1);
  const { events } = await store.readEvents(0, 10);
  assert.equal(
    events.map((e) => [e.change, e.id]),
    [['succeeded', 'job-done']],
  );
  // Old statuses are at version 1: an update by compare-and-set goes through.
  const [change] = await store.updateStatuses(['job-running'], (status) => status && { ...status, lastSeenAt: 2_600 });
  assert.is(change?.after.lastSeenAt, 2_600);
  await store.close();
  const raw = new DatabaseSync(path);
  assert.is((raw.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, SQLITE_MIGRATIONS.at(-1)!.version);
  assert.is((raw.prepare('PRAGMA auto_vacuum').get() as { auto_vacuum: number }).auto_vacuum, 2, 'freed pages go back to the file system');
  raw.close();
  dir.remove();
});

test('a file at an earlier numbered version is brought forward by the steps after it', async () => {
  const dir = tempDir();
  const path = `${dir.path}/v5.db`;
  // As step 5 left it: cancels, statuses and schedules, no parent links, no outbox, no event window.
  const early = new DatabaseSync(path);
  migrate(
    early,
    SQLITE_MIGRATIONS.filter((step) => step.version <= 5),
  );
  early.exec("INSERT INTO cancels (id, reason, cancelled_at, expires_at) VALUES ('old', NULL, 1, 10000)");
  early.close();
  const store = new SqliteStore(path);
  await store.saveParents([{ child: 'step', parents: ['job'] }]);
  assert.equal(await store.listChildren('job', undefined, 10), ['step']);
  assert.is((await store.find(['old'], 2)).length, 1);
  await saveStatuses(store, [{ id: 'new', state: 'watching', since: 1, history: [{ state: 'watching', at: 1 }] }]);
  assert.is((await store.readEvents(0, 1)).last > 0, true, 'the event window was made');
  await store.close();
  dir.remove();
});

test('a file made by a newer taskctl is refused, untouched', async () => {
  const dir = tempDir();
  const path = `${dir.path}/newer.db`;
  const newer = new DatabaseSync(path);
  newer.exec(`PRAGMA user_version = ${SQLITE_MIGRATIONS.at(-1)!.version + 1}`);
  newer.close();
  assert.throws(() => new SqliteStore(path), /schema version \d+, newer than this taskctl knows \(\d+\): upgrade taskctl/);
  dir.remove();
});

test.run();
