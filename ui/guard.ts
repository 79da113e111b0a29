// Who may use the console, checked before any route runs, for every page, API, event stream and
// asset alike (so a route cannot forget it):
//
// 1. The token printed at start: `?token=` on a GET (then kept in an HttpOnly, SameSite=Strict
//    cookie and the URL is cleaned by a redirect), the cookie, or `Authorization: Bearer`.
//    Without it: 401.
// 2. The Host header must name this console's own address, so a page on another name that
//    resolves to loopback (DNS rebinding) is refused even if a browser sent the cookie: 403.
// 3. Anything but GET/HEAD must carry the CSRF token (derived from the token, written into each
//    page) in `X-CSRF-Token`, and must not come from another origin (Origin, Sec-Fetch-Site): 403.
//    A cross-site form post fails all three of 1 (the cookie is SameSite=Strict), 3's header and
//    3's origin check, each on its own.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { UiForbiddenError, UiUnauthorizedError } from './errors.ts';

export interface GuardOptions {
  readonly token: string;
  /** Cookie names are not scoped by port: two consoles on one host keep one cookie each. */
  readonly cookieName: string;
  /** `host:port` values this console answers to (the Host header must be one of them). */
  readonly hosts: ReadonlySet<string>;
}

/** The CSRF token pages carry: an HMAC of the session token, so the page never holds the token. */
export function csrfToken(token: string): string {
  return createHmac('sha256', token).update('nitro-sandbox ui csrf').digest('base64url');
}

/** Constant-time equality of two strings of any lengths (compared as SHA-256 digests). */
function same(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

function bearer(c: Context): string | undefined {
  const h = c.req.header('authorization');
  return h?.startsWith('Bearer ') ? h.slice(7) : undefined;
}

export function guard(options: GuardOptions): MiddlewareHandler {
  const csrf = csrfToken(options.token);
  return async (c, next) => {
    const method = c.req.method;
    const safe = method === 'GET' || method === 'HEAD';
    const url = new URL(c.req.url);
    const fromQuery = safe ? url.searchParams.get('token') ?? undefined : undefined;
    const cookie = getCookie(c, options.cookieName);
    const given = [fromQuery, cookie, bearer(c)].filter((t): t is string => t !== undefined);
    if (!given.some((t) => same(t, options.token))) throw new UiUnauthorizedError('this console needs the token printed by nitro-sandbox ui: open the URL it printed');

    const host = c.req.header('host') ?? url.host;
    if (!options.hosts.has(host.toLowerCase())) throw new UiForbiddenError(`the Host header '${host}' is not this console's address`);

    if (!safe) {
      const header = c.req.header('x-csrf-token');
      if (header === undefined || !same(header, csrf)) throw new UiForbiddenError('a state-changing request needs the page’s CSRF token');
      const origin = c.req.header('origin');
      if (origin !== undefined && origin !== `${url.protocol}//${host}`) throw new UiForbiddenError(`requests from ${origin} are refused`);
      const site = c.req.header('sec-fetch-site');
      if (site !== undefined && site !== 'same-origin') throw new UiForbiddenError(`a ${site} request is refused`);
    }

    if (fromQuery !== undefined) {
      // First visit with the printed URL: keep the token in a cookie and drop it from the address
      // bar (and from history), so it is not copied along with a link to a page.
      setCookie(c, options.cookieName, options.token, { httpOnly: true, sameSite: 'Strict', path: '/' });
      url.searchParams.delete('token');
      const path = url.pathname === '/' ? '/enclaves' : url.pathname;
      return c.redirect(`${path}${url.search}`, 303);
    }
    await next();
  };
}
