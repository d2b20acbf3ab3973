import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the fake server saw. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
}

/**
 * A hostile or foreign HTTP server for the client's tests: it answers whatever `handler` says (redirects,
 * huge or endless bodies, escape sequences, 401s, no taskctl-version header) and records every request.
 */
export class FakeServer {
  readonly seen: SeenRequest[] = [];

  private constructor(readonly server: Server) {}

  static async start(handler: (req: IncomingMessage, res: ServerResponse, server: FakeServer) => void): Promise<FakeServer> {
    let fake!: FakeServer;
    const server = createServer((req, res) => {
      fake.seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
      // Drain any body so the client is never stuck writing it.
      req.resume();
      handler(req, res, fake);
    });
    fake = new FakeServer(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** The header a real taskctl server sends, so a fake one can pass as taskctl. */
export const TASKCTL_HEADERS = { 'taskctl-version': '0.0.0-fake', 'content-type': 'application/json' } as const;

/** Writes `chunk` over and over until the client goes away. */
export function streamForever(res: ServerResponse, chunk: string): void {
  const buffer = Buffer.from(chunk.repeat(Math.max(1, Math.floor(65_536 / chunk.length))));
  const pump = () => {
    while (!res.destroyed && res.write(buffer));
    if (!res.destroyed) res.once('drain', pump);
  };
  res.once('close', () => res.off('drain', pump));
  pump();
}
