import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { HttpError } from '../protocol/errors.ts';
import { firstProblem } from '../protocol/schemas.ts';
import type { Caller, Right } from './auth.ts';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The path's captured parts, percent-decoded. */
  readonly params: readonly string[];
  /** The query string without its "?"; parsed only by the route that reads it. */
  readonly search: string;
  /** Who asked, as the token they sent says. */
  readonly caller: Caller;
}

export interface Route {
  readonly method: 'GET' | 'POST';
  readonly pattern: RegExp;
  /** What a caller must be allowed to do to use the route; `open` routes answer without a token. */
  readonly right: Right | 'open';
  /**
   * `path-id`: the route acts on the one task named in its path, which a scoped token's scope must cover
   * (checked with the right, before the handler). Routes that take ids in their body or answer for many
   * tasks ask the caller's scope themselves (checkScope to refuse, inScope to leave out).
   */
  readonly scope?: 'path-id';
  /** Answers now or later; a promise, when returned, is watched for errors (a held watch returns none). */
  readonly handle: (ctx: RequestContext) => Promise<void> | void;
}

/**
 * The route for `method` and `path`, with its decoded params; 404 or 405 (with Allow) otherwise. HEAD is
 * GET without a body (Node leaves the body out of a HEAD answer) on the open routes, as `curl -I` and link
 * checkers expect.
 */
export function matchRoute(routes: readonly Route[], requested: string, path: string): { route: Route; params: string[] } {
  const method = requested === 'HEAD' ? 'GET' : requested;
  let allowed = '';
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    // HEAD only where a GET has no effect and ends at once: the open routes (the page, /ping, /healthz).
    // A seed cancel is a GET with an effect, and a watch or a stream would hold a HEAD open for nothing.
    if (route.method !== method || (requested === 'HEAD' && route.right !== 'open')) {
      allowed += allowed ? `, ${route.method}` : route.method;
      continue;
    }
    try {
      const params: string[] = [];
      for (let i = 1; i < match.length; i++) {
        const part = match[i] ?? '';
        // Most ids need no decoding; decodeURIComponent would still copy them.
        params.push(part.includes('%') ? decodeURIComponent(part) : part);
      }
      return { route, params };
    } catch {
      throw new HttpError('invalid_request', 'the path is not valid percent-encoded UTF-8');
    }
  }
  if (allowed) throw new HttpError('method_not_allowed', `${truncate(path)} takes ${allowed}`, { allow: allowed });
  throw new HttpError('not_found', `no route ${method} ${truncate(path)}`);
}

/** `input` checked against `schema`; the first problem becomes a 400 with `code`. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, code: 'invalid_request' | 'invalid_task_id' = 'invalid_request'): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new HttpError(code, firstProblem(result.error));
  return result.data;
}

/**
 * A query string as an object, for routes whose parameters each appear once: one given twice is a 400
 * (which of the two was meant cannot be told, and joining them made a value nobody sent). Decoded as a form
 * is (`+` is a space), but strictly: a bad percent-escape is a 400, not kept as typed or made U+FFFD.
 */
export function queryObject(search: string): Record<string, string> {
  const values = new Map<string, string[]>();
  for (const [key, raw] of queryPairs(search)) {
    const value = decodeQueryPart(raw.replaceAll('+', ' '));
    const given = values.get(key);
    if (given) given.push(value);
    else values.set(key, [value]);
  }
  refuseRepeated(values);
  // Own properties, even for a key such as __proto__.
  return Object.fromEntries([...values].map(([key, [value]]) => [key, value!]));
}

/** The query string's parameters in order: each key decoded (as a form's: `+` is a space), each value as sent. */
export function queryPairs(search: string): Array<[key: string, raw: string]> {
  const pairs: Array<[string, string]> = [];
  for (const pair of search.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    pairs.push([decodeQueryPart((eq === -1 ? pair : pair.slice(0, eq)).replaceAll('+', ' ')), eq === -1 ? '' : pair.slice(eq + 1)]);
  }
  return pairs;
}

/** A percent-encoded part of a query string, decoded; 400 when it is not valid percent-encoded UTF-8. */
export function decodeQueryPart(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new HttpError('invalid_request', 'the query string is not valid percent-encoded UTF-8');
  }
}

/** 400 for the first parameter of `values` given more than once. */
export function refuseRepeated(values: ReadonlyMap<string, readonly unknown[]>): void {
  for (const [key, given] of values) {
    if (given.length > 1) throw new HttpError('invalid_request', `${truncate(key, 40)}: given ${given.length} times; give it once`);
  }
}

export function truncate(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
