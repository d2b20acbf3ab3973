import { Redis, type RedisOptions } from 'ioredis';
import {
  type CancelRecord,
  type CancelSource,
  type CancelStore,
  type Delivery,
  type LinkCheck,
  type ParentLink,
  type RemoteCancelListener,
  type ScheduledCancel,
  SENT_MARKER_MS,
  type StatusChange,
  type StatusQuery,
  type StatusUpdate,
  StoreUnavailableError,
} from '../../core/store.ts';
import { isRunning, lastActivity, type TaskStatus } from '../../core/task-status.ts';
import { type EventLogListener, type EventWindowBounds, sequenceStart, type TaskEvent, type TaskEventDraft } from '../../core/task-events.ts';
import { parseEvent, parseSource, parseStatus } from '../rows.ts';
import { type StatusWrite, updateByCompareAndSet, type VersionedStatus } from '../status-cas.ts';
import { UnreadableRowTally } from '../unreadable-rows.ts';
import { migrate } from './schema.ts';
import {
  APPEND_EVENTS_SCRIPT,
  CAS_STATUSES_SCRIPT,
  CLAIM_SCRIPT,
  ENQUEUE_SCRIPT,
  FORGET_PARENTS_SCRIPT,
  FORGET_SCRIPT,
  INSERT_SCRIPT,
  LINKS_PER_SCRIPT,
  PARENTS_AMONG_SCRIPT,
  SAVE_PARENTS_SCRIPT,
  STATUSES_PER_SCRIPT,
} from './scripts.ts';

export interface RedisStoreOptions {
  /** Prepended to every key and the channel, so several installations can share one Redis. */
  readonly keyPrefix?: string;
  /** How long to wait for Redis at start before giving up. */
  readonly connectTimeoutMs?: number;
  /**
   * Each status key expires this long after its last save: a backstop that keeps Redis bounded even when
   * no server runs the retention sweep. Set it well above the retention period. None when not set.
   */
  readonly statusExpiryMs?: number;
}

// Checks of one link save redone because other servers saved links meanwhile, at most: links are made
// rarely (when a task starts), so this many in a row means something is wrong.
const MAX_LINK_ATTEMPTS = 50;

interface StoredValue {
  r?: string;
  c: number;
  e: number;
  /** Who asked; absent in values written before it was kept. */
  b?: CancelSource;
}

/**
 * Records in Redis, shared by every server pointed at it. Redis expires each record at its TTL, so
 * nothing needs sweeping. Commands fail at once while Redis is down rather than queueing, so a cancel is
 * never acknowledged before it is stored.
 */
export class RedisStore implements CancelStore {
  readonly description: string;
  readonly unreadable = new UnreadableRowTally();
  readonly #commands: Redis;
  readonly #subscriber: Redis;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #listeners = new Set<RemoteCancelListener>();
  readonly #statusExpiryMs: number | undefined;

  private constructor(url: string, commands: Redis, subscriber: Redis, prefix: string, statusExpiryMs: number | undefined) {
    this.#statusExpiryMs = statusExpiryMs;
    this.description = `redis:${redactPassword(url)}`;
    this.#commands = commands;
    this.#subscriber = subscriber;
    this.#prefix = prefix;
    this.#channel = `${prefix}cancels`;
    subscriber.on('message', (channel: string, id: string) => {
      if (channel === this.#channel) this.#listeners.forEach((l) => l.cancelled(id));
      else if (channel === eventChannel(prefix)) this.#eventListeners.forEach((l) => l.appended());
    });
    // Connected before this runs, so every 'ready' from here on is a reconnect.
    subscriber.on('ready', () => {
      // The subscription was down for a while: what was published meanwhile is lost, so everything waited
      // on is looked up again. The PING's answer comes after the resubscription's, so no gap opens between.
      subscriber.ping().finally(() => {
        this.#listeners.forEach((l) => l.resynced());
        this.#eventListeners.forEach((l) => l.resynced());
      });
    });
  }

  /** Connects both connections (commands and subscription); fails if Redis does not answer in time. */
  static async connect(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const common: RedisOptions = {
      lazyConnect: true,
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      // Keep trying for as long as the server runs; an outage must not end it.
      retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    };
    const commands = new Redis(url, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 2_000 });
    const subscriber = new Redis(url, { ...common, protocol: 2 });
    // Errors are reported through failed commands and /healthz; unhandled 'error' events would crash. The
    // first one is kept: a failed connect says only "Connection is closed.", the event says why.
    let firstError: NodeJS.ErrnoException | undefined;
    const keepFirst = (error: NodeJS.ErrnoException) => void (firstError ??= error);
    commands.on('error', keepFirst);
    subscriber.on('error', keepFirst);
    const prefix = options.keyPrefix ?? 'taskctl:';
    try {
      await Promise.all([commands.connect(), subscriber.connect()]);
      // ioredis only logs a SELECT that failed (a database number past the server's `databases`) and goes on
      // in database 0: asked again here, it fails the start instead of writing cancels somewhere else.
      const db = commands.options.db ?? 0;
      if (db !== 0) await commands.select(db);
      await subscriber.subscribe(`${prefix}cancels`, eventChannel(prefix));
      await migrate(commands, prefix);
      // The event sequence starts at the time when this Redis has none (see sequenceStart).
      await commands.set(eventSeqKey(prefix), sequenceStart(Date.now()), 'NX');
    } catch (error) {
      commands.disconnect();
      subscriber.disconnect();
      throw new StoreUnavailableError(`cannot reach ${redactPassword(url)}: ${whyNotConnected(error as Error, firstError)}`);
    } finally {
      commands.removeListener('error', keepFirst).on('error', () => {});
      subscriber.removeListener('error', keepFirst).on('error', () => {});
    }
    return new RedisStore(url, commands, subscriber, prefix, options.statusExpiryMs);
  }

  async insert(record: CancelRecord, now: number): Promise<CancelRecord> {
    const key = this.#key(record.id);
    const ttlMs = Math.max(1, record.expiresAt - now);
    const value: StoredValue = { c: record.cancelledAt, e: record.expiresAt };
    if (record.reason !== undefined) value.r = record.reason;
    if (record.by !== undefined) value.b = record.by;
    const stored = await this.#run(() => this.#commands.eval(INSERT_SCRIPT, 1, key, JSON.stringify(value), ttlMs, now, this.#channel, record.id));
    if (typeof stored !== 'string') throw new StoreUnavailableError('redis did not confirm the cancel');
    // A live value that cannot be read was kept by the script: what this cancel asked for is what holds.
    return this.#fromStored(record.id, stored) ?? record;
  }

  async find(ids: readonly string[], now: number): Promise<CancelRecord[]> {
    if (ids.length === 0) return [];
    const values = await this.#run(() => this.#commands.mget(ids.map((id) => this.#key(id))));
    const found: CancelRecord[] = [];
    values.forEach((value, i) => {
      if (value === null) return;
      const record = this.#fromStored(ids[i]!, value);
      if (record && record.expiresAt > now) found.push(record);
    });
    return found;
  }

  async loadStatuses(ids: readonly string[]): Promise<TaskStatus[]> {
    if (ids.length === 0) return [];
    const values = await this.#run(() => this.#commands.mget(ids.map((id) => this.#statusKey(id))));
    return values.flatMap((value, i) => (value === null ? [] : (this.#versioned(ids[i]!, value).status ?? [])));
  }

  /** Compare-and-set rounds (see status-cas.ts): one MGET to read, one script per 500 writes. */
  updateStatuses(ids: readonly string[], update: StatusUpdate): Promise<StatusChange[]> {
    return updateByCompareAndSet(ids, update, {
      read: async (pending) => {
        const values = await this.#run(() => this.#commands.mget(pending.map((id) => this.#statusKey(id))));
        const stored = new Map<string, VersionedStatus>();
        values.forEach((value, i) => value !== null && stored.set(pending[i]!, this.#versioned(pending[i]!, value)));
        return stored;
      },
      write: (writes) => this.#compareAndSet(writes),
    });
  }

  async #compareAndSet(writes: readonly StatusWrite[]): Promise<Set<string>> {
    const lost = new Set<string>();
    for (let i = 0; i < writes.length; i += STATUSES_PER_SCRIPT) {
      const args: Array<string | number> = [this.#prefix, this.#statusExpiryMs ?? ''];
      for (const { id, expected, status } of writes.slice(i, i + STATUSES_PER_SCRIPT)) {
        const watched = isRunning(status.state) && status.lastSeenAt !== undefined;
        args.push(
          id,
          expected,
          `{"v":${expected + 1},${JSON.stringify(status).slice(1)}`,
          status.state,
          lastActivity(status),
          watched ? status.lastSeenAt! : '',
        );
      }
      const ids = (await this.#run(() => this.#commands.eval(CAS_STATUSES_SCRIPT, 0, ...args))) as string[];
      for (const id of ids) lost.add(id);
    }
    return lost;
  }

  /** A stored status and its version, read as the script reads it; the status undefined when it cannot be read. */
  #versioned(id: string, text: string): VersionedStatus {
    const stated = /^\{"v":(\d+),/.exec(text);
    const version = stated ? Number(stated[1]) : 1;
    const parsed = parseStatus(text, this.unreadable, id) as (TaskStatus & { v?: number }) | undefined;
    if (parsed === undefined) return { status: undefined, version };
    const { v: _v, ...status } = parsed;
    return { status, version };
  }

  async listStatuses(query: StatusQuery): Promise<TaskStatus[]> {
    const set = query.state === undefined ? `${this.#prefix}tasks` : `${this.#prefix}state:${query.state}`;
    const from = query.after === undefined ? '-' : `(${query.after}`;
    const ids = await this.#run(() => this.#commands.zrangebylex(set, from, '+', 'LIMIT', 0, query.limit));
    return this.loadStatuses(ids);
  }

  async findQuiet(seenBefore: number, limit: number): Promise<TaskStatus[]> {
    const ids = await this.#run(() => this.#commands.zrangebyscore(`${this.#prefix}seen`, '-inf', `(${seenBefore}`, 'LIMIT', 0, limit));
    return this.loadStatuses(ids);
  }

  async findInactive(before: number, limit: number): Promise<string[]> {
    return this.#run(() => this.#commands.zrangebyscore(`${this.#prefix}active`, '-inf', `(${before}`, 'LIMIT', 0, limit));
  }

  async forgetStatuses(ids: readonly string[], inactiveBefore: number): Promise<number> {
    if (ids.length === 0) return 0;
    return Number(await this.#run(() => this.#commands.eval(FORGET_SCRIPT, 0, this.#prefix, inactiveBefore, ...ids)));
  }

  async countStatuses(): Promise<number> {
    return this.#run(() => this.#commands.zcard(`${this.#prefix}tasks`));
  }

  /** A sorted set of ids by due time, their reasons in a hash, and who scheduled them (JSON) in another. */
  async schedule(schedule: ScheduledCancel): Promise<void> {
    const multi = this.#commands.multi().zadd(`${this.#prefix}schedule`, schedule.at, schedule.id).zadd(`${this.#prefix}schedule-ids`, 0, schedule.id);
    if (schedule.reason === undefined) multi.hdel(`${this.#prefix}schedule-reasons`, schedule.id);
    else multi.hset(`${this.#prefix}schedule-reasons`, schedule.id, schedule.reason);
    if (schedule.by === undefined) multi.hdel(`${this.#prefix}schedule-by`, schedule.id);
    else multi.hset(`${this.#prefix}schedule-by`, schedule.id, JSON.stringify(schedule.by));
    await this.#run(() => multi.exec());
  }

  async loadSchedules(ids: readonly string[]): Promise<ScheduledCancel[]> {
    if (ids.length === 0) return [];
    const multi = this.#commands.multi();
    for (const id of ids) multi.zscore(`${this.#prefix}schedule`, id).hget(`${this.#prefix}schedule-reasons`, id).hget(`${this.#prefix}schedule-by`, id);
    const replies = (await this.#run(() => multi.exec())) ?? [];
    return ids.flatMap((id, i) => {
      const at = replies[3 * i]?.[1];
      const reason = replies[3 * i + 1]?.[1];
      const by = replies[3 * i + 2]?.[1];
      if (at === null || at === undefined) return [];
      const schedule: ScheduledCancel = typeof reason === 'string' ? { id, at: Number(at), reason } : { id, at: Number(at) };
      const source = typeof by === 'string' ? parseSource(by, this.unreadable, 'schedule', id) : undefined;
      return [source === undefined ? schedule : { ...schedule, by: source }];
    });
  }

  async listSchedules(after: string | undefined, limit: number): Promise<ScheduledCancel[]> {
    const from = after === undefined ? '-' : `(${after}`;
    const ids = await this.#run(() => this.#commands.zrangebylex(`${this.#prefix}schedule-ids`, from, '+', 'LIMIT', 0, limit));
    return this.loadSchedules(ids);
  }

  async dueSchedules(now: number, limit: number): Promise<ScheduledCancel[]> {
    const ids = await this.#run(() => this.#commands.zrangebyscore(`${this.#prefix}schedule`, '-inf', now, 'LIMIT', 0, limit));
    return this.loadSchedules(ids);
  }

  async unschedule(id: string): Promise<void> {
    await this.#run(() =>
      this.#commands
        .multi()
        .zrem(`${this.#prefix}schedule`, id)
        .zrem(`${this.#prefix}schedule-ids`, id)
        .hdel(`${this.#prefix}schedule-reasons`, id)
        .hdel(`${this.#prefix}schedule-by`, id)
        .exec(),
    );
  }

  // Parent links.

  /**
   * With `check`: reads the links' version, checks, and writes only if no server saved links since (the
   * script compares the version); when one did, checks again what is left to write, against what it wrote.
   */
  async saveParents(links: readonly ParentLink[], check?: LinkCheck): Promise<void> {
    let left = links;
    for (let attempt = 1; left.length > 0; attempt++) {
      if (attempt > MAX_LINK_ATTEMPTS) throw new StoreUnavailableError(`links kept changing under ${MAX_LINK_ATTEMPTS} checks in a row; try again`);
      let seen = '';
      if (check) {
        // Read before the check's own reads: a save after it moves the version on, and this save is refused.
        seen = (await this.#run(() => this.#commands.get(`${this.#prefix}links-version`))) ?? '0';
        await check(left, this);
      }
      let i = 0;
      for (; i < left.length; i += LINKS_PER_SCRIPT) {
        const args = left.slice(i, i + LINKS_PER_SCRIPT).flatMap((link) => [link.child, JSON.stringify(link.parents), link.linkedBy ?? '']);
        const version = await this.#run(() => this.#commands.eval(SAVE_PARENTS_SCRIPT, 0, this.#prefix, seen, ...args));
        if (version === null) break;
        if (check) seen = String(version);
      }
      left = left.slice(i);
    }
  }

  async loadParents(ids: readonly string[]): Promise<ParentLink[]> {
    if (ids.length === 0) return [];
    const [values, linkers] = await this.#run(() =>
      Promise.all([this.#commands.mget(ids.map((id) => `${this.#prefix}parents:${id}`)), this.#commands.hmget(`${this.#prefix}parents-by`, ...ids)]),
    );
    return ids.flatMap((child, i) => {
      const value = values[i];
      const linkedBy = linkers[i];
      if (value === null || value === undefined) return [];
      let parents: unknown;
      try {
        parents = JSON.parse(value);
      } catch {
        // Left as it is: the next save of the child's links replaces it.
      }
      if (!Array.isArray(parents) || !parents.every((parent) => typeof parent === 'string')) {
        this.unreadable.note({ kind: 'parent-link', key: child, why: 'its parents cannot be read' });
        return [];
      }
      if (parents.length === 0) return [];
      return typeof linkedBy === 'string' ? [{ child, parents, linkedBy }] : [{ child, parents }];
    });
  }

  async listChildren(parent: string, after: string | undefined, limit: number): Promise<string[]> {
    const from = after === undefined ? '-' : `(${after}`;
    return this.#run(() => this.#commands.zrangebylex(`${this.#prefix}children:${parent}`, from, '+', 'LIMIT', 0, limit));
  }

  async parentsAmong(ids: readonly string[]): Promise<string[]> {
    const found: string[] = [];
    for (let i = 0; i < ids.length; i += LINKS_PER_SCRIPT) {
      const step = ids.slice(i, i + LINKS_PER_SCRIPT);
      found.push(...((await this.#run(() => this.#commands.eval(PARENTS_AMONG_SCRIPT, 0, this.#prefix, ...step))) as string[]));
    }
    return found;
  }

  async forgetParents(ids: readonly string[]): Promise<number> {
    let forgotten = 0;
    for (let i = 0; i < ids.length; i += LINKS_PER_SCRIPT) {
      const step = ids.slice(i, i + LINKS_PER_SCRIPT);
      forgotten += Number(await this.#run(() => this.#commands.eval(FORGET_PARENTS_SCRIPT, 0, this.#prefix, ...step)));
    }
    return forgotten;
  }

  /** Redis expires records itself. */
  async sweep(): Promise<number> {
    return 0;
  }

  async enqueueDeliveries(deliveries: readonly Delivery[]): Promise<void> {
    if (deliveries.length === 0) return;
    const keys = [`${this.#prefix}outbox`, `${this.#prefix}outbox-due`, ...deliveries.map((d) => `${this.#prefix}outbox-sent:${d.id}`)];
    const args = deliveries.flatMap((d) => [d.id, JSON.stringify(d), d.nextAt]);
    await this.#run(() => this.#commands.eval(ENQUEUE_SCRIPT, keys.length, ...keys, ...args));
  }

  async claimDeliveries(now: number, leaseMs: number, limit: number): Promise<Delivery[]> {
    const claimed = (await this.#run(() =>
      this.#commands.eval(CLAIM_SCRIPT, 2, `${this.#prefix}outbox`, `${this.#prefix}outbox-due`, now, leaseMs, limit),
    )) as string[];
    const deliveries: Delivery[] = [];
    for (const json of claimed) {
      const delivery = this.#parseDelivery(json);
      if (delivery) deliveries.push({ ...delivery, nextAt: now + leaseMs });
    }
    return deliveries;
  }

  /** A queued delivery; one that cannot be read is counted and taken out of the queue, as it can never be sent. */
  #parseDelivery(json: string): Delivery | undefined {
    let value: Partial<Delivery> | undefined;
    try {
      value = JSON.parse(json) as Partial<Delivery>;
    } catch {
      // Counted below.
    }
    if (value && typeof value.id === 'string' && typeof value.body === 'string' && typeof value.endpoint === 'string') return value as Delivery;
    const id = /"id":"((?:[^"\\]|\\.)*)"/.exec(json)?.[1];
    this.unreadable.note({ kind: 'delivery', ...(id === undefined ? {} : { key: id }), why: 'not a webhook delivery' });
    if (id !== undefined)
      void this.#run(() => this.#commands.multi().hdel(`${this.#prefix}outbox`, id).zrem(`${this.#prefix}outbox-due`, id).exec()).catch(() => {});
    return undefined;
  }

  async finishDelivery(id: string): Promise<void> {
    await this.#run(() =>
      this.#commands
        .multi()
        .hdel(`${this.#prefix}outbox`, id)
        .zrem(`${this.#prefix}outbox-due`, id)
        .set(`${this.#prefix}outbox-sent:${id}`, '1', 'PX', SENT_MARKER_MS)
        .exec(),
    );
  }

  async retryDelivery(id: string, attempts: number, nextAt: number): Promise<void> {
    const json = await this.#run(() => this.#commands.hget(`${this.#prefix}outbox`, id));
    if (json === null) return;
    const stored = this.#parseDelivery(json);
    if (stored === undefined) return;
    const delivery: Delivery = { ...stored, attempts, nextAt };
    await this.#run(() =>
      this.#commands.multi().hset(`${this.#prefix}outbox`, id, JSON.stringify(delivery)).zadd(`${this.#prefix}outbox-due`, nextAt, id).exec(),
    );
  }

  async countDeliveries(): Promise<number> {
    return this.#run(() => this.#commands.zcard(`${this.#prefix}outbox-due`));
  }

  async check(): Promise<void> {
    await this.#run(() => this.#commands.ping());
  }

  subscribe(listener: RemoteCancelListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    this.#eventListeners.clear();
    await Promise.allSettled([this.#commands.quit(), this.#subscriber.quit()]);
    this.#commands.disconnect();
    this.#subscriber.disconnect();
  }

  #key(id: string): string {
    return `${this.#prefix}cancel:${id}`;
  }

  #statusKey(id: string): string {
    return `${this.#prefix}status:${id}`;
  }

  // ---- The task event window: one stream (entry ids "<seq>-0") and the sequence's counter, shared by every server ----

  readonly #eventListeners = new Set<EventLogListener>();

  /** One atomic step per batch: each event takes the next seq and goes on the stream, which keeps about `keep`. */
  async appendEvents(drafts: readonly TaskEventDraft[], keep: number): Promise<TaskEvent[]> {
    if (drafts.length === 0) return [];
    const args = drafts.flatMap(({ at, ...rest }) => [at, JSON.stringify(rest)]);
    const seqs = (await this.#run(() =>
      this.#commands.eval(
        APPEND_EVENTS_SCRIPT,
        2,
        eventStreamKey(this.#prefix),
        eventSeqKey(this.#prefix),
        keep,
        sequenceStart(Date.now()),
        eventChannel(this.#prefix),
        ...args,
      ),
    )) as number[];
    return drafts.map((draft, i) => ({ ...draft, seq: Number(seqs[i]) }));
  }

  async readEvents(after: number, limit: number): Promise<{ events: TaskEvent[] } & EventWindowBounds> {
    const stream = eventStreamKey(this.#prefix);
    const multi = this.#commands.multi().get(eventSeqKey(this.#prefix)).xrange(stream, '-', '+', 'COUNT', 1);
    // Entry ids are "<seq>-0": starting at "<after>-1" reads from the entry after `after`.
    if (limit > 0) multi.xrange(stream, after < 0 ? '-' : `${after}-1`, '+', 'COUNT', limit);
    const replies = (await this.#run(() => multi.exec())) ?? [];
    const failed = replies.find(([error]) => error);
    if (failed) throw new StoreUnavailableError(`redis unavailable: ${(failed[0] as Error).message}`);
    const last = Number(replies[0]![1] ?? 0);
    const [first] = replies[1]![1] as StreamEntry[];
    const events = limit > 0 ? (replies[2]![1] as StreamEntry[]).flatMap((entry) => this.#fromStreamEntry(entry) ?? []) : [];
    return { events, oldest: first ? seqOf(first[0]) : last + 1, last };
  }

  async trimEvents(before: number, limit: number): Promise<number> {
    const stream = eventStreamKey(this.#prefix);
    const entries = (await this.#run(() => this.#commands.xrange(stream, '-', '+', 'COUNT', Math.min(limit, 1_000)))) as StreamEntry[];
    let old = 0;
    while (old < entries.length && Number(fieldOf(entries[old]![1], 't')) < before) old++;
    if (old === 0) return 0;
    return Number(await this.#run(() => this.#commands.xtrim(stream, 'MINID', `${seqOf(entries[old - 1]![0]) + 1}-0`)));
  }

  subscribeEvents(listener: EventLogListener): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** An entry of the event stream; undefined (and counted) when its body cannot be read. */
  #fromStreamEntry([entryId, fields]: StreamEntry): TaskEvent | undefined {
    return parseEvent(seqOf(entryId), Number(fieldOf(fields, 't') ?? 0), fieldOf(fields, 'e') ?? '', this.unreadable);
  }

  /** A stored cancel record; undefined (and counted) when it cannot be read, its asker left out when only that cannot. */
  #fromStored(id: string, text: string): CancelRecord | undefined {
    let value: Partial<StoredValue> | undefined;
    try {
      value = JSON.parse(text) as Partial<StoredValue>;
    } catch {
      // Counted below.
    }
    if (typeof value?.c !== 'number' || typeof value.e !== 'number') {
      this.unreadable.note({ kind: 'cancel', key: id, why: 'not a cancel record' });
      return undefined;
    }
    const record: CancelRecord =
      value.r === undefined ? { id, cancelledAt: value.c, expiresAt: value.e } : { id, reason: value.r, cancelledAt: value.c, expiresAt: value.e };
    const by = value.b === undefined ? undefined : parseSource(JSON.stringify(value.b), this.unreadable, 'cancel', id);
    return by === undefined ? record : { ...record, by };
  }

  async #run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      // ioredis says a lost connection in its own terms ("Stream isn't writeable and enableOfflineQueue
      // options is false"): the user needs to hear that Redis cannot be reached.
      const message = (error as Error).message;
      throw new StoreUnavailableError(
        `redis unavailable: ${/Stream isn't writeable|Connection is closed/.test(message) ? 'not connected (is Redis running and reachable?)' : message}`,
      );
    }
  }
}

type StreamEntry = [id: string, fields: string[]];

const eventStreamKey = (prefix: string) => `${prefix}events`;
const eventSeqKey = (prefix: string) => `${prefix}events-seq`;
const eventChannel = (prefix: string) => `${prefix}events-appended`;
const seqOf = (entryId: string) => Number(entryId.slice(0, entryId.indexOf('-')));

function fieldOf(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** The URL as it may be shown: without its password. */
export function redactPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** Why a connect to Redis failed, in words a user can act on: ioredis's own error is often only "Connection is closed.". */
function whyNotConnected(error: Error, first: NodeJS.ErrnoException | undefined): string {
  const cause = /Connection is closed|Stream isn't writeable/.test(error.message) && first !== undefined ? first : error;
  switch ((cause as NodeJS.ErrnoException).code) {
    case 'ECONNREFUSED':
      return 'connection refused (is Redis running there?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ETIMEDOUT':
      return 'no answer in time (a firewall, or the wrong address?)';
    default:
      return /Connection is closed/.test(cause.message) ? 'the connection closed before Redis answered (is it Redis that listens there?)' : cause.message;
  }
}
