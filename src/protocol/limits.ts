// Limits both sides of the wire agree on. The "Limits" table of docs/server.md repeats these numbers.

/** How long the server holds a watch when the client names no timeout. */
export const DEFAULT_WATCH_TIMEOUT_MS = 30_000;
/** The longest watch a server may be configured to hold; clients may ask for less, never more. */
export const MAX_WATCH_TIMEOUT_MS = 5 * 60_000;
/** The shortest watch a client may ask for. */
export const MIN_WATCH_TIMEOUT_MS = 100;
/** Ids in one watch request. */
export const MAX_IDS_PER_WATCH = 10_000;
/** Parents one task may declare (`work --parent`, repeatable); how deep they may nest is MAX_PARENT_DEPTH. */
export const MAX_PARENTS_PER_TASK = 8;
export { MAX_ANCESTORS, MAX_PARENT_DEPTH } from '../core/task-family.ts';
/** Bytes in one request body (10,000 ids of the longest kind fit). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Characters in a cancel reason. */
export const MAX_REASON_CHARS = 1_024;
/** Watches open at once across all clients, unless the server is told otherwise. */
export const DEFAULT_MAX_OPEN_WATCHES = 100_000;
/** How long a task nobody watches is remembered (its status and history), unless the server is told otherwise. */
export const DEFAULT_RETENTION_MS = 7 * 86_400_000;
/**
 * A watch on at least this many ids may be kept by the server as a watch session, polled by name; below it
 * sending the ids again costs little. (At 256 it was too many: four workers of 250 ids each sent them all
 * again after every cancel, and their cancels reached them at twice the per-id p99.)
 */
export const SESSION_MIN_IDS = 64;
/** Ids held across all open watches at once (an id in two watches counts twice), unless told otherwise. */
export const DEFAULT_MAX_WATCHED_IDS = 1_000_000;
/** Event streams held at once (apart from watches), unless told otherwise: an idle one costs about 13 KB. */
export const DEFAULT_MAX_EVENT_STREAMS = 10_000;
/** The share of each cap (watches, watched ids, event streams) one file token may hold, unless told otherwise. */
export const DEFAULT_TOKEN_SHARE = 0.5;
/** What a client adds to the watch timeout before it gives up on an answer itself. */
export const CLIENT_TIMEOUT_MARGIN_MS = 10_000;
/** How far ahead a cancel may be scheduled ("after"/"at"), and the longest `work --timeout`: a year. */
export const MAX_SCHEDULE_AHEAD_MS = 366 * 86_400_000;
/** The longest a cancel may be remembered (`serve --ttl`). */
export const MAX_TTL_MS = 366 * 86_400_000;
/**
 * The most bytes a client reads of a short answer (ping, cancel, status, report): far more than any of them
 * can be, so a larger one is not from a taskctl server and is refused before it is buffered.
 */
export const MAX_SHORT_REPLY_BYTES = 256 * 1024;
/** The most bytes one task's entry in a watch answer or a listing can take, reason and history included. */
export const MAX_REPLY_BYTES_PER_TASK = 16 * 1024;

/** The most bytes one event may take on the wire; a client refuses a larger one (no task event is near it). */
export const MAX_EVENT_BYTES = 256 * 1024;
