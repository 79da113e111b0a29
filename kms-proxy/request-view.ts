// What the server reads of a request: method, path, query, headers, peer address. They are read
// straight from Node's IncomingMessage (the KMS's own HTTP server, and hono under
// @hono/node-server): hono's `c.req.header()` and `c.req.url` materialize a WHATWG Request and its
// Headers (an undici object built from every raw header), which cost more than the SigV4 check
// that needs them. Elsewhere (`app.request()` in tests) hono's request is used as it is.
//
// Header semantics are the WHATWG ones either way: names are case-insensitive and a header sent
// several times reads as its values joined with ", " (Node's `headers` object would instead keep
// only the first `authorization`, `host` or `content-type`, so a request could be verified against
// one value and read with another).
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

export interface RequestView {
  readonly method: string;
  /** The raw path, still percent-encoded. */
  readonly path: string;
  /** The raw query string without `?`. */
  readonly query: string;
  header(name: string): string | undefined;
  /** Lower-case names of every header present. */
  headerNames(): Iterable<string>;
  readonly sourceIp: string | undefined;
  readonly incoming: IncomingMessage | undefined;
  /** When the server had read the request (performance.now()); absent: when it is answered. */
  readonly receivedAt?: number;
}

/** Headers of a raw [name, value, name, value, …] list, duplicates joined as WHATWG Headers join them. */
function headerMap(raw: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = (raw[i + 1] as string).trim();
    const prior = m.get(name);
    m.set(name, prior === undefined ? value : `${prior}, ${value}`);
  }
  return m;
}

/** The view of a request Node's HTTP server received (the KMS server's own path, server.ts). */
export function incomingView(incoming: IncomingMessage & { url: string; method: string }, receivedAt?: number): RequestView {
  const headers = headerMap(incoming.rawHeaders);
  const target = incoming.url;
  // The one path the API has, as clients send it, is taken as it is; any other target is
  // normalized as WHATWG URL parsing does (dot segments; an absolute-form target, RFC 9112
  // §3.2.2), as hono's `c.req.url` would have it.
  const url = target === '/' ? undefined : safeUrl(target.startsWith('/') ? `http://h${target}` : target);
  return {
    method: incoming.method,
    path: url ? url.pathname : '/',
    query: url ? url.search.slice(1) : '',
    header: (n) => headers.get(n),
    headerNames: () => headers.keys(),
    sourceIp: incoming.socket?.remoteAddress,
    incoming,
    ...(receivedAt === undefined ? {} : { receivedAt }),
  };
}

function isReceived(m: IncomingMessage | undefined): m is IncomingMessage & { url: string; method: string } {
  return m?.url !== undefined && m.method !== undefined;
}

/** The view of a request hono hands the app: the IncomingMessage under @hono/node-server, else hono's own request. */
export function requestView(c: Context): RequestView {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (isReceived(incoming)) return incomingView(incoming);
  const url = new URL(c.req.url);
  return {
    method: c.req.method,
    path: url.pathname,
    query: url.search.slice(1),
    header: (n) => c.req.header(n) ?? (n === 'host' ? url.host : undefined),
    headerNames: () => c.req.raw.headers.keys(),
    sourceIp: incoming?.socket?.remoteAddress,
    incoming,
  };
}

function safeUrl(target: string): URL {
  try {
    return new URL(target);
  } catch {
    // Unparseable: not the API's path (UnknownOperationException after authentication).
    return new URL('http://h/invalid-request-target');
  }
}
