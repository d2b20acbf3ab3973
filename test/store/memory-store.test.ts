import { MemoryStore } from '../../src/store/memory-store.ts';
import { storeSuite } from './store-suite.ts';

storeSuite('memory store', async () => ({ store: new MemoryStore(), cleanup: async () => {} })).run();
