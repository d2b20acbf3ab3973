import type { CancelRecord, CancelStore, ScheduledCancel, StatusQuery } from '../core/store.ts';
import type { TaskStatus } from '../core/task-status.ts';

/** Keeps records in this process only: fast, and forgotten on restart. For tests and throwaway servers. */
export class MemoryStore implements CancelStore {
  readonly description = 'memory';
  readonly #records = new Map<string, CancelRecord>();
  readonly #statuses = new Map<string, TaskStatus>();
  readonly #schedules = new Map<string, ScheduledCancel>();

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

  async loadStatuses(ids: readonly string[]): Promise<TaskStatus[]> {
    return ids.flatMap((id) => this.#statuses.get(id) ?? []);
  }

  async saveStatuses(statuses: readonly TaskStatus[]): Promise<void> {
    for (const status of statuses) this.#statuses.set(status.id, status);
  }

  async listStatuses(query: StatusQuery): Promise<TaskStatus[]> {
    return [...this.#statuses.values()]
      .filter((s) => (query.state === undefined || s.state === query.state) && (query.after === undefined || s.id > query.after))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, query.limit);
  }

  async findQuiet(seenBefore: number, limit: number): Promise<TaskStatus[]> {
    return [...this.#statuses.values()]
      .filter((s) => (s.state === 'watching' || s.state === 'cancel_requested') && s.lastSeenAt !== undefined && s.lastSeenAt < seenBefore)
      .slice(0, limit);
  }

  async schedule(schedule: ScheduledCancel): Promise<void> {
    this.#schedules.set(schedule.id, schedule);
  }

  async loadSchedules(ids: readonly string[]): Promise<ScheduledCancel[]> {
    return ids.flatMap((id) => this.#schedules.get(id) ?? []);
  }

  async dueSchedules(now: number, limit: number): Promise<ScheduledCancel[]> {
    return [...this.#schedules.values()].filter((s) => s.at <= now).sort((a, b) => a.at - b.at).slice(0, limit);
  }

  async unschedule(id: string): Promise<void> {
    this.#schedules.delete(id);
  }

  async check(): Promise<void> {}

  async close(): Promise<void> {}
}
