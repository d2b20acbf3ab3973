import { createServer, type Server, type Socket, connect } from 'node:net';
import type { AddressInfo } from 'node:net';

/** Which way bytes travel through the proxy: `up` from client to server, `down` from server to client. */
export type LinkDirection = 'up' | 'down';

/** One direction of one proxied connection: chunks wait here while that way is held or slowed. */
interface Lane {
  readonly from: Socket;
  readonly to: Socket;
  readonly direction: LinkDirection;
  readonly queue: { chunk: Buffer; dueAt: number }[];
  /** A delivery is waiting on a timer or on `to` draining. */
  busy: boolean;
  /** `from` has ended: `to` is ended once the queue is delivered. */
  ended: boolean;
}

/**
 * A real TCP proxy in front of one or more servers whose link can be broken the ways networks break:
 * cut both ways (connections reset, new ones refused), held one way (bytes wait, as TCP retransmits them
 * through a one-way partition, and arrive when it heals), slowed (each chunk delayed), or made to lose the
 * server's bytes (the chunk dropped and its connection reset: an answer the server wrote that never
 * arrives). Given several servers' ports, each new connection goes to the next in turn, as a balancer
 * without affinity does.
 */
export class FaultProxy {
  readonly #server: Server;
  readonly #targets: readonly number[];
  readonly #lanes = new Set<Lane>();
  readonly #sockets = new Set<Socket>();
  #cut = false;
  readonly #held = new Set<LinkDirection>();
  #delayMs = 0;
  #dropping = 0;
  /** Connections accepted since start (refused ones while cut are not counted). */
  accepted = 0;
  /** Server chunks lost on purpose since start. */
  dropped = 0;

  private constructor(server: Server, targets: readonly number[]) {
    this.#server = server;
    this.#targets = targets;
  }

  /** Listens on a free loopback port in front of `targetPort` (or of several, in turn). */
  static async start(targetPort: number | readonly number[]): Promise<FaultProxy> {
    let proxy!: FaultProxy;
    const server = createServer((client) => proxy.#accept(client));
    proxy = new FaultProxy(server, typeof targetPort === 'number' ? [targetPort] : targetPort);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Bytes read from one side and not yet given to the other (held or slowed). */
  get queuedBytes(): number {
    let bytes = 0;
    for (const lane of this.#lanes) for (const { chunk } of lane.queue) bytes += chunk.length;
    return bytes;
  }

  /** Resets every connection and refuses new ones until `restore()`. */
  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) reset(socket);
  }

  /** Bytes going `direction` wait (connections stay open) until `restore()`, then arrive in order. */
  hold(direction: LinkDirection): void {
    this.#held.add(direction);
  }

  /** Every chunk, both ways, arrives `delayMs` later than it would, until `restore()`. */
  slow(delayMs: number): void {
    this.#delayMs = delayMs;
  }

  /** The next `count` chunks any server sends are lost, each taking its connection down with it (a reset). */
  dropReplies(count: number): void {
    this.#dropping = count;
  }

  /** Heals every fault: accepts again, delivers what was held, no delay, drops nothing more. */
  restore(): void {
    this.#cut = false;
    this.#held.clear();
    this.#delayMs = 0;
    this.#dropping = 0;
    for (const lane of this.#lanes) this.#pump(lane);
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #accept(client: Socket): void {
    if (this.#cut) {
      reset(client);
      return;
    }
    this.accepted++;
    const upstream = connect(this.#targets[this.accepted % this.#targets.length]!, '127.0.0.1');
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('error', () => {});
    }
    const lanes: Lane[] = [
      { from: client, to: upstream, direction: 'up', queue: [], busy: false, ended: false },
      { from: upstream, to: client, direction: 'down', queue: [], busy: false, ended: false },
    ];
    for (const lane of lanes) {
      this.#lanes.add(lane);
      lane.from.on('data', (chunk: Buffer) => this.#receive(lane, chunk));
      // A side that ends sends its end after the bytes queued before it, so a held or slowed answer
      // followed by the server closing still arrives whole. A side that breaks (a reset) breaks the other.
      lane.from.on('end', () => {
        lane.ended = true;
        this.#pump(lane);
      });
      lane.from.on('close', (hadError) => {
        if (hadError || !lane.ended) {
          lane.queue.length = 0;
          lane.to.destroy();
        }
        if (client.destroyed && upstream.destroyed) {
          for (const each of lanes) this.#lanes.delete(each);
          this.#sockets.delete(client);
          this.#sockets.delete(upstream);
        }
      });
    }
  }

  #receive(lane: Lane, chunk: Buffer): void {
    if (lane.direction === 'down' && this.#dropping > 0) {
      this.#dropping--;
      this.dropped++;
      reset(lane.to);
      lane.from.destroy();
      return;
    }
    lane.queue.push({ chunk, dueAt: performance.now() + this.#delayMs });
    this.#pump(lane);
  }

  /** Delivers what the lane holds, in order, as far as the faults in force allow. */
  #pump(lane: Lane): void {
    while (!lane.busy && !this.#held.has(lane.direction) && !lane.to.destroyed) {
      const head = lane.queue[0];
      if (head === undefined) {
        if (lane.ended) lane.to.end();
        return;
      }
      const waitMs = head.dueAt - performance.now();
      if (waitMs > 0) {
        lane.busy = true;
        setTimeout(() => {
          lane.busy = false;
          this.#pump(lane);
        }, waitMs).unref();
        return;
      }
      lane.queue.shift();
      if (!lane.to.write(head.chunk)) {
        lane.busy = true;
        lane.from.pause();
        lane.to.once('drain', () => {
          lane.busy = false;
          lane.from.resume();
          this.#pump(lane);
        });
      }
    }
  }
}

/**
 * Closes `socket` with a reset (RST), as a broken link shows itself. A socket that has already sent its
 * end is only destroyed: resetting one leaves its handle open (seen on Node 24), which keeps a process alive.
 */
function reset(socket: Socket): void {
  if (socket.writableEnded || socket.destroyed) socket.destroy();
  else socket.resetAndDestroy();
}
