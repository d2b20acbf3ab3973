// Server-Sent Events framing for the page. The CLI's parser (client/event-stream.ts) carries the Node
// client with it; this one is the same rules in a few lines: lines end in CRLF, LF or CR, `:` starts a
// comment, a blank line dispatches, and an `id` is remembered for the resume.

/** One event: its type, its data, and the last id the stream set. */
export interface SseMessage {
  readonly type: string;
  readonly data: string;
  readonly id: string | undefined;
}

// No task event comes near this; a larger one is a stream that is not ours, and is not buffered for ever.
const MAX_PENDING_CHARS = 1024 * 1024;

/** Turns chunks of a stream into events, keeping what a chunk leaves unfinished for the next. */
export class SseReader {
  readonly #decoder = new TextDecoder();
  #buffer = '';
  #type = '';
  #data: string[] = [];
  #afterCr = false;
  /** The id of the last event: what a reconnect sends as Last-Event-ID. */
  lastId: string | undefined;

  push(chunk: Uint8Array): SseMessage[] {
    let text = this.#decoder.decode(chunk, { stream: true });
    // A CR that ended the last chunk already ended its line: an LF opening this one is its other half.
    if (this.#afterCr && text.startsWith('\n')) text = text.slice(1);
    this.#afterCr = text.endsWith('\r');
    const lines = (this.#buffer + text).split(/\r\n|\r|\n/);
    this.#buffer = lines.pop() ?? '';
    if (this.#buffer.length > MAX_PENDING_CHARS) throw new Error('the event stream sent a line too long to be an event');
    const messages: SseMessage[] = [];
    for (const line of lines) {
      const message = this.#line(line);
      if (message) messages.push(message);
    }
    return messages;
  }

  #line(line: string): SseMessage | undefined {
    if (line === '') {
      const message = this.#data.length > 0 ? { type: this.#type || 'message', data: this.#data.join('\n'), id: this.lastId } : undefined;
      this.#type = '';
      this.#data = [];
      return message;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(line[colon + 1] === ' ' ? colon + 2 : colon + 1);
    if (field === 'event') this.#type = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastId = value;
    return undefined;
  }
}
