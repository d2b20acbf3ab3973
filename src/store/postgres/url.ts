import { InvalidInputError, preview } from '../../core/task-id.ts';

/** What a `postgres://` store spec says: the URL for the client library, and taskctl's own parameters taken out of it. */
export interface PostgresSpec {
  /** The URL given to the client: the user's, without taskctl's parameters. */
  readonly url: string;
  /** The URL as it may be shown: without its password. */
  readonly shown: string;
  /** False with `?listen=off`: no LISTEN (PgBouncer in transaction mode), held ids are looked up every poll instead. */
  readonly listen: boolean;
  /** Whether the URL names its own application_name, which is then kept. */
  readonly hasApplicationName: boolean;
}

// Parameters taskctl reads itself; the client library would otherwise send them to PostgreSQL as settings,
// which refuses them.
const OWN_PARAMETERS = ['listen'];

/** Whether `spec` names a PostgreSQL store. */
export function isPostgresSpec(spec: string): boolean {
  return /^postgres(ql)?:\/\//.test(spec);
}

/** Reads a `postgres://` or `postgresql://` URL; a value it cannot use is an InvalidInputError naming it. */
export function parsePostgresSpec(spec: string): PostgresSpec {
  let parsed: URL;
  try {
    parsed = new URL(spec);
  } catch {
    throw new InvalidInputError(`--store ${preview(redactPassword(spec))} is not a URL: use postgres://USER:PASS@HOST:PORT/DB`);
  }
  const listen = parsed.searchParams.get('listen') ?? 'on';
  if (listen !== 'on' && listen !== 'off')
    throw new InvalidInputError(`--store: listen=${preview(listen)}: use listen=off (poll only, for PgBouncer in transaction mode) or leave it out`);
  for (const name of OWN_PARAMETERS) parsed.searchParams.delete(name);
  const sslmode = parsed.searchParams.get('sslmode');
  if (sslmode !== null && !['disable', 'prefer', 'require', 'verify-ca', 'verify-full'].includes(sslmode)) {
    throw new InvalidInputError(`--store: sslmode=${preview(sslmode)}: use disable, prefer, require, verify-ca or verify-full`);
  }
  const url = parsed.toString();
  return { url, shown: redactPassword(spec), listen: listen === 'on', hasApplicationName: parsed.searchParams.has('application_name') };
}

/** The URL as it may be shown: without its password. */
export function redactPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    // libpq takes the password as a parameter too (?password=...).
    if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
    return parsed.toString();
  } catch {
    // Not a URL: whatever follows the scheme's "//" up to an "@" may be credentials.
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}
