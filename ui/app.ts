// The console's hono app: security headers and the guard (token, Host, CSRF) before every route,
// the four views' routes, the assets, and the one place where errors become responses.
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { UiContext } from './context.ts';
import { httpError, UiNotFoundError, UiTooLargeError, UiUnauthorizedError } from './errors.ts';
import { MAX_FORM_BYTES } from './form.ts';
import { csrfToken, guard, type GuardOptions } from './guard.ts';
import { demoRoutes } from './routes/demo.ts';
import { enclaveRoutes } from './routes/enclaves.ts';
import { inspectorRoutes } from './routes/inspector.ts';
import { kmsRoutes } from './routes/kms.ts';
import { StreamRegistry } from './sse.ts';
import { errorFragment, errorPage, page, type Html } from './views/layout.ts';

export interface UiAssets {
  /** The client bundle (ui/client, bundled by esbuild). */
  readonly js: string;
  readonly css: string;
}

export interface UiAppOptions extends Omit<UiContext, 'streams' | 'formLimit' | 'page' | 'pollMs' | 'clock'> {
  readonly assets: UiAssets;
  readonly guard: GuardOptions;
  readonly pollMs?: number;
  readonly clock?: () => number;
  /** Told about errors that are bugs (answered 500); default: a stack trace on stderr. */
  readonly onInternalError?: (error: unknown) => void;
}

export interface UiApp {
  readonly app: Hono;
  readonly streams: StreamRegistry;
}

/** No inline script or style, nothing from elsewhere, never framed: the page is this server's alone. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // The first URL carries the token: never send it on as a referrer.
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Fragments (API answers, event streams) get a fragment, pages a page. */
function wantsFragment(c: Context): boolean {
  const p = new URL(c.req.url).pathname;
  return p.startsWith('/api/') || p.startsWith('/events/') || p.startsWith('/static/');
}

export function createUiApp(options: UiAppOptions): UiApp {
  const streams = new StreamRegistry();
  const csrf = csrfToken(options.guard.token);
  const report = options.onInternalError ?? ((e: unknown) => process.stderr.write(`nitro-sandbox ui: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`));
  const ctx: UiContext = {
    enclaves: options.enclaves,
    kms: options.kms,
    kmsEndpoint: options.kmsEndpoint,
    demo: options.demo,
    anchors: options.anchors,
    streams,
    pollMs: options.pollMs ?? 500,
    clock: options.clock ?? Date.now,
    formLimit: bodyLimit({
      maxSize: MAX_FORM_BYTES,
      onError: () => {
        throw new UiTooLargeError(`a form body is at most ${MAX_FORM_BYTES} bytes`);
      },
    }),
    page: (path, title, body: Html) => page({ path, title, csrf, body }),
  };

  const app = new Hono();
  app.use('*', async (c, next) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
    await next();
  });
  app.use('*', guard(options.guard));

  app.get('/', (c) => c.redirect('/enclaves', 303));
  app.get('/static/app.js', (c) => c.body(options.assets.js, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/static/style.css', (c) => c.body(options.assets.css, 200, { 'content-type': 'text/css; charset=utf-8' }));
  enclaveRoutes(app, ctx);
  inspectorRoutes(app, ctx);
  kmsRoutes(app, ctx);
  demoRoutes(app, ctx);

  const respond = (e: unknown, c: Context): Response | Promise<Response> => {
    let h = httpError(e);
    if (!h) {
      report(e);
      h = { status: 500, code: 'ERR_UI_INTERNAL', message: 'an internal error occurred (reported on the console’s standard error)' };
    }
    const status = h.status as 400;
    if (e instanceof UiUnauthorizedError || !wantsFragment(c)) return c.html(errorPage(h.status, h.code, h.message), status);
    return c.html(errorFragment(h.code, h.message), status);
  };
  app.notFound((c) => respond(new UiNotFoundError('no such page'), c));
  app.onError(respond);
  return { app, streams };
}
