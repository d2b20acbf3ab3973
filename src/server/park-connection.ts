import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { NO_HEADERS, type Reply } from './http-io.ts';

/**
 * Parking: a held watch (or event stream) gives back its connection's HTTP parser.
 *
 * node:http keeps a parser on every connection for the next request on it: about 6 KB of native memory,
 * over a third of what a held watch costs in all. A held watch's client sends nothing more until it is
 * answered, so the parser only waits. Parking hands it back with the internal call node:http's own upgrade
 * path (a WebSocket) makes: node's listeners that use the parser come off the socket and the parser goes
 * back to node's pool (which keeps up to a thousand for new connections), or is freed. node's close
 * listener comes off too: it would give back the parser again, and destroy the parked request with an
 * error whose stack it formats for nobody. The parked socket is then read by a listener of ours that
 * notices the client leaving (the end of its stream closes the socket, which ends the watch like any
 * departure) and drops whatever else it sends: a request pipelined behind the watch goes unanswered, and
 * the client, told the connection closes, sends it again on a new one. With no parser for a next request,
 * the answer closes the connection (Connection: close), and the worker opens a new one to ask again: a TCP
 * handshake per answered watch, which is why only plain connections park (a TLS handshake costs far more
 * than the memory) and only once many watches are held. An event stream ends only by closing its
 * connection anyway.
 *
 * A parked watch whose holder writes its answer to what it is handed goes one step further: node:http lets
 * go of its response and its request, and the answer is written to the connection by hand (ParkedReply),
 * the same bytes node would write. The two and what only they kept were 2 KB of the 6 KB of V8's heap a
 * parked watch took.
 *
 * It reaches into node:http's workings (the parser on the socket, the names of its listeners, the answer
 * the socket is writing), which no public API offers. So it parks only on the Node major it was written and
 * tested against, and only where all of them are as expected; otherwise the watch is held as before.
 */

interface Parser {
  incoming: IncomingMessage | null;
}

type ParkableSocket = Socket & { parser?: Parser | null; encrypted?: boolean; _httpMessage?: unknown };

/** Told that a watch's connection parked, with what its answer is to be written to from now on. */
export type OnParked = (reply: ParkedReply) => void;

// What a parked request's headers are replaced with: nothing reads them once it is parked.
const NO_RAW_HEADERS: string[] = Object.freeze([]) as unknown as string[];

/**
 * The answer of a parked watch, written to its connection by hand: what node:http writes for the same
 * status, headers and body on a connection that closes after its answer (its Date and Connection: close
 * after the given headers). Its 'close' is the connection's: the client left, or the answer is out.
 */
export class ParkedReply implements Reply {
  headersSent = false;
  /** Set false by a holder whose server is stopping; a parked connection closes after its answer anyway. */
  shouldKeepAlive = false;
  #head = '';

  constructor(readonly socket: Socket) {}

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  writeHead(status: number, headers: Record<string, string | number>): this {
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
    for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
    this.#head = `${head}Date: ${new Date().toUTCString()}\r\nConnection: close\r\n\r\n`;
    this.headersSent = true;
    return this;
  }

  end(body: string): void {
    if (!this.headersSent) this.writeHead(200, NO_HEADERS);
    this.socket.end(this.#head + body);
  }

  on(event: 'close', listener: () => void): void {
    this.socket.on(event, listener);
  }

  off(event: 'close', listener: () => void): void {
    this.socket.off(event, listener);
  }
}

type FreeParser = (parser: Parser, req: IncomingMessage, socket: Socket) => void;

/** The Node major whose node:http parking was written against (the one the binary is built with). */
const PARKING_NODE_MAJOR = '24';

// node:http's own helper for giving a parser back (what its upgrade path calls); undefined where it is gone.
const freeParser = (() => {
  if (process.versions.node.split('.')[0] !== PARKING_NODE_MAJOR) return undefined;
  try {
    const common = process.getBuiltinModule('_http_common') as { freeParser?: unknown } | undefined;
    return typeof common?.freeParser === 'function' ? (common.freeParser as FreeParser) : undefined;
  } catch {
    return undefined;
  }
})();

/** Whether parking works on this Node (for the tests: on the pinned Node it must). */
export const canPark = freeParser !== undefined;

/**
 * Each watch or event stream held beyond this many parks its connection: below this, a few megabytes are
 * not worth a reconnect per answered watch.
 */
export const PARK_FROM = 256;

// Bytes a parked client may send (a request pipelined behind its watch, stray line ends) before it is cut
// off: as much as a request's headers may hold.
const MAX_DROPPED_BYTES = 16 * 1024;

/** The parked connections of one server: node:http's closeAllConnections no longer sees them. */
export class ParkedConnections {
  /** Each parked connection still open, and the bytes its client sent since (dropped). */
  readonly #sockets = new Map<Socket, number>();
  /**
   * The listeners of every parked socket: one function each for the whole server, finding its socket
   * through `this`, rather than closures (and a once() wrapper) per parked connection, each kept for as
   * long as its watch is held.
   */
  readonly #dropped: (this: Socket, chunk: Buffer) => void;
  readonly #closed: (this: Socket) => void;

  constructor() {
    const sockets = this.#sockets;
    this.#dropped = function (this: Socket, chunk: Buffer) {
      const dropped = (sockets.get(this) ?? 0) + chunk.length;
      if (dropped > MAX_DROPPED_BYTES) this.destroy();
      else sockets.set(this, dropped);
    };
    this.#closed = function (this: Socket) {
      sockets.delete(this);
    };
  }

  /** Connections parked and still open. */
  get size(): number {
    return this.#sockets.size;
  }

  /**
   * Parks the connection of `res`, held and not yet answered (or answered by a stream that closes the
   * connection when it ends), as soon as node:http is done parsing its request (after the current turn: the
   * parser may still be running below this call). Returns at once; does nothing where parking is not
   * possible. With `onParked`, node:http lets go of the response once parked, and `onParked` is handed
   * what the answer is to be written to instead: the caller must keep no other hold on `res`.
   */
  parkWhenParsed(res: ServerResponse, onParked?: OnParked): void {
    if (freeParser === undefined || (res.req.socket as ParkableSocket).encrypted) return;
    setImmediate(() => this.#park(res, onParked));
  }

  /** Closes every parked connection still open, answered or not (the server is stopping and cannot wait). */
  destroyAll(): void {
    for (const socket of this.#sockets.keys()) socket.destroy();
  }

  #park(res: ServerResponse, onParked: OnParked | undefined): void {
    const req = res.req;
    const socket = req.socket as ParkableSocket;
    const parser = socket.parser;
    // Answered or left meanwhile; an answer begun that keeps the connection; another answer still being
    // written ahead of this one; a request still arriving; or a next request already parsed behind it.
    if (res.writableEnded || (res.headersSent && res.shouldKeepAlive) || socket.destroyed || socket._httpMessage !== res) return;
    if (!req.complete || !parser || parser.incoming !== req) return;
    const parsing = listenerNamed(socket, 'data', 'bound socketOnData');
    const ending = listenerNamed(socket, 'end', 'bound socketOnEnd');
    if (parsing === undefined || ending === undefined) return;
    try {
      socket.off('data', parsing);
      socket.off('end', ending);
      // These restart the parser's reading whenever the socket is paused or resumed; ours reads now.
      const resuming = listenerNamed(socket, 'resume', 'onSocketResume');
      const pausing = listenerNamed(socket, 'pause', 'onSocketPause');
      if (resuming) socket.off('resume', resuming);
      if (pausing) socket.off('pause', pausing);
      // At close, node:http gives back the parser (given back here already) and destroys the requests it
      // still lists with an error of its own: this one, which nothing listens to. That error's stack, taken
      // and then formatted, was about a tenth of a server's CPU while it answered parked watches.
      const closing = listenerNamed(socket, 'close', 'bound socketOnClose');
      if (closing) socket.off('close', closing);
      freeParser!(parser, req, socket);
    } catch {
      // Half given back is neither: the connection is lost to its client, who asks again on a new one.
      socket.destroy();
      return;
    }
    // No parser is left to read a next request: the answer says so, and node closes the connection after
    // it. (An answer already begun, an event stream, said so from the start.)
    res.shouldKeepAlive = false;
    this.#sockets.set(socket, 0);
    socket.on('data', this.#dropped);
    socket.on('end', destroyOnEnd);
    // Closes once: on() is enough, without once()'s wrapper.
    socket.on('close', this.#closed);
    if (onParked === undefined || req.method !== 'GET' || res.headersSent) return;
    // The response goes: node:http's socket no longer names it (so its close no longer reaches it), and
    // the holder is handed the connection to answer on. The request goes too: node:http lists it in its
    // state of the connection, which only its drain listener still holds once the others are off, and that
    // listener only passes a drain on to the response. Where that listener is not as expected, the request
    // stays, without its headers.
    socket._httpMessage = null;
    const draining = listenerNamed(socket, 'drain', 'bound socketOnDrain');
    if (draining) socket.off('drain', draining);
    req.rawHeaders = NO_RAW_HEADERS;
    req.headers = NO_HEADERS;
    onParked(new ParkedReply(socket));
  }
}

/** A parked client's end of its stream: it left, and the watch ends like any departure. */
function destroyOnEnd(this: Socket): void {
  this.destroy();
}

/** The one listener for `event` named `name`; undefined when there is none, or more than one. */
function listenerNamed(socket: Socket, event: string, name: string): ((...args: unknown[]) => void) | undefined {
  const found = socket.listeners(event).filter((listener) => listener.name === name);
  return found.length === 1 ? (found[0] as (...args: unknown[]) => void) : undefined;
}
