import type { IncomingMessage, ServerResponse } from 'node:http';
import { VERSION } from '../protocol/build-info.ts';
import { nextTurn } from '../core/turns.ts';
import { HttpError } from '../protocol/errors.ts';
import { VERSION_HEADER } from '../protocol/routes.ts';

/**
 * What an answer is written to: node:http's response, or a parked watch's connection (ParkedReply in
 * park-connection.ts), which writes the same bytes by hand.
 */
export interface Reply {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  end(body: string): unknown;
}

/** No headers: what most answers add to the usual ones (see send), and what a parked request keeps of its own. */
export const NO_HEADERS: Record<string, string> = Object.freeze({});

/** Reads a request body up to `maxBytes`; larger bodies are refused without reading them whole. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) return Promise.reject(tooLarge(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        req.resume();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function tooLarge(maxBytes: number): HttpError {
  // Close the connection after answering: the rest of the body is not worth reading.
  return new HttpError('payload_too_large', `request body is larger than ${maxBytes} bytes`, { connection: 'close' });
}

// Parsing a body this large takes a millisecond or more: it waits its turn (see nextTurn).
const BIG_BODY_BYTES = 64 * 1024;

/** Parses a JSON body; an empty body reads as `{}` so optional bodies may be left out. */
export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const body = await readBody(req, maxBytes);
  if (body.length === 0) return {};
  if (body.length >= BIG_BODY_BYTES) await nextTurn();
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError('unsupported_media_type', 'send the body as application/json');
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError('invalid_json', 'the request body is not valid JSON');
  }
}

export function sendJson(res: Reply, status: number, body: unknown, headers: Record<string, string> = NO_HEADERS): void {
  send(res, status, JSON.stringify(body), 'application/json; charset=utf-8', headers);
}

export function sendText(
  res: Reply,
  status: number,
  body: string,
  contentType = 'text/plain; charset=utf-8',
  headers: Record<string, string> = NO_HEADERS,
): void {
  send(res, status, body, contentType, headers);
}

// Every answer goes through here, so every answer says it comes from taskctl.
function send(res: Reply, status: number, body: string, contentType: string, headers: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  // A literal with fixed keys (the last is VERSION_HEADER), not a computed key or a spread: V8 builds it
  // without a runtime call, and most answers (every watch) carry no other header.
  const head = { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'taskctl-version': VERSION };
  res.writeHead(status, headers === NO_HEADERS ? head : { ...head, ...headers });
  res.end(body);
}

/**
 * The answer to a request Node could not parse (a garbage request line, headers too large): a JSON 400
 * like any other error, written straight to the socket because there is no response object.
 */
export function rawErrorReply(status: number, code: string, message: string): string {
  const body = JSON.stringify({ error: { code, message } });
  return `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${VERSION_HEADER}: ${VERSION}\r\nconnection: close\r\n\r\n${body}`;
}
