// The console's HTTP surface over a real socket: the token on every page, API, stream and asset;
// the Host check; CSRF (each layer refusing on its own); typed errors for bad input; and no key
// material, grant token or credential in anything it serves.
import { CreateGrantCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../attestation/index.ts';
import { buildImage } from '../../enclave/index.ts';
import { csrfToken, startUi, type UiServer } from '../../ui/index.ts';
import { vector } from '../attestation/fixtures.ts';

let ui: UiServer;
let dir: string;
let cookie: string;
let csrf: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ns-ui-'));
  ui = await startUi({ port: 0, dataDir: dir, defaultPkiRoot: null });
  const first = await fetch(ui.url, { redirect: 'manual' });
  cookie = (first.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  csrf = csrfToken(ui.token);
});

afterAll(async () => {
  await ui?.close();
  rmSync(dir, { recursive: true, force: true });
});

function post(path: string, body: Record<string, string> | string | Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${ui.origin}${path}`, {
    method: 'POST',
    body: typeof body === 'string' || body instanceof Uint8Array ? body : new URLSearchParams(body),
    headers: { cookie, 'x-csrf-token': csrf, origin: ui.origin, 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
}

describe('ui: the token', () => {
  it('the printed URL sets an HttpOnly SameSite=Strict cookie and redirects to a URL without the token', async () => {
    const r = await fetch(ui.url, { redirect: 'manual' });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/enclaves');
    expect(r.headers.get('set-cookie')).toMatch(/^nitro_sandbox_ui_\d+=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
    expect((await fetch(`${ui.origin}/enclaves`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${ui.origin}/enclaves`, { headers: { authorization: `Bearer ${ui.token}` } })).status).toBe(200);
  });

  it('every route answers 401 without the token, with a wrong one, and with the token in a POST query', async () => {
    const routes = ui.app.routes.filter((r) => r.method !== 'ALL').map((r) => ({ method: r.method, path: r.path }));
    expect(routes.length).toBeGreaterThanOrEqual(16);
    for (const { method, path } of [...routes, { method: 'GET', path: '/no-such-page' }]) {
      for (const headers of [{}, { cookie: `${cookie.split('=')[0]}=wrong` }, { authorization: 'Bearer x' }]) {
        const r = await fetch(`${ui.origin}${path}`, { method, headers: { ...headers, 'x-csrf-token': csrf, origin: ui.origin } });
        expect(r.status, `${method} ${path}`).toBe(401);
        expect(await r.text()).toMatch(/ERR_UI_UNAUTHORIZED/);
      }
    }
    // A token in the query counts only for a GET (a POST would put it in logs and form targets).
    const r = await fetch(`${ui.origin}/api/demo/play?token=${ui.token}`, { method: 'POST', headers: { 'x-csrf-token': csrf, origin: ui.origin, 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.status).toBe(401);
  });

  it('a Host header that is not the console’s own address is refused (DNS rebinding), even with the token', async () => {
    const r = await ui.app.request('/enclaves', { headers: { host: `attacker.example:${new URL(ui.origin).port}`, cookie } });
    expect(r.status).toBe(403);
    expect(await r.text()).toMatch(/ERR_UI_FORBIDDEN/);
    const ok = await ui.app.request('/enclaves', { headers: { host: `localhost:${new URL(ui.origin).port}`, cookie } });
    expect(ok.status).toBe(200);
  });
});

describe('ui: state-changing requests (CSRF)', () => {
  const body = { source: 'example:attestation-responder' };
  it('are accepted with the cookie, the CSRF token and the same origin', async () => {
    const r = await post('/api/measurements', body);
    expect(r.status).toBe(200);
    expect(Object.keys((await r.json()) as object)).toEqual(['PCR0', 'PCR1', 'PCR2']);
  });

  it('each check refuses alone: no CSRF token, a wrong one, another Origin, a cross-site fetch', async () => {
    const cases: Record<string, string>[] = [{ 'x-csrf-token': '' }, { 'x-csrf-token': csrfToken('another token') }, { origin: 'http://evil.example' }, { origin: `http://localhost:1` }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }];
    for (const headers of cases) {
      const r = await post('/api/measurements', body, headers);
      expect(r.status, JSON.stringify(headers)).toBe(403);
      expect(await r.text()).toMatch(/ERR_UI_FORBIDDEN/);
    }
  });

  it('a cross-site form post (no cookie: SameSite=Strict) is 401, and nothing happens', async () => {
    const r = await fetch(`${ui.origin}/api/demo/play`, { method: 'POST', body: '', headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' } });
    expect(r.status).toBe(401);
    const page = await (await fetch(`${ui.origin}/demo`, { headers: { cookie } })).text();
    expect(page).toMatch(/data-demo-state="idle"/);
  });
});

describe('ui: bad input gets a typed error, never a 500', () => {
  it('unknown fields, bad values, oversized bodies, wrong content types and unknown pages', async () => {
    const doc = Buffer.from(vector('signed-eif-2025-04-01.b64')).toString('base64');
    const cases: [string, Record<string, string> | string, number, RegExp, Record<string, string>?][] = [
      ['/api/inspect', { document: doc, anchor: 'aws', extra: '1' }, 400, /unknown field 'extra'/],
      ['/api/inspect', { document: doc }, 400, /at least one trust anchor/],
      ['/api/inspect', { document: doc, anchor: 'mars' }, 400, /unknown trust anchor/],
      ['/api/inspect', { document: doc, anchor: 'aws', at: 'yesterday' }, 400, /ISO 8601/],
      ['/api/inspect', { document: doc, anchor: 'aws', pcr0: 'abcd' }, 400, /pcr0 must be 32 or 48 or 64 bytes/],
      ['/api/inspect', { document: doc, anchor: 'aws', pcr0: 'xyz' }, 400, /pcr0 must be hex/],
      ['/api/inspect', { document: '!!', anchor: 'aws' }, 400, /base64, base64url or hex/],
      ['/api/inspect', { document: doc, anchor: 'aws', allowDebug: 'yes' }, 400, /allowDebug must be 'on'/],
      ['/api/inspect', JSON.stringify({ document: doc }), 400, /x-www-form-urlencoded/, { 'content-type': 'application/json' }],
      ['/api/enclaves/start', { example: 'rm -rf' }, 400, /example must be one of/],
      ['/api/enclaves/start', { example: 'echo-server', memory: '12' }, 400, /ERR_INVALID_ARGUMENT/],
      ['/api/enclaves/terminate', { id: 'i-0123456789abcdef-enc0123456789abcdef' }, 404, /ERR_ENCLAVE_NOT_FOUND/],
      ['/api/documents/fetch', { enclave: 'nope', port: '5006' }, 404, /ERR_UI_NOT_FOUND/],
      ['/api/documents/fetch', { enclave: 'nope', port: '0' }, 400, /port must be a whole number/],
      ['/api/measurements', { source: 'disk:/etc/passwd' }, 400, /source must be/],
      ['/api/measurements/image', 'not an image', 400, /ERR_IMAGE_/, { 'content-type': 'application/octet-stream' }],
      ['/api/kms/explain', { keyId: 'alias/none', action: 'kms:Decrypt' }, 400, /NotFoundException/],
      ['/api/kms/explain', { keyId: 'alias/none', action: 'kms:Decrypt', encryptionContext: 'novalue' }, 400, /key=value/],
    ];
    for (const [path, body, status, text, headers] of cases) {
      const r = await post(path, body, headers);
      const answer = (await r.text()).replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&');
      expect(r.status, `${path} ${JSON.stringify(body).slice(0, 80)}: ${answer}`).toBe(status);
      expect(answer).toMatch(text);
    }
    // Refused on its Content-Length before the body is read (over a socket the server then closes
    // the connection while the client still sends, so this one is asked in-process).
    const port = new URL(ui.origin).port;
    const big = await ui.app.request('/api/inspect', {
      method: 'POST',
      body: `document=${'A'.repeat(300 * 1024)}`,
      headers: { host: `127.0.0.1:${port}`, cookie, 'x-csrf-token': csrf, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(300 * 1024 + 9) },
    });
    expect(big.status).toBe(413);
    expect(await big.text()).toMatch(/ERR_UI_TOO_LARGE/);
    const missing = await fetch(`${ui.origin}/nowhere`, { headers: { cookie } });
    expect(missing.status).toBe(404);
    expect(await missing.text()).toMatch(/ERR_UI_NOT_FOUND/);
  });

  it('inspects a real AWS document posted as base64: every step rendered with its verdict', async () => {
    const doc = Buffer.from(vector('signed-eif-2025-04-01.b64')).toString('base64');
    const r = await post('/api/inspect', { document: doc, anchor: 'aws', at: '2025-04-01T14:00:00Z' });
    expect(r.status).toBe(200);
    const h = await r.text();
    expect(h).toMatch(/data-verifier="valid"/);
    expect([...h.matchAll(/data-step="(\w+)" data-verdict="(\w+)"/g)].map((m) => `${m[1]}:${m[2]}`)).toEqual(['syntax:pass', 'chain:pass', 'validity:pass', 'signature:pass', 'debug:pass', 'pcrs:skip', 'nonce:skip', 'age:skip']);
  });

  it('every response carries the CSP and friends, the 401 page included', async () => {
    for (const headers of [{}, { cookie }]) {
      const r = await fetch(`${ui.origin}/inspector`, { headers });
      expect(r.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
      expect(r.headers.get('x-frame-options')).toBe('DENY');
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });
});

describe('ui: no key material reaches the page', () => {
  it('keys, policies, grants, rotations, explain and the audit trail show no material, grant token or credential', async () => {
    const c = ui.kms.credential;
    const sdk = new KMSClient({ endpoint: ui.kms.endpoint, region: 'us-east-1', credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey }, maxAttempts: 1 });
    try {
      const key = await sdk.send(new CreateKeyCommand({ Description: 'ui secrecy test' }));
      const keyId = key.KeyMetadata?.KeyId ?? '';
      const grant = await sdk.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: 'arn:aws:iam::111122223333:role/app', Operations: ['Decrypt'] }));
      const materials = await ui.kms.service.store.listMaterials({ keyId, region: 'us-east-1' });
      expect(materials.length).toBe(1);
      const secrets = [
        ...materials.flatMap((m) => [Buffer.from(m.secret).toString('hex'), Buffer.from(m.secret).toString('base64'), Buffer.from(m.secret).toString('base64url')]),
        grant.GrantToken ?? 'missing',
        c.secretAccessKey,
        ui.token,
      ];
      const pages = [
        await (await fetch(`${ui.origin}/kms?key=${keyId}`, { headers: { cookie } })).text(),
        await (await post('/api/kms/explain', { keyId, action: 'kms:Decrypt' })).text(),
        await (await post('/api/kms/audit/verify', {})).text(),
        ...(await Promise.all(['/enclaves', '/inspector', '/demo'].map(async (p) => (await fetch(`${ui.origin}${p}`, { headers: { cookie } })).text()))),
      ];
      expect(pages[0]).toContain(grant.GrantId);
      expect(pages[0]).toContain('ui secrecy test');
      for (const page of pages) for (const s of secrets) expect(page.includes(s), s.slice(0, 8)).toBe(false);
    } finally {
      sdk.destroy();
    }
  });
});

describe('ui: expected PCRs taken from an image', () => {
  it('an .eif file posted as bytes gives the PCRs build-enclave measured; a damaged one a typed image error', async () => {
    const { image, measurements } = await buildImage({ entry: join(import.meta.dirname, '..', '..', 'examples', 'echo-server', 'main.ts') });
    const r = await post('/api/measurements/image', new Uint8Array(image), { 'content-type': 'application/octet-stream' });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ PCR0: toHex(measurements.pcr0), PCR1: toHex(measurements.pcr1), PCR2: toHex(measurements.pcr2) });
    const damaged = new Uint8Array(image);
    damaged[damaged.length - 1]! ^= 1;
    const bad = await post('/api/measurements/image', damaged, { 'content-type': 'application/octet-stream' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/ERR_IMAGE_/);
  });
});

describe('ui: the demo', () => {
  it('plays one at a time: a second play while the first runs is 409 ERR_UI_BUSY (the console closes under it cleanly)', async () => {
    const first = await post('/api/demo/play', {});
    expect(first.status).toBe(202);
    const second = await post('/api/demo/play', {});
    expect(second.status).toBe(409);
    expect(await second.text()).toMatch(/ERR_UI_BUSY/);
  });
});
