// The Redis keyspace's layout as numbered steps, the version it is at kept in `<prefix>schema`. Servers
// starting together may run a step at the same time, so every step is safe to run twice; the version only
// ever moves forward. A keyspace newer than this taskctl knows is refused.
import type { Redis } from 'ioredis';

/** One step of the layout, applied once, in order, by the first server that finds the keyspace behind it. */
export interface RedisMigration {
  readonly version: number;
  /** Why the step exists, for whoever reads the list. */
  readonly why: string;
  /** Brings the keys under `prefix` forward; safe to run twice. */
  readonly up: (redis: Redis, prefix: string) => Promise<void>;
}

/** Raised when the keyspace was laid out by a newer taskctl: an older one must not write to it. */
export class SchemaTooNewError extends Error {
  override name = 'SchemaTooNewError';
}

// Ids per ZSCAN page while copying: each page is one short command.
const PAGE = 1_000;

// Keyspaces from before versions were kept are at version 0. Status JSON carrying its version ({"v":N,...})
// needs no step: a status without one reads as version 1 (see CAS_STATUSES_SCRIPT).
export const REDIS_MIGRATIONS: readonly RedisMigration[] = [
  {
    version: 1,
    why: 'scheduled cancels listed by id (`ls`, `top`): a set of their ids in id order, beside the one by due time',
    async up(redis, prefix) {
      let cursor = '0';
      do {
        const [next, page] = await redis.zscan(`${prefix}schedule`, cursor, 'COUNT', PAGE);
        cursor = next;
        const ids = page.filter((_, i) => i % 2 === 0);
        if (ids.length > 0) await redis.zadd(`${prefix}schedule-ids`, ...ids.flatMap((id) => [0, id]));
      } while (cursor !== '0');
    },
  },
];

// Moves the version forward, never back. KEYS[1] the version key; ARGV[1] the version reached.
const RAISE_VERSION_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
`;

/** Brings the keyspace under `prefix` to the newest of `migrations`; resolves with the version it is at. */
export async function migrate(redis: Redis, prefix: string, migrations: readonly RedisMigration[] = REDIS_MIGRATIONS): Promise<number> {
  const key = `${prefix}schema`;
  const newest = migrations.at(-1)?.version ?? 0;
  const current = Number((await redis.get(key)) ?? 0);
  if (current > newest)
    throw new SchemaTooNewError(`the keys under ${prefix} are at schema version ${current}, newer than this taskctl knows (${newest}): upgrade taskctl`);
  for (const step of migrations) {
    if (step.version <= current) continue;
    await step.up(redis, prefix);
    await redis.eval(RAISE_VERSION_SCRIPT, 1, key, step.version);
  }
  return Math.max(current, newest);
}
