// Server-Sent Events as the WHATWG spec frames them, for every reader of GET /v1/events: the CLI's client
// and the web page (which may import only protocol/). Text in, messages out; nothing of Node or the DOM.
// limits.ts, not events.ts: the page must not pull zod's schemas in with the framing.
import { MAX_EVENT_BYTES } from './limits.ts';

/** A line or an event longer than the parser's limit: a stream that is not taskctl's, not buffered for ever. */
export class SseTooLargeError extends Error {
  override name = 'SseTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`the event stream sent an event of more than ${maxBytes} bytes; refused`);
  }
}

/** One event as Server-Sent Events frame it: its type, data and the last id the stream set. */
export interface SseMessage {
  readonly type: string;
  readonly data: string;
  readonly id: string | undefined;
}

/**
 * Reads Server-Sent Events as the WHATWG spec frames them (lines ending in CRLF, LF or CR; `:` comments;
 * `event`, `data`, `id` and `retry` fields; a blank line dispatches). An `id` without data sets the last
 * id without an event. A line or event longer than `maxBytes` is refused, so a server cannot make the
 * client buffer without end.
 */
export class SseParser {
  readonly #decoder = new TextDecoder('utf-8');
  readonly #maxBytes: number;
  #buffer = '';
  #type = '';
  #data: string[] = [];
  #dataLength = 0;
  #sawCr = false;
  /** The id of the last event (or id-only block), as the stream set it. */
  lastId: string | undefined;

  constructor(maxBytes: number = MAX_EVENT_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** The messages `chunk` completes, in order. */
  push(chunk: Uint8Array): SseMessage[] {
    let text = this.#decoder.decode(chunk, { stream: true });
    // A CR at the end of the last chunk already ended its line; an LF starting this one belongs to it.
    if (this.#sawCr && text.startsWith('\n')) text = text.slice(1);
    this.#sawCr = text.endsWith('\r');
    this.#buffer += text;
    const messages: SseMessage[] = [];
    let start = 0;
    for (;;) {
      const end = this.#lineEnd(start);
      if (end === -1) break;
      const line = this.#buffer.slice(start, end);
      start = end + (this.#buffer[end] === '\r' && this.#buffer[end + 1] === '\n' ? 2 : 1);
      const message = this.#line(line);
      if (message) messages.push(message);
    }
    this.#buffer = this.#buffer.slice(start);
    if (this.#buffer.length + this.#dataLength > this.#maxBytes) throw new SseTooLargeError(this.#maxBytes);
    return messages;
  }

  #lineEnd(from: number): number {
    for (let i = from; i < this.#buffer.length; i++) {
      const ch = this.#buffer.charCodeAt(i);
      // A CR as the very last character may be half of a CRLF still to come; it is taken as a line end
      // (the next chunk's LF is dropped above).
      if (ch === 10 || ch === 13) return i;
    }
    return -1;
  }

  #line(line: string): SseMessage | undefined {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#type = value;
    else if (field === 'data') {
      this.#data.push(value);
      this.#dataLength += value.length + 1;
      if (this.#dataLength > this.#maxBytes) throw new SseTooLargeError(this.#maxBytes);
    } else if (field === 'id' && !value.includes('\0')) this.#pendingId = value;
    return undefined;
  }

  #pendingId: string | undefined;

  #dispatch(): SseMessage | undefined {
    if (this.#pendingId !== undefined) this.lastId = this.#pendingId;
    const data = this.#data.join('\n');
    const type = this.#type || 'message';
    const hadData = this.#data.length > 0;
    this.#data = [];
    this.#dataLength = 0;
    this.#type = '';
    return hadData ? { type, data, id: this.lastId } : undefined;
  }
}
