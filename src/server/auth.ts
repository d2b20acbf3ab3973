import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { HttpError } from '../protocol/errors.ts';

/** What a route lets a caller do; each route declares the one it needs. */
export type Right = 'watch' | 'report' | 'status' | 'cancel' | 'list' | 'metrics';

/** A token's role: the set of rights it carries. */
export type Role = 'worker' | 'operator' | 'reader' | 'admin';

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
}

/** The caller a request's headers prove; throws a 401 when they prove none. */
export type Authenticate = (headers: IncomingHttpHeaders) => Caller;

const ANONYMOUS: Caller = { name: 'anonymous', role: 'admin' };
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
  return (headers) => {
    const presented = bearerToken(headers);
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) throw unauthorized();
    return ADMIN;
  };
}

/** Throws a 403 naming the role needed unless `caller` has `right`. */
export function checkRight(caller: Caller, right: Right): void {
  if (ROLE_RIGHTS[caller.role].has(right)) return;
  const roles = (Object.keys(ROLE_RIGHTS) as Role[]).filter((role) => role !== 'admin' && ROLE_RIGHTS[role].has(right));
  const needed = roles.length > 0 ? `the ${roles.join(' or ')} role` : 'the admin role';
  throw new HttpError('forbidden', `token "${caller.name}" (role ${caller.role}) may not do this; it needs ${needed}`);
}

function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? '');
  return match ? match[1]!.trim() : undefined;
}

function unauthorized(): HttpError {
  return new HttpError('unauthorized', 'missing or wrong token (send Authorization: Bearer <token>)', { 'www-authenticate': 'Bearer' });
}
