import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Every connection a server holds, counted from its first byte (before any TLS handshake) to its close: what
 * --max-connections caps, and what a stopping server closes. node:http's own list knows only connections
 * that became HTTP, so a connection still in its TLS handshake was outside both.
 *
 * At the cap, a new connection takes the place of the one idle longest (connected, with no request in
 * progress: a client between requests, or one that never sent any); only when every connection has a
 * request in progress (a held watch, a stream) is the new one refused. So a client that hoards idle
 * connections up to the cap cannot keep everyone else out, and a held watch is never cut for a newcomer.
 */
export class OpenConnections {
  /** Each open connection and how many of its requests are in progress. */
  readonly #requests = new Map<Socket, number>();
  /** Connections with no request in progress, longest idle first. */
  readonly #idle = new Set<Socket>();
  readonly #max: number;
  readonly #onRefused: () => void;

  /**
   * The listeners every connection and every request gets: one function each for the whole server, which
   * finds its socket through `this`, rather than a closure (and a once() wrapper) per connection and per
   * request: a held watch keeps both for as long as it is held, thousands at once.
   */
  readonly #socketClosed: (this: Socket) => void;
  readonly #answerClosed: (this: ServerResponse) => void;

  constructor(options: { readonly max?: number | undefined; readonly onRefused: () => void }) {
    this.#max = options.max ?? Infinity;
    this.#onRefused = options.onRefused;
    const connections = this;
    this.#socketClosed = function (this: Socket) {
      connections.#forget(this);
    };
    // Each comes once ('close'), so on() is enough, without once()'s wrapper.
    this.#answerClosed = function (this: ServerResponse) {
      connections.#requestEnded(rawSocket(this.req.socket));
    };
  }

  /** Connections open now. */
  get size(): number {
    return this.#requests.size;
  }

  /** A connection has just arrived (the server's 'connection' event): counted, or refused at the cap. */
  readonly accept = (socket: Socket): void => {
    if (this.#requests.size >= this.#max) {
      const longestIdle = this.#idle.values().next();
      if (longestIdle.done) {
        this.#onRefused();
        socket.destroy();
        return;
      }
      this.#forget(longestIdle.value);
      longestIdle.value.destroy();
    }
    this.#requests.set(socket, 0);
    this.#idle.add(socket);
    socket.on('close', this.#socketClosed);
  };

  /** A request has arrived (the server's 'request' event): its connection is busy until its answer ends. */
  readonly requestStarted = (req: IncomingMessage, res: ServerResponse): void => {
    const socket = rawSocket(req.socket);
    const busy = this.#requests.get(socket);
    if (busy === undefined) return;
    this.#requests.set(socket, busy + 1);
    this.#idle.delete(socket);
    res.on('close', this.#answerClosed);
  };

  /** Closes every connection still open, in a TLS handshake or not (the server is stopping and cannot wait). */
  destroyAll(): void {
    for (const socket of this.#requests.keys()) socket.destroy();
  }

  /** A request on `socket` ended (its answer was written, or it was cut off). */
  #requestEnded(socket: Socket): void {
    const left = this.#requests.get(socket);
    if (left === undefined) return;
    this.#requests.set(socket, left - 1);
    // Re-inserted, so the set stays in the order connections became idle.
    if (left === 1) this.#idle.add(socket);
  }

  #forget(socket: Socket): void {
    this.#requests.delete(socket);
    this.#idle.delete(socket);
  }
}

/**
 * The TCP socket under a request's socket: the same one for plain HTTP; for HTTPS, the one the TLS socket
 * wraps (node:tls keeps it as `_parent`, which it has done since TLS sockets wrap others).
 */
function rawSocket(socket: Socket): Socket {
  return (socket as Socket & { _parent?: Socket | null })._parent ?? socket;
}
