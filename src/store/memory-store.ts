import type { CancelRecord, CancelStore } from '../core/store.ts';

/** Keeps records in this process only: fast, and forgotten on restart. For tests and throwaway servers. */
export class MemoryStore implements CancelStore {
  readonly description = 'memory';
  readonly #records = new Map<string, CancelRecord>();

  async insert(record: CancelRecord, now: number): Promise<CancelRecord> {
    const existing = this.#records.get(record.id);
    if (existing && existing.expiresAt > now) return existing;
    this.#records.set(record.id, record);
    return record;
  }

  async find(ids: readonly string[], now: number): Promise<CancelRecord[]> {
    const found: CancelRecord[] = [];
    for (const id of ids) {
      const record = this.#records.get(id);
      if (record && record.expiresAt > now) found.push(record);
    }
    return found;
  }

  async sweep(now: number): Promise<number> {
    let swept = 0;
    for (const [id, record] of this.#records) {
      if (record.expiresAt <= now) {
        this.#records.delete(id);
        swept++;
      }
    }
    return swept;
  }

  /** How many records are held, expired or not; lets tests see that sweeping happened. */
  get size(): number {
    return this.#records.size;
  }

  async check(): Promise<void> {}

  async close(): Promise<void> {}
}
