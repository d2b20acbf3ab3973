// Defaults of the PostgreSQL store, in a file of their own so that `serve --help` can show them without
// loading the client library.

/** The schema taskctl's tables live in unless --pg-schema names another. */
export const DEFAULT_PG_SCHEMA = 'taskctl';
/** Connections kept for queries; the listening connection is one more. */
export const DEFAULT_PG_POOL_SIZE = 10;
/** How often every held id is looked up again while listening: the most a lost notification can cost. */
export const DEFAULT_BACKSTOP_MS = 5_000;
/** How often every held id is looked up with `?listen=off`: the longest a cancel made on another server waits. */
export const DEFAULT_POLL_MS = 1_000;
/** Schema names taskctl accepts: a plain identifier, short enough that its channel names stay under 64 bytes. */
export const PG_SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,39}$/;
