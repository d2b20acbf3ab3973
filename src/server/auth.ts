import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { scopePatternProblem, TaskScope } from '../core/task-scope.ts';
import { HttpError } from '../protocol/errors.ts';

/** What a route lets a caller do; each route declares the one it needs. */
export type Right = 'watch' | 'report' | 'status' | 'cancel' | 'list' | 'metrics';

/** A token's role: the set of rights it carries. */
export type Role = 'worker' | 'operator' | 'reader' | 'admin';

export const ROLES: readonly Role[] = ['worker', 'operator', 'reader', 'admin'];

export const ROLE_RIGHTS: Readonly<Record<Role, ReadonlySet<Right>>> = {
  worker: new Set(['watch', 'report', 'status']),
  operator: new Set(['watch', 'report', 'status', 'cancel', 'list']),
  reader: new Set(['status', 'list', 'metrics']),
  admin: new Set(['watch', 'report', 'status', 'cancel', 'list', 'metrics']),
};

/** Who made a request: the name their token is known by (or `anonymous` on a server without auth). */
export interface Caller {
  readonly name: string;
  readonly role: Role;
  /** For a token from the tokens file: its hash, which a reload compares. Absent for tokens no reload can take away. */
  readonly tokenId?: string;
  /** The tasks a scoped token (`ids=` on its line) may touch; absent: every task. */
  readonly scope?: TaskScope;
}

/**
 * The caller a request proves; throws a 401 when it proves none. Given the request, not its headers: Node
 * builds `req.headers` when first asked, which a server without tokens never needs to.
 */
export type Authenticate = (req: IncomingMessage) => Caller;

/** Everyone, on a server without tokens. */
export const ANONYMOUS: Caller = { name: 'anonymous', role: 'admin' };
const ADMIN: Caller = { name: 'admin', role: 'admin' };

/** The caller for a server without tokens: everyone may do everything. */
export const openAccess: Authenticate = () => ANONYMOUS;

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Checks `Authorization: Bearer <token>` against the single admin token in constant time. Both sides are
 * hashed first, so neither the length nor any prefix of the token leaks through timing.
 */
export function bearerAuth(token: string): Authenticate {
  const expected = digest(token);
  return (req) => {
    const presented = bearerToken(req.headers);
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) throw unauthorized();
    return ADMIN;
  };
}

/** One line of a tokens file: `NAME ROLE sha256:HEX`, optionally followed by `ids=PATTERN[,PATTERN...]`. */
export interface TokenEntry {
  readonly name: string;
  readonly role: Role;
  /** The SHA-256 of the token, lowercase hex. */
  readonly sha256: string;
  /** The patterns of `ids=`: the only tasks the token may touch. Absent: every task. */
  readonly scope?: readonly string[];
}

/** A tokens file that cannot be used; `line` is 1-based, absent when the fault is the whole file's. */
export class TokensFileError extends Error {
  override name = 'TokensFileError';
  constructor(
    readonly line: number | undefined,
    message: string,
  ) {
    super(line === undefined ? message : `line ${line}: ${message}`);
  }
}

/** Token names: what the audit shows, so nothing a terminal could act on. */
export const TOKEN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/**
 * The entries of a tokens file: one token per line as `NAME ROLE sha256:HEX`, and for a token scoped to some
 * tasks ` ids=PATTERN[,PATTERN...]` (each an exact id or a prefix ending in `*`); blank lines and lines
 * starting with `#` are skipped. Throws a TokensFileError naming the first bad line, or saying the file
 * lists no token: a file emptied by mistake (a failed deploy, a truncated copy) would lock every client out,
 * and on a reload stop every worker's commands. A name may appear twice (an old and a new token while one is
 * rotated); a hash may not.
 */
export function parseTokensFile(text: string): TokenEntry[] {
  const entries: TokenEntry[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fail = (message: string) => {
      throw new TokensFileError(index + 1, message);
    };
    const fields = line.split(/\s+/);
    if (fields.length !== 3 && fields.length !== 4)
      fail(`expected "NAME ROLE sha256:HEX [ids=PATTERN,...]", found ${fields.length} field${fields.length === 1 ? '' : 's'}`);
    const [name, role, hash, ids] = fields as [string, string, string, string | undefined];
    if (!TOKEN_NAME_PATTERN.test(name)) fail('the name must be 1 to 64 letters, digits or . _ @ - (starting with a letter or digit)');
    if (!(ROLES as readonly string[]).includes(role)) fail(`unknown role "${role.slice(0, 20)}" (one of ${ROLES.join(', ')})`);
    const match = /^sha256:([0-9a-fA-F]{64})$/.exec(hash);
    if (!match) fail('the token must be given as sha256:<64 hex digits> (taskctl token new prints the line)');
    const sha256 = match![1]!.toLowerCase();
    if (seen.has(sha256)) fail('the same token is listed twice');
    seen.add(sha256);
    if (ids === undefined) {
      entries.push({ name, role: role as Role, sha256 });
      return;
    }
    if (!ids.startsWith('ids='))
      fail(`the fourth field must be ids=PATTERN[,PATTERN...] (the tasks the token may touch), found ${JSON.stringify(ids.slice(0, 20))}`);
    const scope = ids.slice(4).split(',');
    for (const pattern of scope) {
      const problem = scopePatternProblem(pattern);
      if (problem !== undefined) fail(`ids=: ${problem}`);
    }
    entries.push({ name, role: role as Role, sha256, scope });
  });
  if (entries.length === 0)
    throw new TokensFileError(undefined, 'lists no token (a server nobody may use is a mistake; to take every token away, stop the server)');
  return entries;
}

/** The SHA-256 of `token` as a tokens file lists it. */
export function tokenHash(token: string): string {
  return digest(token).toString('hex');
}

/**
 * The tokens a server accepts: those of a tokens file, replaceable while it runs, and the `--token` admin
 * token beside them. A presented token is hashed and looked up by its hash: the lookup compares hashes,
 * which an attacker cannot steer, so it leaks nothing useful through timing.
 */
export class TokenTable {
  #byHash: ReadonlyMap<string, Caller>;
  readonly #admin: Authenticate | undefined;

  constructor(entries: readonly TokenEntry[], adminToken?: string) {
    this.#byHash = TokenTable.#index(entries);
    this.#admin = adminToken === undefined ? undefined : bearerAuth(adminToken);
  }

  /** How many tokens of the file are in force. */
  get size(): number {
    return this.#byHash.size;
  }

  readonly authenticate: Authenticate = (req) => {
    const presented = bearerToken(req.headers);
    if (presented === undefined) throw unauthorized();
    const caller = this.#byHash.get(tokenHash(presented));
    if (caller) return caller;
    if (this.#admin) return this.#admin(req);
    throw unauthorized();
  };

  /** Puts `entries` in force instead of the current ones; from now on a removed token gets 401. Returns those it replaced. */
  replace(entries: readonly TokenEntry[]): ReadonlyMap<string, Caller> {
    const replaced = this.#byHash;
    this.#byHash = TokenTable.#index(entries);
    return replaced;
  }

  /** Whether the file token `tokenId` is still in force with `right`. */
  allows(tokenId: string, right: Right): boolean {
    const caller = this.#byHash.get(tokenId);
    return caller !== undefined && ROLE_RIGHTS[caller.role].has(right);
  }

  /** The file token `tokenId` as it is in force now; undefined once a reload took it away. */
  callerOf(tokenId: string): Caller | undefined {
    return this.#byHash.get(tokenId);
  }

  static #index(entries: readonly TokenEntry[]): Map<string, Caller> {
    return new Map(
      entries.map((e) => [e.sha256, { name: e.name, role: e.role, tokenId: e.sha256, ...(e.scope === undefined ? {} : { scope: new TaskScope(e.scope) }) }]),
    );
  }
}

const RIGHT_DOES: Readonly<Record<Right, string>> = {
  watch: 'watch tasks',
  report: 'report how tasks ended',
  status: "read a task's status",
  cancel: 'cancel tasks',
  list: 'list tasks',
  metrics: 'read metrics',
};

/** Throws a 403 naming the role needed unless `caller` has `right`. */
export function checkRight(caller: Caller, right: Right): void {
  if (ROLE_RIGHTS[caller.role].has(right)) return;
  const roles = ROLES.filter((role) => role !== 'admin' && ROLE_RIGHTS[role].has(right));
  const needed = roles.length > 0 ? `the ${roles.join(' or ')} role` : 'the admin role';
  throw new HttpError('forbidden', `token "${caller.name}" (role ${caller.role}) may not ${RIGHT_DOES[right]}; that needs ${needed}`);
}

/** Whether `caller` may touch task `id`: always, unless its token is scoped to tasks `id` is not among. */
export function inScope(caller: Caller, id: string): boolean {
  return caller.scope === undefined || caller.scope.covers(id);
}

/**
 * Throws a 403 out_of_scope unless `caller`'s scope covers every one of `ids` (a request is refused whole,
 * never served in part). The message names the caller's own patterns and the id it sent, nothing else.
 */
export function checkScope(caller: Caller, ids: Iterable<string>): void {
  const outside = caller.scope?.firstOutside(ids);
  if (outside === undefined) return;
  const rule = `token "${caller.name}" may only touch tasks matching ${caller.scope}`;
  throw new HttpError('out_of_scope', `${rule}; ${JSON.stringify(outside.slice(0, 100))} is not one of them`, {}, rule);
}

function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? '');
  return match ? match[1]!.trim() : undefined;
}

function unauthorized(): HttpError {
  return new HttpError('unauthorized', 'missing or wrong token (taskctl: --token or TASKCTL_TOKEN; HTTP: Authorization: Bearer <token>)', {
    'www-authenticate': 'Bearer',
  });
}
