import * as assert from 'uvu/assert';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { postgresTestsEnabled, TestDatabase } from '../helpers/postgres.ts';
import { storeSuite } from './store-suite.ts';

const enabled = postgresTestsEnabled();
let database: TestDatabase | undefined;
let schemas = 0;

const test = storeSuite('postgres store', async () => {
  database ??= await TestDatabase.create();
  // A fresh schema per test: rows from one test never leak into the next.
  const store = await PostgresStore.connect(database.url, { schema: `s${schemas++}` });
  return { store, cleanup: () => store.close() };
});

test.after(async () => {
  await database?.drop();
});

if (enabled) test.run();
