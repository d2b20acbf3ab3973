// The Lua scripts of the Redis store: each runs as one atomic step, whichever server sends it.
import { TASK_LIFE_STATES } from '../../core/task-status.ts';

// One atomic step per cancel: keep a live record (the first cancel wins), otherwise store this one with
// its TTL; either way publish the id so every server wakes its waiters. Returns the record now stored.
// KEYS[1] record key; ARGV: value, ttl ms, now ms, channel, id.
export const INSERT_SCRIPT = `
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

// Writes statuses by compare-and-set, in one atomic step: each only if its stored version is still the one
// its update was made from (0: none stored), and with it the id's place in the sets: the set of its state
// (and out of the others), its last-seen time when watched, its last activity (what retention finds old
// tasks by, without scanning the keyspace). A status's JSON begins with its version, {"v":N,...}; one
// without (written before versions were kept) is at version 1. ARGV: key prefix, expiry (ms, or empty for
// none), then per status: id, expected version, body, state, last activity, last-seen time when watched
// (else empty). Returns the ids whose version had moved on: their update must be made again.
export const STATUSES_PER_SCRIPT = 500;
export const CAS_STATUSES_SCRIPT = `
local prefix, expiry = ARGV[1], tonumber(ARGV[2])
local states = {${TASK_LIFE_STATES.map((state) => `'${state}'`).join(', ')}}
local lost = {}
for i = 3, #ARGV, 6 do
  local id, expected, body, state, active, seen = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local key = prefix .. 'status:' .. id
  local current = redis.call('GET', key)
  local version = 0
  if current then version = tonumber(string.match(current, '^{"v":(%d+),') or '1') end
  if version ~= expected then
    lost[#lost + 1] = id
  else
    if expiry then redis.call('SET', key, body, 'PX', expiry) else redis.call('SET', key, body) end
    redis.call('ZADD', prefix .. 'tasks', 0, id)
    redis.call('ZADD', prefix .. 'active', active, id)
    for _, s in ipairs(states) do
      if s == state then redis.call('ZADD', prefix .. 'state:' .. s, 0, id) else redis.call('ZREM', prefix .. 'state:' .. s, id) end
    end
    if seen ~= '' then redis.call('ZADD', prefix .. 'seen', seen, id) else redis.call('ZREM', prefix .. 'seen', id) end
  end
end
return lost
`;

// Forgets the statuses whose last activity is still before the cutoff, in one atomic step, so a status
// another server saved meanwhile is kept. An id whose key already expired is taken out of the sets too.
// ARGV: key prefix, cutoff (ms), then the ids. Returns how many status keys were deleted.
export const FORGET_SCRIPT = `
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

// Replaces each child's parents, unless the links moved on since the caller read them to check these:
// every save moves `links-version` on, so a check and its save are one step (an optimistic lock, as
// WATCH/MULTI would be, without a connection of its own). ARGV: key prefix, the version the caller's check
// read ('' when it checked nothing), then child, its parents (JSON) and who linked them ('' when not
// known) in threes; `parents-by` holds who linked each child. Returns the new version, or nil (nothing
// written) when the links moved on: the caller checks again.
export const SAVE_PARENTS_SCRIPT = `
local prefix, seen = ARGV[1], ARGV[2]
local version = prefix .. 'links-version'
if seen ~= '' and (redis.call('GET', version) or '0') ~= seen then return false end
for i = 3, #ARGV, 3 do
  local child, parents, by = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if by ~= '' then redis.call('HSET', prefix .. 'parents-by', child, by) else redis.call('HDEL', prefix .. 'parents-by', child) end
  local old = redis.call('GET', prefix .. 'parents:' .. child)
  if old then
    for _, parent in ipairs(cjson.decode(old)) do redis.call('ZREM', prefix .. 'children:' .. parent, child) end
  end
  redis.call('SET', prefix .. 'parents:' .. child, parents)
  for _, parent in ipairs(cjson.decode(parents)) do redis.call('ZADD', prefix .. 'children:' .. parent, 0, child) end
end
return redis.call('INCR', version)
`;

// The ids that have children. ARGV: key prefix, then the ids.
export const PARENTS_AMONG_SCRIPT = `
local prefix, found = ARGV[1], {}
for i = 2, #ARGV do
  if redis.call('EXISTS', prefix .. 'children:' .. ARGV[i]) == 1 then found[#found + 1] = ARGV[i] end
end
return found
`;

// Forgets the links of the ids whose status is gone. ARGV: key prefix, then the ids. Returns how many links went.
export const FORGET_PARENTS_SCRIPT = `
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
      redis.call('HDEL', prefix .. 'parents-by', child)
    end
  end
end
return forgotten
`;

// Ids per script call: each call holds Redis for its whole run, so it stays short.
export const LINKS_PER_SCRIPT = 500;

// The outbox: each delivery's JSON in a hash, its due time in a sorted set. A claim moves the due time
// past the lease in the same atomic step that reads it, so two servers never claim one delivery at once.
// KEYS: outbox hash, due set. ARGV: now, lease ms, limit. Returns the claimed deliveries' JSON.
export const CLAIM_SCRIPT = `
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
export const ENQUEUE_SCRIPT = `
for i = 3, #KEYS do
  local at = (i - 3) * 3
  if redis.call('EXISTS', KEYS[i]) == 0 and redis.call('HSETNX', KEYS[1], ARGV[at + 1], ARGV[at + 2]) == 1 then
    redis.call('ZADD', KEYS[2], tonumber(ARGV[at + 3]), ARGV[at + 1])
  end
end
return 0
`;

// Appends a batch of events. Each takes the next seq (the counter starts at ARGV[2] if it is missing) and
// goes on the stream as "<seq>-0" with its time and body; the stream keeps about ARGV[1] entries; one
// notice tells every server. KEYS: stream, counter. ARGV: keep, start, channel, then time and body per event.
export const APPEND_EVENTS_SCRIPT = `
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
