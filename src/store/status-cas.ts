// The compare-and-set loop of updateStatuses for stores shared by servers (Redis, PostgreSQL): read the
// statuses and their versions, apply the update, write each only if its version is unchanged, and go
// round again for the ids another writer changed meanwhile.
import { StoreUnavailableError, type StatusChange, type StatusUpdate } from '../core/store.ts';
import type { TaskStatus } from '../core/task-status.ts';

/**
 * A stored status and its version: 1 for the first write, one more for each after (0 stands for none
 * stored). The status is undefined when the row is there but cannot be read: an update replaces it.
 */
export interface VersionedStatus {
  readonly status: TaskStatus | undefined;
  readonly version: number;
}

/** A conditional write: `status` stored as version `expected + 1` if the stored version is still `expected`. */
export interface StatusWrite {
  readonly id: string;
  readonly expected: number;
  readonly status: TaskStatus;
}

/** What a store gives the loop: a read of versions, and a conditional write that says which ids lost. */
export interface CasOperations {
  read(ids: readonly string[]): Promise<Map<string, VersionedStatus>>;
  /** Writes those of `writes` whose version is unchanged; resolves with the ids of the others. */
  write(writes: readonly StatusWrite[]): Promise<Set<string>>;
}

// Rounds for one call before it gives up: each lost round means another server changed the same task in
// the moment between a read and a write, so more than a few in a row means something is wrong.
const MAX_ROUNDS = 50;

/** Runs updateStatuses' read → apply → compare-and-set, retrying the ids that lost. */
export async function updateByCompareAndSet(ids: readonly string[], update: StatusUpdate, ops: CasOperations): Promise<StatusChange[]> {
  const changes: StatusChange[] = [];
  let pending = [...new Set(ids)];
  for (let round = 0; pending.length > 0; round++) {
    if (round >= MAX_ROUNDS) throw new StoreUnavailableError(`statuses of ${pending.length} tasks kept changing under ${MAX_ROUNDS} tries to write them`);
    const stored = await ops.read(pending);
    const writes: Array<StatusWrite & { readonly before: TaskStatus | undefined }> = [];
    for (const id of pending) {
      const current = stored.get(id);
      const next = update(current?.status, id);
      if (next === undefined || next === current?.status) continue;
      writes.push({ id, expected: current?.version ?? 0, status: next, before: current?.status });
    }
    if (writes.length === 0) break;
    const lost = await ops.write(writes);
    for (const write of writes) if (!lost.has(write.id)) changes.push({ before: write.before, after: write.status });
    pending = [...lost];
  }
  return changes;
}
