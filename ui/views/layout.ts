// The page frame every view shares: navigation, the CSRF token for the client code, the assets.
// Templates are hono's `html` tagged literals: every interpolated value is escaped unless it is
// itself a template, so data from documents, enclaves and key policies cannot become markup.
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export const VIEWS = [
  { path: '/enclaves', title: 'Enclaves' },
  { path: '/inspector', title: 'Document inspector' },
  { path: '/kms', title: 'KMS' },
  { path: '/demo', title: 'Demo story' },
] as const;

export function page(options: { path: string; title: string; csrf: string; body: Html }): Html {
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="csrf-token" content="${options.csrf}" />
    <title>${options.title} · nitro-sandbox</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="/static/style.css" />
    <script type="module" src="/static/app.js"></script>
  </head>
  <body>
    <a class="skip-link" href="#main">Skip to content</a>
    <header class="top">
      <span class="brand">nitro-sandbox <span class="sub">attestation console</span></span>
      <nav aria-label="Views">
        <ul>
          ${VIEWS.map((v) => html`<li><a href="${v.path}" ${v.path === options.path ? html`aria-current="page"` : ''}>${v.title}</a></li>`)}
        </ul>
      </nav>
    </header>
    <main id="main" tabindex="-1">${options.body}</main>
  </body>
</html>`;
}

/** A short page for errors before or outside a view (401, 404); unstyled, as the stylesheet needs the token too. */
export function errorPage(status: number, code: string, message: string): Html {
  return html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${status} · nitro-sandbox</title>
    <link rel="icon" href="data:," />
  </head>
  <body>
    <main id="main">
      <h1>${status === 401 ? 'Token required' : `Error ${status}`}</h1>
      <p class="error" role="alert" data-code="${code}"><strong>${code}</strong>: ${message}</p>
    </main>
  </body>
</html>`;
}

/** An error where a fragment was expected (the client puts it where the result would go). */
export function errorFragment(code: string, message: string): Html {
  return html`<div class="error" role="alert" data-code="${code}"><strong>${code}</strong>: ${message}</div>`;
}
