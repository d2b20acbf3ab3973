import { Redis, type RedisOptions } from 'ioredis';
import {
  type CancelRecord,
  type CancelSource,
  type CancelStore,
  type Delivery,
  type ParentLink,
  type RemoteCancelListener,
  type ScheduledCancel,
  type StatusQuery,
  StoreUnavailableError,
} from '../core/store.ts';
import { lastActivity, STATE_RANK, TASK_LIFE_STATES, type TaskStatus } from '../core/task-status.ts';
import { type EventLogListener, type EventWindowBounds, sequenceStart, type TaskEvent, type TaskEventDraft, type TaskEventLog } from '../core/task-events.ts';

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

interface StoredValue {
  r?: string;
  c: number;
  e: number;
  /** Who asked; absent in values written before it was kept. */
  b?: CancelSource;
}

// One atomic step per cancel: keep a live record (the first cancel wins), otherwise store this one with
// its TTL; either way publish the id so every server wakes its waiters. Returns the record now stored.
// KEYS[1] record key; ARGV: value, ttl ms, now ms, channel, id.
const INSERT_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and tonumber(decoded.e) > tonumber(ARGV[3]) then
    redis.call('PUBLISH', ARGV[4], ARGV[5])
    return current
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return ARGV[1]
`;

// Saves statuses under the ordering rule of statusToKeep (core/task-status.ts), in one atomic step, so that
// a status another server saved meanwhile is replaced only by one made from it or further along. ARGV: key
// prefix, expiry (ms, or empty for none), then per status: id, body, state, the versions its history holds
// (JSON), last activity, and last-seen time when watched (else empty).
const STATUSES_PER_SCRIPT = 500;
const SAVE_STATUSES_SCRIPT = `
local prefix, expiry = ARGV[1], tonumber(ARGV[2])
local ranks = {${Object.entries(STATE_RANK).map(([state, rank]) => `${state} = ${rank}`).join(', ')}}
local states = {${TASK_LIFE_STATES.map((state) => `'${state}'`).join(', ')}}
for i = 3, #ARGV, 6 do
  local id, body, state, versions, active, seen = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local key = prefix .. 'status:' .. id
  local write = true
  local current = redis.call('GET', key)
  if current then
    local ok, stored = pcall(cjson.decode, current)
    local history = ok and stored.history
    if history and #history > 0 then
      local last = history[#history]
      local version = '"' .. last.state .. '@' .. string.format('%.0f', last.at) .. '"'
      if not string.find(versions, version, 1, true) and (ranks[state] or 0) <= (ranks[stored.state] or -1) then write = false end
    end
  end
  if write then
    if expiry then redis.call('SET', key, body, 'PX', expiry) else redis.call('SET', key, body) end
    redis.call('ZADD', prefix .. 'tasks', 0, id)
    redis.call('ZADD', prefix .. 'active', active, id)
    for _, s in ipairs(states) do
      if s == state then redis.call('ZADD', prefix .. 'state:' .. s, 0, id) else redis.call('ZREM', prefix .. 'state:' .. s, id) end
    end
    if seen ~= '' then redis.call('ZADD', prefix .. 'seen', seen, id) else redis.call('ZREM', prefix .. 'seen', id) end
  end
end
return 0
`;

// Forgets the statuses whose last activity is still before the cutoff, in one atomic step, so a status
// another server saved meanwhile is kept. An id whose key already expired is taken out of the sets too.
// ARGV: key prefix, cutoff (ms), then the ids. Returns how many status keys were deleted.
const FORGET_SCRIPT = `
local prefix, cutoff, forgotten = ARGV[1], tonumber(ARGV[2]), 0
local sets = {${['tasks', 'active', 'seen', ...TASK_LIFE_STATES.map((state) => `state:${state}`)].map((set) => `'${set}'`).join(', ')}}
for i = 3, #ARGV do
  local id = ARGV[i]
  local active = redis.call('ZSCORE', prefix .. 'active', id)
  if not active or tonumber(active) < cutoff then
    forgotten = forgotten + redis.call('DEL', prefix .. 'status:' .. id)
    for _, set in ipairs(sets) do redis.call('ZREM', prefix .. set, id) end
  end
end
return forgotten
`;

// Parent links: `parents:<child>` holds the child's direct parents (a JSON array), and `children:<parent>`
// is a sorted set of its children (all scored 0, so they page by id like the other sets). Each script
// keeps the two sides in step atomically, whichever server runs it.

// Replaces each child's parents. ARGV: key prefix, then child and its parents (JSON) in pairs.
const SAVE_PARENTS_SCRIPT = `
local prefix = ARGV[1]
for i = 2, #ARGV, 2 do
  local child, parents = ARGV[i], ARGV[i + 1]
  local old = redis.call('GET', prefix .. 'parents:' .. child)
  if old then
    for _, parent in ipairs(cjson.decode(old)) do redis.call('ZREM', prefix .. 'children:' .. parent, child) end
  end
  redis.call('SET', prefix .. 'parents:' .. child, parents)
  for _, parent in ipairs(cjson.decode(parents)) do redis.call('ZADD', prefix .. 'children:' .. parent, 0, child) end
end
return 0
`;

// The ids that have children. ARGV: key prefix, then the ids.
const PARENTS_AMONG_SCRIPT = `
local prefix, found = ARGV[1], {}
for i = 2, #ARGV do
  if redis.call('EXISTS', prefix .. 'children:' .. ARGV[i]) == 1 then found[#found + 1] = ARGV[i] end
end
return found
`;

// Forgets the links of the ids whose status is gone. ARGV: key prefix, then the ids. Returns how many links went.
const FORGET_PARENTS_SCRIPT = `
local prefix, forgotten = ARGV[1], 0
for i = 2, #ARGV do
  local child = ARGV[i]
  if redis.call('EXISTS', prefix .. 'status:' .. child) == 0 then
    local old = redis.call('GET', prefix .. 'parents:' .. child)
    if old then
      for _, parent in ipairs(cjson.decode(old)) do
        forgotten = forgotten + redis.call('ZREM', prefix .. 'children:' .. parent, child)
      end
      redis.call('DEL', prefix .. 'parents:' .. child)
    end
  end
end
return forgotten
`;

// Ids per script call: each call holds Redis for its whole run, so it stays short.
const LINKS_PER_SCRIPT = 500;

// The outbox: each delivery's JSON in a hash, its due time in a sorted set. A claim moves the due time
// past the lease in the same atomic step that reads it, so two servers never claim one delivery at once.
// KEYS: outbox hash, due set. ARGV: now, lease ms, limit. Returns the claimed deliveries' JSON.
const CLAIM_SCRIPT = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local claimed = {}
local leased = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, id in ipairs(ids) do
  local json = redis.call('HGET', KEYS[1], id)
  if json then
    redis.call('ZADD', KEYS[2], leased, id)
    table.insert(claimed, json)
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
return claimed
`;

// Queues deliveries not queued already nor made lately: two servers that both see a task go lost queue
// the same event, and the second may come after the first was delivered.
// KEYS: outbox hash, due set, then each delivery's sent marker. ARGV: each delivery's id, JSON and due time.
const ENQUEUE_SCRIPT = `
for i = 3, #KEYS do
  local at = (i - 3) * 3
  if redis.call('EXISTS', KEYS[i]) == 0 and redis.call('HSETNX', KEYS[1], ARGV[at + 1], ARGV[at + 2]) == 1 then
    redis.call('ZADD', KEYS[2], tonumber(ARGV[at + 3]), ARGV[at + 1])
  end
end
return 0
`;

// How long a made delivery's id is remembered, so that the same event queued late by another server is
// not sent again: far longer than servers sharing a store take to see the same change.
const SENT_MARKER_MS = 3_600_000;

/**
 * Records in Redis, shared by every server pointed at it. Redis expires each record at its TTL, so
 * nothing needs sweeping. Commands fail at once while Redis is down rather than queueing, so a cancel is
 * never acknowledged before it is stored.
 */
export class RedisStore implements CancelStore, TaskEventLog {
  readonly description: string;
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
    // Errors are reported through failed commands and /healthz; unhandled 'error' events would crash.
    commands.on('error', () => {});
    subscriber.on('error', () => {});
    const prefix = options.keyPrefix ?? 'taskctl:';
    try {
      await Promise.all([commands.connect(), subscriber.connect()]);
      await subscriber.subscribe(`${prefix}cancels`, eventChannel(prefix));
      // The event sequence starts at the time when this Redis has none (see sequenceStart).
      await commands.set(eventSeqKey(prefix), sequenceStart(Date.now()), 'NX');
    } catch (error) {
      commands.disconnect();
      subscriber.disconnect();
      throw new StoreUnavailableError(`cannot reach ${redactPassword(url)}: ${(error as Error).message}`);
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
    return fromStored(record.id, stored);
  }

  async find(ids: readonly string[], now: number): Promise<CancelRecord[]> {
    if (ids.length === 0) return [];
    const values = await this.#run(() => this.#commands.mget(ids.map((id) => this.#key(id))));
    const found: CancelRecord[] = [];
    values.forEach((value, i) => {
      if (value === null) return;
      const record = fromStored(ids[i]!, value);
      if (record.expiresAt > now) found.push(record);
    });
    return found;
  }

  async loadStatuses(ids: readonly string[]): Promise<TaskStatus[]> {
    if (ids.length === 0) return [];
    const values = await this.#run(() => this.#commands.mget(ids.map((id) => this.#statusKey(id))));
    // A value that cannot be read is left out rather than failing the whole answer.
    return values.flatMap((value) => {
      if (value === null) return [];
      try {
        return [JSON.parse(value) as TaskStatus];
      } catch {
        return [];
      }
    });
  }

  /**
   * One transaction: each status, its id in the set of its state (and out of the others), its last-seen
   * time, and its last activity (what retention finds old tasks by, without scanning the keyspace).
   */
  async saveStatuses(statuses: readonly TaskStatus[]): Promise<void> {
    for (let i = 0; i < statuses.length; i += STATUSES_PER_SCRIPT) {
      const args: Array<string | number> = [this.#prefix, this.#statusExpiryMs ?? ''];
      for (const status of statuses.slice(i, i + STATUSES_PER_SCRIPT)) {
        const watched = (status.state === 'watching' || status.state === 'cancel_requested') && status.lastSeenAt !== undefined;
        const versions = JSON.stringify(status.history.map((h) => `${h.state}@${h.at}`));
        args.push(status.id, JSON.stringify(status), status.state, versions, lastActivity(status), watched ? status.lastSeenAt! : '');
      }
      await this.#run(() => this.#commands.eval(SAVE_STATUSES_SCRIPT, 0, ...args));
    }
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
    const multi = this.#commands.multi().zadd(`${this.#prefix}schedule`, schedule.at, schedule.id);
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
      return [typeof by === 'string' ? { ...schedule, by: JSON.parse(by) as CancelSource } : schedule];
    });
  }

  async dueSchedules(now: number, limit: number): Promise<ScheduledCancel[]> {
    const ids = await this.#run(() => this.#commands.zrangebyscore(`${this.#prefix}schedule`, '-inf', now, 'LIMIT', 0, limit));
    return this.loadSchedules(ids);
  }

  async unschedule(id: string): Promise<void> {
    await this.#run(() => this.#commands.multi().zrem(`${this.#prefix}schedule`, id).hdel(`${this.#prefix}schedule-reasons`, id).hdel(`${this.#prefix}schedule-by`, id).exec());
  }

  // Parent links.

  async saveParents(links: readonly ParentLink[]): Promise<void> {
    for (let i = 0; i < links.length; i += LINKS_PER_SCRIPT) {
      const args = links.slice(i, i + LINKS_PER_SCRIPT).flatMap((link) => [link.child, JSON.stringify(link.parents)]);
      await this.#run(() => this.#commands.eval(SAVE_PARENTS_SCRIPT, 0, this.#prefix, ...args));
    }
  }

  async loadParents(ids: readonly string[]): Promise<ParentLink[]> {
    if (ids.length === 0) return [];
    const values = await this.#run(() => this.#commands.mget(ids.map((id) => `${this.#prefix}parents:${id}`)));
    return ids.flatMap((child, i) => {
      const value = values[i];
      if (value === null || value === undefined) return [];
      try {
        const parents = JSON.parse(value) as unknown;
        return Array.isArray(parents) && parents.length > 0 ? [{ child, parents: parents.map(String) }] : [];
      } catch {
        return [];
      }
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
    const claimed = (await this.#run(() => this.#commands.eval(CLAIM_SCRIPT, 2, `${this.#prefix}outbox`, `${this.#prefix}outbox-due`, now, leaseMs, limit))) as string[];
    return claimed.map((json) => ({ ...(JSON.parse(json) as Delivery), nextAt: now + leaseMs }));
  }

  async finishDelivery(id: string): Promise<void> {
    await this.#run(() =>
      this.#commands.multi().hdel(`${this.#prefix}outbox`, id).zrem(`${this.#prefix}outbox-due`, id).set(`${this.#prefix}outbox-sent:${id}`, '1', 'PX', SENT_MARKER_MS).exec(),
    );
  }

  async retryDelivery(id: string, attempts: number, nextAt: number): Promise<void> {
    const json = await this.#run(() => this.#commands.hget(`${this.#prefix}outbox`, id));
    if (json === null) return;
    const delivery: Delivery = { ...(JSON.parse(json) as Delivery), attempts, nextAt };
    await this.#run(() => this.#commands.multi().hset(`${this.#prefix}outbox`, id, JSON.stringify(delivery)).zadd(`${this.#prefix}outbox-due`, nextAt, id).exec());
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
      this.#commands.eval(APPEND_EVENTS_SCRIPT, 2, eventStreamKey(this.#prefix), eventSeqKey(this.#prefix), keep, sequenceStart(Date.now()), eventChannel(this.#prefix), ...args),
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
    const events = limit > 0 ? (replies[2]![1] as StreamEntry[]).map(fromStreamEntry) : [];
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

  async #run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      // ioredis says a lost connection in its own terms ("Stream isn't writeable and enableOfflineQueue
      // options is false"): the user needs to hear that Redis cannot be reached.
      const message = (error as Error).message;
      throw new StoreUnavailableError(`redis unavailable: ${/Stream isn't writeable|Connection is closed/.test(message) ? 'not connected (is Redis running and reachable?)' : message}`);
    }
  }
}

// Appends a batch of events. Each takes the next seq (the counter starts at ARGV[2] if it is missing) and
// goes on the stream as "<seq>-0" with its time and body; the stream keeps about ARGV[1] entries; one
// notice tells every server. KEYS: stream, counter. ARGV: keep, start, channel, then time and body per event.
const APPEND_EVENTS_SCRIPT = `
redis.call('SET', KEYS[2], ARGV[2], 'NX')
local seqs = {}
for i = 4, #ARGV, 2 do
  local seq = redis.call('INCR', KEYS[2])
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], string.format('%d-0', seq), 't', ARGV[i], 'e', ARGV[i + 1])
  seqs[#seqs + 1] = seq
end
redis.call('PUBLISH', ARGV[3], string.format('%d', seqs[#seqs]))
return seqs
`;

type StreamEntry = [id: string, fields: string[]];

const eventStreamKey = (prefix: string) => `${prefix}events`;
const eventSeqKey = (prefix: string) => `${prefix}events-seq`;
const eventChannel = (prefix: string) => `${prefix}events-appended`;
const seqOf = (entryId: string) => Number(entryId.slice(0, entryId.indexOf('-')));

function fieldOf(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** An entry whose body cannot be read becomes an event that says little, rather than a hole in the sequence. */
function fromStreamEntry([entryId, fields]: StreamEntry): TaskEvent {
  const seq = seqOf(entryId);
  const at = Number(fieldOf(fields, 't') ?? 0);
  try {
    return { ...(JSON.parse(fieldOf(fields, 'e') ?? '') as Omit<TaskEvent, 'seq' | 'at'>), seq, at };
  } catch {
    return { seq, at, change: 'progress', id: 'unknown', origin: 'unknown' };
  }
}

function fromStored(id: string, text: string): CancelRecord {
  const value = JSON.parse(text) as StoredValue;
  const record: CancelRecord = value.r === undefined ? { id, cancelledAt: value.c, expiresAt: value.e } : { id, reason: value.r, cancelledAt: value.c, expiresAt: value.e };
  return value.b === undefined ? record : { ...record, by: value.b };
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
