// The one way taskctl sends HTTP requests of its own: node-fetch over keep-alive agents, TLS trusting the
// system's roots (plus a private CA when given), redirects never followed, answers read no further than a
// cap. The client (cancel, watch, report, events) and the server's webhook deliveries both go through it.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import * as tls from 'node:tls';
import fetch, { type RequestInit } from 'node-fetch';
import { printable } from '../core/printable.ts';

/** What an https:// connection trusts and presents besides the system's roots. */
export interface TlsMaterial {
  /** PEM certificates of CAs to trust besides the system's roots (a private CA). */
  readonly ca?: string | Buffer | undefined;
  /** This side's certificate and key, PEM, for servers that require client certificates (mutual TLS). */
  readonly cert?: string | Buffer | undefined;
  readonly key?: string | Buffer | undefined;
}

/**
 * The agent for requests to `url`'s server: https when the URL is, with the trust of `tlsMaterial`. With
 * keep-alive, connections are reused across requests; `maxSockets` bounds the connections open at once.
 */
export function agentFor(url: string, options: { keepAlive: boolean; maxSockets?: number; maxFreeSockets?: number }, tlsMaterial: TlsMaterial = {}): HttpAgent {
  return url.startsWith('https:') ? new HttpsAgent({ ...options, ...tlsOptions(tlsMaterial) }) : new HttpAgent(options);
}

/**
 * node-fetch with the options every request of ours takes: `agent`, no redirect followed (the token, or a
 * webhook's signed body, goes to the configured URL and nowhere else), no compression asked for.
 */
export function send(
  url: string,
  init: Omit<RequestInit, 'signal' | 'redirect' | 'compress'> & { agent: HttpAgent; signal?: AbortSignal | undefined },
): ReturnType<typeof fetch> {
  const { signal, ...rest } = init;
  return fetch(url, { ...rest, redirect: 'manual', compress: false, ...(signal ? { signal: signal as RequestInit['signal'] } : {}) });
}

/** Reads `body` to its end or to `maxBytes`, whichever comes first, and drops the rest with the connection. */
export async function drainCapped(body: AsyncIterable<Uint8Array> | null, maxBytes: number): Promise<void> {
  if (body === null) return;
  let read = 0;
  // Leaving the loop early destroys the stream, and with it the connection: the rest is never read.
  for await (const chunk of body) {
    read += chunk.length;
    if (read > maxBytes) return;
  }
}

/** Drops an answer's body unread (and its connection with it): nothing in it is worth reading. */
export function discard(res: { body: unknown }): void {
  (res.body as { destroy?: () => void } | null)?.destroy?.();
}

/**
 * The trust an https:// connection extends: the system's roots, plus `ca` when given, in one secure context
 * made once per agent, so that a connection (a report's, say) does not parse hundreds of roots again.
 */
function tlsOptions(material: TlsMaterial): HttpsAgentOptions {
  const secureContext = tls.createSecureContext({
    // Node's `ca` replaces its roots rather than adding to them, so the roots go in beside the private CA.
    ca: material.ca === undefined ? [...defaultRoots()] : [...defaultRoots(), material.ca.toString()],
    ...(material.cert !== undefined ? { cert: material.cert } : {}),
    ...(material.key !== undefined ? { key: material.key } : {}),
  });
  return {
    secureContext,
    // Node's own message names the certificate's names only for a host name, never for an address.
    checkServerIdentity: (host, cert) => {
      const error = tls.checkServerIdentity(host, cert);
      if (error)
        error.message = `its certificate is for ${printable((cert.subjectaltname ?? `CN=${cert.subject?.CN ?? '?'}`).slice(0, 200))}, not ${printable(host)}`;
      return error;
    },
  };
}

let roots: readonly string[] | undefined;
/** The CAs trusted without being told: Node's bundled roots (with NODE_EXTRA_CA_CERTS) and the operating system's store. */
function defaultRoots(): readonly string[] {
  if (roots) return roots;
  // Node before 22.15 has no getCACertificates (a namespace import, so that such a Node still loads this
  // module); its bundled roots are what it trusts by default.
  const get = (tls as { getCACertificates?: (type: 'default' | 'system') => string[] }).getCACertificates;
  try {
    roots = get ? [...new Set([...get('default'), ...get('system')])] : tls.rootCertificates;
  } catch {
    roots = tls.rootCertificates;
  }
  return roots;
}
