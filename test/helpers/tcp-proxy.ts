import { createServer, type Server, type Socket, connect } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A real TCP proxy in front of a server, for cutting a worker off: cut() resets every connection and
 * refuses new ones until restore(); dropNextReply() loses the server's next bytes on the way. Given several
 * servers' ports, it sends each new connection to the next in turn, as a balancer without affinity does.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #clients = new Set<Socket>();
  #cut = false;
  #dropNext: (() => void) | undefined;
  /** Connections accepted since start (refused ones while cut are not counted). */
  accepted = 0;
  /** Connections refused while cut. */
  refused = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(targetPort: number | readonly number[]): Promise<TcpProxy> {
    const targets = typeof targetPort === 'number' ? [targetPort] : targetPort;
    let proxy!: TcpProxy;
    const server = createServer((client) => {
      if (proxy.#cut) {
        proxy.refused++;
        client.destroy();
        return;
      }
      proxy.accepted++;
      proxy.#clients.add(client);
      client.once('close', () => proxy.#clients.delete(client));
      const upstream = connect(targets[proxy.accepted % targets.length]!, '127.0.0.1');
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        proxy.#sockets.add(a);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          proxy.#sockets.delete(a);
          b.destroy();
        });
        if (a === client) a.pipe(b);
      }
      // Server to client by hand, so that a reply can be lost: dropped, and its connection reset.
      upstream.on('data', (chunk: Buffer) => {
        const dropped = proxy.#dropNext;
        if (dropped) {
          proxy.#dropNext = undefined;
          client.resetAndDestroy();
          upstream.destroy();
          dropped();
          return;
        }
        if (!client.write(chunk)) {
          upstream.pause();
          client.once('drain', () => upstream.resume());
        }
      });
      upstream.on('end', () => client.end());
    });
    proxy = new TcpProxy(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Client connections open now. */
  get openConnections(): number {
    return this.#clients.size;
  }

  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.destroy();
  }

  /**
   * The next bytes any server sends (a reply already written, as far as the server can tell) never reach
   * the client: its connection is reset instead. Resolves when that happened.
   */
  dropNextReply(): Promise<void> {
    return new Promise((resolve) => (this.#dropNext = resolve));
  }

  restore(): void {
    this.#cut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** A loopback port that was free a moment ago, for a server that must come back on the same port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
