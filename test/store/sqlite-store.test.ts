import { DatabaseSync } from 'node:sqlite';
import * as assert from 'uvu/assert';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { tempDir } from '../helpers/server.ts';
import { storeSuite } from './store-suite.ts';

const test = storeSuite('sqlite store', async () => {
  const dir = tempDir();
  const store = new SqliteStore(`${dir.path}/nested/folder/taskctl.db`);
  return {
    store,
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

test('parent links survive reopening; a file made before parents gains their table at start', async () => {
  const dir = tempDir();
  const path = `${dir.path}/links.db`;
  const first = new SqliteStore(path);
  await first.insert({ id: 'old', cancelledAt: 1, expiresAt: 10_000 }, 1);
  await first.close();
  // As an earlier version left it: no table for links.
  const raw = new DatabaseSync(path);
  raw.exec('DROP TABLE task_parents');
  raw.close();
  const second = new SqliteStore(path);
  await second.saveParents([{ child: 'step', parents: ['job'] }]);
  await second.close();
  const third = new SqliteStore(path);
  assert.equal(await third.loadParents(['step']), [{ child: 'step', parents: ['job'] }]);
  assert.equal(await third.listChildren('job', undefined, 10), ['step']);
  assert.is((await third.find(['old'], 2)).length, 1);
  await third.close();
  dir.remove();
});

test.run();
