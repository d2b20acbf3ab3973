import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { HttpError } from '../protocol/errors.ts';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Checks `Authorization: Bearer <token>` in constant time. Both sides are hashed first, so neither the
 * length nor any prefix of the token leaks through timing.
 */
export function bearerAuth(token: string): (headers: IncomingHttpHeaders) => void {
  const expected = digest(token);
  return (headers) => {
    const match = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? '');
    if (!match || !timingSafeEqual(digest(match[1]!.trim()), expected)) {
      throw new HttpError('unauthorized', 'missing or wrong token (send Authorization: Bearer <token>)', { 'www-authenticate': 'Bearer' });
    }
  };
}
