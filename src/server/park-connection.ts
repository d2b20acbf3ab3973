import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Parking: a held watch gives back its connection's HTTP parser.
 *
 * node:http keeps a parser on every connection for the next request on it: about 6 KB of native memory,
 * over a third of what a held watch costs in all. A held watch's client sends nothing more until it is
 * answered, so the parser only waits. Parking hands it back the way node:http itself does for a
 * connection that upgrades (a WebSocket): its listeners come off the socket and the parser goes back to
 * node's pool, or is freed. The parked socket is then read by a listener of ours that only notices the
 * client leaving: a byte sent (nothing may come while the request is unanswered: we take it for a client we
 * cannot serve) or the end of its stream closes the socket, which ends the watch like any departure.
 * With no parser for a next request, the answer closes the connection (Connection: close), and the worker
 * opens a new one to ask again: a TCP handshake per answered watch, which is why only plain connections
 * park (a TLS handshake costs far more than the memory) and only once many watches are held.
 *
 * It reaches into node:http's workings (the parser on the socket, the names of its listeners), which no
 * public API offers; where any of them is not as expected (another Node version), the watch is simply held
 * as before, unparked.
 */

interface Parser {
  incoming: IncomingMessage | null;
}

type ParkableSocket = Socket & { parser?: Parser | null; encrypted?: boolean };

type FreeParser = (parser: Parser, req: IncomingMessage, socket: Socket) => void;

// node:http's own helper for giving a parser back (what its upgrade path calls); undefined where it is gone.
const freeParser = (() => {
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
 * Parks the connection of `res`, held and not yet answered, as soon as node:http is done parsing its
 * request (after the current turn: the parser may still be running below this call). Returns at once;
 * does nothing where parking is not possible.
 */
export function parkWhenParsed(res: ServerResponse): void {
  if (freeParser === undefined) return;
  setImmediate(park, res);
}

function park(res: ServerResponse): void {
  const req = res.req;
  const socket = req.socket as ParkableSocket;
  const parser = socket.parser;
  // Answered or left meanwhile; TLS; a request still arriving; or a next request already parsed behind it.
  if (res.headersSent || res.writableEnded || socket.destroyed || socket.encrypted || !req.complete || !parser || parser.incoming !== req) return;
  const parsing = listenerNamed(socket, 'data', 'bound socketOnData');
  const ending = listenerNamed(socket, 'end', 'bound socketOnEnd');
  if (parsing === undefined || ending === undefined) return;
  socket.off('data', parsing);
  socket.off('end', ending);
  // These restart the parser's reading whenever the socket is paused or resumed; ours reads now.
  const resuming = listenerNamed(socket, 'resume', 'onSocketResume');
  const pausing = listenerNamed(socket, 'pause', 'onSocketPause');
  if (resuming) socket.off('resume', resuming);
  if (pausing) socket.off('pause', pausing);
  freeParser!(parser, req, socket);
  // No parser is left to read a next request: the answer says so, and node closes the connection after it.
  res.shouldKeepAlive = false;
  socket.on('data', leave);
  socket.on('end', leave);
}

function leave(this: Socket): void {
  this.destroy();
}

/** The one listener for `event` named `name`; undefined when there is none, or more than one. */
function listenerNamed(socket: Socket, event: string, name: string): ((...args: unknown[]) => void) | undefined {
  const found = socket.listeners(event).filter((listener) => listener.name === name);
  return found.length === 1 ? (found[0] as (...args: unknown[]) => void) : undefined;
}
