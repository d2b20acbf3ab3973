import type { CancelRecord, CancelStore, Delivery, LinkCheck, ParentLink, ScheduledCancel, StatusChange, StatusQuery, StatusUpdate } from '../core/store.ts';
import { isRunning, lastActivity, type TaskLifeState, type TaskStatus } from '../core/task-status.ts';
import { nextTurn } from '../core/turns.ts';
import type { EventWindowBounds, TaskEvent, TaskEventDraft, TaskEventLog } from '../core/task-events.ts';
import { MemoryEventLog } from './memory-event-log.ts';
import { SortedIds } from '../core/sorted-ids.ts';
import { LinkTurns } from './link-turns.ts';
import { UnreadableRowTally } from './unreadable-rows.ts';

// A scan over every status (quiet tasks, expired records) lets other work run after this many entries.
const ENTRIES_PER_STEP = 5_000;

/** Keeps records in this process only: fast, and forgotten on restart. For tests and throwaway servers. */
export class MemoryStore implements CancelStore, TaskEventLog {
  readonly description = 'memory';
  /** Objects kept as they are: nothing is ever unreadable here. */
  readonly unreadable = new UnreadableRowTally();
  readonly #records = new Map<string, CancelRecord>();
  /** In the order of their last save. */
  readonly #statuses = new Map<string, TaskStatus>();
  readonly #ids = new SortedIds();
  readonly #idsByState = new Map<TaskLifeState, SortedIds>();
  readonly #schedules = new Map<string, ScheduledCancel>();
  readonly #scheduleIds = new SortedIds();
  readonly #outbox = new Map<string, Delivery>();
  /** Parent links: each child's direct parents, and each parent's children in id order. */
  readonly #parentsOf = new Map<string, readonly string[]>();
  readonly #childrenOf = new Map<string, SortedIds>();

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
    let seen = 0;
    for (const [id, record] of this.#records) {
      if (++seen % ENTRIES_PER_STEP === 0) await nextTurn();
      if (record.expiresAt <= now && this.#records.get(id) === record) {
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

  /** Read, applied and written in one synchronous step per id: nothing can come between, so nothing is retried. */
  async updateStatuses(ids: readonly string[], update: StatusUpdate): Promise<StatusChange[]> {
    const changes: StatusChange[] = [];
    for (const id of new Set(ids)) {
      const previous = this.#statuses.get(id);
      const status = update(previous, id);
      if (status === undefined || status === previous) continue;
      if (previous) {
        this.#statuses.delete(id);
        if (previous.state !== status.state) this.#idsByState.get(previous.state)?.delete(id);
      } else {
        this.#ids.add(id);
      }
      this.#statuses.set(id, status);
      if (previous?.state !== status.state) this.#byState(status.state).add(id);
      changes.push({ before: previous, after: status });
    }
    return changes;
  }

  async listStatuses(query: StatusQuery): Promise<TaskStatus[]> {
    const ids = query.state === undefined ? this.#ids : this.#byState(query.state);
    return ids.page(query.after, query.limit).map((id) => this.#statuses.get(id)!);
  }

  async findQuiet(seenBefore: number, limit: number): Promise<TaskStatus[]> {
    const quiet: TaskStatus[] = [];
    let seen = 0;
    for (const s of this.#statuses.values()) {
      if (++seen % ENTRIES_PER_STEP === 0) await nextTurn();
      if (isRunning(s.state) && s.lastSeenAt !== undefined && s.lastSeenAt < seenBefore) quiet.push(s);
      if (quiet.length >= limit) break;
    }
    return quiet;
  }

  async findInactive(before: number, limit: number): Promise<string[]> {
    const inactive: string[] = [];
    let seen = 0;
    // Oldest saves come first, so most of what is found is found early.
    for (const status of this.#statuses.values()) {
      if (inactive.length >= limit) break;
      if (++seen % ENTRIES_PER_STEP === 0) await nextTurn();
      if (lastActivity(status) < before) inactive.push(status.id);
    }
    return inactive;
  }

  async forgetStatuses(ids: readonly string[], inactiveBefore: number): Promise<number> {
    let forgotten = 0;
    for (const id of ids) {
      const status = this.#statuses.get(id);
      if (!status || lastActivity(status) >= inactiveBefore) continue;
      this.#statuses.delete(id);
      this.#ids.delete(id);
      this.#idsByState.get(status.state)?.delete(id);
      forgotten++;
    }
    return forgotten;
  }

  async countStatuses(): Promise<number> {
    return this.#statuses.size;
  }

  async schedule(schedule: ScheduledCancel): Promise<void> {
    this.#schedules.set(schedule.id, schedule);
    this.#scheduleIds.add(schedule.id);
  }

  async loadSchedules(ids: readonly string[]): Promise<ScheduledCancel[]> {
    return ids.flatMap((id) => this.#schedules.get(id) ?? []);
  }

  async listSchedules(after: string | undefined, limit: number): Promise<ScheduledCancel[]> {
    return this.#scheduleIds.page(after, limit).map((id) => this.#schedules.get(id)!);
  }

  async dueSchedules(now: number, limit: number): Promise<ScheduledCancel[]> {
    return [...this.#schedules.values()]
      .filter((s) => s.at <= now)
      .sort((a, b) => a.at - b.at)
      .slice(0, limit);
  }

  async unschedule(id: string): Promise<void> {
    this.#schedules.delete(id);
    this.#scheduleIds.delete(id);
  }

  // Parent links.

  readonly #linkTurns = new LinkTurns();
  /** Who made each child's links, when known. */
  readonly #linkedBy = new Map<string, string>();

  saveParents(links: readonly ParentLink[], check?: LinkCheck): Promise<void> {
    return this.#linkTurns.save(links, check, this, async () => {
      for (const { child, parents, linkedBy } of links) {
        this.#unlink(child);
        this.#parentsOf.set(child, [...parents]);
        if (linkedBy !== undefined) this.#linkedBy.set(child, linkedBy);
        for (const parent of parents) {
          let children = this.#childrenOf.get(parent);
          if (!children) this.#childrenOf.set(parent, (children = new SortedIds()));
          children.add(child);
        }
      }
    });
  }

  async loadParents(ids: readonly string[]): Promise<ParentLink[]> {
    return ids.flatMap((child) => {
      const parents = this.#parentsOf.get(child);
      const linkedBy = this.#linkedBy.get(child);
      return parents ? [linkedBy === undefined ? { child, parents } : { child, parents, linkedBy }] : [];
    });
  }

  async listChildren(parent: string, after: string | undefined, limit: number): Promise<string[]> {
    return this.#childrenOf.get(parent)?.page(after, limit) ?? [];
  }

  async parentsAmong(ids: readonly string[]): Promise<string[]> {
    return ids.filter((id) => (this.#childrenOf.get(id)?.size ?? 0) > 0);
  }

  async forgetParents(ids: readonly string[]): Promise<number> {
    let forgotten = 0;
    for (const id of ids) {
      if (this.#statuses.has(id)) continue;
      forgotten += this.#parentsOf.get(id)?.length ?? 0;
      this.#unlink(id);
    }
    return forgotten;
  }

  #unlink(child: string): void {
    this.#linkedBy.delete(child);
    for (const parent of this.#parentsOf.get(child) ?? []) {
      const children = this.#childrenOf.get(parent);
      children?.delete(child);
      if (children?.size === 0) this.#childrenOf.delete(parent);
    }
    this.#parentsOf.delete(child);
  }

  async enqueueDeliveries(deliveries: readonly Delivery[]): Promise<void> {
    for (const delivery of deliveries) if (!this.#outbox.has(delivery.id)) this.#outbox.set(delivery.id, delivery);
  }

  async claimDeliveries(now: number, leaseMs: number, limit: number): Promise<Delivery[]> {
    const due = [...this.#outbox.values()]
      .filter((d) => d.nextAt <= now)
      .sort((a, b) => a.nextAt - b.nextAt)
      .slice(0, limit);
    for (const delivery of due) this.#outbox.set(delivery.id, { ...delivery, nextAt: now + leaseMs });
    return due.map((d) => ({ ...d, nextAt: now + leaseMs }));
  }

  async finishDelivery(id: string): Promise<void> {
    this.#outbox.delete(id);
  }

  async retryDelivery(id: string, attempts: number, nextAt: number): Promise<void> {
    const delivery = this.#outbox.get(id);
    if (delivery) this.#outbox.set(id, { ...delivery, attempts, nextAt });
  }

  async countDeliveries(): Promise<number> {
    return this.#outbox.size;
  }

  async check(): Promise<void> {}

  async close(): Promise<void> {}

  // ---- The task event window ----

  readonly #events = new MemoryEventLog();

  appendEvents(events: readonly TaskEventDraft[], keep: number): Promise<TaskEvent[]> {
    return this.#events.appendEvents(events, keep);
  }

  readEvents(after: number, limit: number): Promise<{ events: TaskEvent[] } & EventWindowBounds> {
    return this.#events.readEvents(after, limit);
  }

  trimEvents(before: number, limit: number): Promise<number> {
    return this.#events.trimEvents(before, limit);
  }

  #byState(state: TaskLifeState): SortedIds {
    let ids = this.#idsByState.get(state);
    if (!ids) this.#idsByState.set(state, (ids = new SortedIds()));
    return ids;
  }
}
