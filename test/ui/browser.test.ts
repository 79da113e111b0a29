// The console in a real browser (Debian's headless Chromium through playwright-core): every view
// clicked through as a presenter would, a real AWS document inspected step by step, the demo story
// played, an explain that denies, a cross-site POST refused, labels and contrast checked, and not
// one console error. With UI_SCREENSHOTS=1 (npm run ui:screenshots) it also writes the
// screenshots the README shows into docs/.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUi, type UiServer } from '../../ui/index.ts';
import { expected, VECTORS } from '../attestation/fixtures.ts';
import { launchChromium, lowContrast, unlabelled } from './browser.ts';

const SCREENSHOTS = process.env.UI_SCREENSHOTS === '1' ? join(import.meta.dirname, '..', '..', 'docs') : undefined;
const SIGNED = readFileSync(join(VECTORS, 'signed-eif-2025-04-01.b64'), 'utf8').trim();
const MALFORMED = readFileSync(join(VECTORS, 'malformed-edited.b64'), 'utf8').trim();
const facts = expected()['signed-eif-2025-04-01.b64']!;

let ui: UiServer;
let dir: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

async function shot(name: string, target: Page = page): Promise<void> {
  if (SCREENSHOTS) await target.screenshot({ path: join(SCREENSHOTS, `ui-${name}.png`), fullPage: true });
}

/** Labels and contrast on the current page. */
async function accessible(): Promise<void> {
  expect(await unlabelled(page)).toEqual([]);
  expect(await lowContrast(page)).toEqual([]);
}

function steps(): Promise<Record<string, string>> {
  return page.$$eval('#inspection [data-step]', (els) => Object.fromEntries(els.map((e) => [e.getAttribute('data-step') ?? '', e.getAttribute('data-verdict') ?? ''])));
}

async function verify(): Promise<void> {
  // The result shown before is marked, so the wait below ends only at the new one (the page
  // replaces #inspection's content once it has read the answer, a moment after the response).
  await page.$$eval('#inspection section.result', (els) => {
    for (const e of els) e.setAttribute('data-stale', '');
  });
  const answered = page.waitForResponse((r) => r.url().endsWith('/api/inspect'));
  await page.getByRole('button', { name: 'Verify', exact: true }).click();
  await answered;
  await page.locator('#inspection section.result:not([data-stale])').waitFor();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ns-ui-browser-'));
  [ui, browser] = await Promise.all([startUi({ port: 0, dataDir: dir, defaultPkiRoot: null }), launchChromium()]);
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await ui?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ui in Chromium', () => {
  it('without the token a page answers 401', async () => {
    const other = await browser.newPage();
    const r = await other.goto(`${ui.origin}/kms`);
    expect(r?.status()).toBe(401);
    expect(await other.locator('h1').textContent()).toBe('Token required');
    await other.close();
  });

  it('enclaves: starts a debug-mode responder, lists it live with every isolation layer, streams its console', async () => {
    await page.goto(ui.url);
    expect(new URL(page.url()).pathname).toBe('/enclaves');
    expect(page.url()).not.toContain('token');
    // Keyboard: the first Tab reaches the skip link, which moves focus to the content.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.className')).toBe('skip-link');
    await accessible();
    await page.getByLabel('Example app').selectOption('attestation-responder');
    await page.getByLabel('Name (optional)').fill('responder');
    await page.getByLabel(/Debug mode/).check();
    await page.getByRole('button', { name: 'Start enclave' }).click();
    const card = page.locator('article.enclave[data-name="responder"][data-state="RUNNING"]');
    await card.waitFor();
    const described = ui.host.describeEnclaves().find((e) => e.EnclaveName === 'responder');
    // Every layer describe-enclaves reports is shown, whatever they are.
    expect(await card.locator('ul.layers > li').count()).toBe(Object.keys(described?.Isolation ?? {}).length);
    expect(await card.locator('[data-layer="NetworkNamespace"]').textContent()).toMatch(/Network namespace/);
    await expect.poll(() => page.locator('#start-result').textContent()).toMatch(/started responder/);
    await card.getByRole('link', { name: 'Console', exact: true }).click();
    await expect.poll(() => page.locator('#console').textContent(), { timeout: 20_000 }).toContain('attestation responder listening on vsock port 5006');
    await accessible();
    await shot('enclaves');
  });

  it('inspector: a real AWS document fails now for its age alone, explained, and passes every step at its own time', async () => {
    await page.getByRole('link', { name: 'Document inspector' }).click();
    await page.getByLabel(/^Attestation document/).fill(SIGNED);
    await verify();
    expect(await steps()).toEqual({ syntax: 'pass', chain: 'pass', validity: 'fail', signature: 'pass', debug: 'pass', pcrs: 'skip', nonce: 'skip', age: 'skip' });
    expect(await page.locator('#inspection [data-verifier]').getAttribute('data-verifier')).toBe('ERR_ATTESTATION_EXPIRED');
    const why = page.locator('[data-why-now]');
    expect(await why.textContent()).toMatch(/about three hours/);
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/inspect'));
    await why.getByRole('button', { name: /Verify at the document's time/ }).click();
    await answered;
    await page.locator('#inspection [data-verifier="valid"]').waitFor();
    expect(await steps()).toEqual({ syntax: 'pass', chain: 'pass', validity: 'pass', signature: 'pass', debug: 'pass', pcrs: 'skip', nonce: 'skip', age: 'skip' });
    const chain = await page.$$eval('ol.chain li.cert', (els) => els.map((e) => `${e.getAttribute('data-role')}:${e.getAttribute('data-ok')}`));
    expect(chain).toEqual(['root:true', 'regional:true', 'zonal:true', 'instance:true', 'leaf:true']);
    expect(await page.locator('#inspection').textContent()).toContain(facts.module_id);
  });

  it('inspector: an expected PCR0 one byte off is highlighted byte by byte', async () => {
    // Taken from an image: the example's measurements fill PCR0–2.
    await page.getByLabel('Take PCR0–2 (and 8) from').selectOption('example:attestation-responder');
    const measured = page.waitForResponse((r) => r.url().endsWith('/api/measurements'));
    await page.getByRole('button', { name: 'Fill in' }).click();
    expect((await measured).status()).toBe(200);
    await expect.poll(() => page.getByLabel(/^PCR1/).inputValue()).toMatch(/^[0-9a-f]{96}$/);
    await page.getByLabel(/^PCR1/).fill('');
    const wrong = `${facts.pcr0.slice(0, 20)}ff${facts.pcr0.slice(22)}`;
    await page.getByLabel(/^PCR0/).fill(wrong);
    await page.getByLabel(/^PCR2/).fill(facts.pcr2);
    await verify();
    expect((await steps()).pcrs).toBe('fail');
    expect(await page.locator('#inspection [data-verifier]').getAttribute('data-verifier')).toBe('ERR_PCR_MISMATCH');
    const pcr0 = page.locator('.pcr-compare[data-pcr="0"]');
    expect(await pcr0.getAttribute('data-differing')).toBe('1');
    expect(await pcr0.locator('mark.diff').allTextContents()).toEqual(['ff', facts.pcr0.slice(20, 22)]);
    expect(await page.locator('.pcr-compare[data-pcr="2"]').getAttribute('data-differing')).toBe('0');
    await accessible();
    await shot('inspector');
  });

  it('inspector: a tampered document fails its signature step; an edited one fails at syntax', async () => {
    await page.getByLabel(/^PCR0/).fill('');
    await page.getByLabel(/^PCR2/).fill('');
    const bytes = Buffer.from(SIGNED, 'base64');
    bytes[bytes.indexOf(Buffer.from(facts.pcr0, 'hex')) + 1]! ^= 0x40;
    await page.getByLabel(/^Attestation document/).fill(bytes.toString('base64'));
    await verify();
    expect(await steps()).toMatchObject({ syntax: 'pass', chain: 'pass', validity: 'pass', signature: 'fail' });
    await page.getByLabel(/^Attestation document/).fill(MALFORMED);
    await verify();
    expect((await steps()).syntax).toBe('fail');
    expect(await page.locator('#inspection [data-verifier]').getAttribute('data-verifier')).toBe('ERR_ATTESTATION_MALFORMED');
  });

  it('inspector: a document fetched from the running enclave, with the nonce it was sent, verified against the console root', async () => {
    await page.getByRole('link', { name: 'Enclaves' }).click();
    await page.locator('article.enclave[data-name="responder"]').getByRole('link', { name: 'Inspect its document' }).click();
    await page.getByLabel('AWS Nitro Enclaves Root-G1').uncheck();
    await page.getByLabel('Accept a debug-mode document').check();
    const inspected = page.waitForResponse((r) => r.url().endsWith('/api/inspect'));
    await page.getByRole('button', { name: 'Fetch document' }).click();
    await inspected;
    await page.locator('#inspection [data-verifier="valid"]').waitFor();
    expect(await steps()).toMatchObject({ chain: 'pass', validity: 'pass', signature: 'pass', debug: 'pass', nonce: 'pass' });
    expect(await page.getByLabel('Expected nonce (hex)').inputValue()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('demo: plays the story, each step done, the key released to A and denied to B and to A in debug mode, with why', async () => {
    await page.getByRole('link', { name: 'Demo story' }).click();
    await page.getByRole('button', { name: 'Play the demo' }).click();
    await page.locator('li.story-step[data-step="9"][data-status="done"]').waitFor({ timeout: 90_000 });
    expect(await page.locator('[data-demo-state]').getAttribute('data-demo-state')).toBe('done');
    expect(await page.$$eval('li.story-step', (els) => els.map((e) => e.getAttribute('data-status')))).toEqual(Array(9).fill('done'));
    const decisions = await page.$$eval('.kms-decision', (els) => els.map((e) => `${e.getAttribute('data-enclave')}:${e.getAttribute('data-released')}:${e.querySelector('[data-effect]')?.getAttribute('data-effect')}`));
    expect(decisions).toEqual(['A:true:Allow', 'B:false:ImplicitDeny', 'A in debug mode:false:ImplicitDeny']);
    // B's denial: PCR0 (ImageSha384) and PCR2 differ, PCR1 holds.
    const b = page.locator('.kms-decision[data-enclave="B"]');
    expect(await b.locator('[data-condition="kms:RecipientAttestation:ImageSha384"]').first().getAttribute('data-passed')).toBe('false');
    expect(await b.locator('[data-condition="kms:RecipientAttestation:PCR1"]').getAttribute('data-passed')).toBe('true');
    await accessible();
    await shot('demo');
  });

  it('KMS: the demo key, its policy, an explain that denies, the audit trail with attestation fields, verified', async () => {
    await page.getByRole('link', { name: 'KMS' }).click();
    const row = page.locator('table.keys tbody tr').first();
    await row.getByRole('link').click();
    expect(await page.locator('pre.policy').textContent()).toContain('"Sid": "DenyWithoutAttestation"');
    // Decrypt without a document: the Null deny applies.
    await page.getByLabel('Action').fill('kms:Decrypt');
    await page.getByRole('button', { name: 'Explain', exact: true }).click();
    const e = page.locator('#explanation .explanation');
    await e.waitFor();
    expect(await e.getAttribute('data-effect')).toBe('ExplicitDeny');
    expect(await e.getAttribute('data-outcome')).toBe('AccessDeniedException');
    expect(await e.locator('[data-decided-by]').textContent()).toBe('statement #3 "DenyWithoutAttestation"');
    expect(await e.locator('tr.decider [data-condition="kms:RecipientAttestation:ImageSha384"] .actual').textContent()).toMatch(/absent/);
    // The audit trail (live) holds the attested Decrypts with their document's fields.
    const attested = page.locator('table.audit tr[data-event="Decrypt"] dl.recipient');
    await expect.poll(() => attested.count()).toBeGreaterThanOrEqual(3);
    expect(await attested.first().textContent()).toMatch(/ModuleId/);
    await page.getByRole('button', { name: 'Verify the hash chain' }).click();
    await page.locator('[data-audit-ok="true"]').waitFor();
    await accessible();
    await shot('kms');
  });

  it('a cross-site POST is refused: from another site without the cookie (401), from another origin of this site (403)', async () => {
    const before = ui.host.describeEnclaves().length;
    const target = `${ui.origin}/api/enclaves/start`;
    // A page elsewhere that posts a form to the console as soon as it loads.
    const attacker: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><form id="f" method="POST" action="${target}"><input name="example" value="echo-server"></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    const port = (attacker.address() as AddressInfo).port;
    const evil = await context.newPage();
    try {
      // Same site, another origin: the cookie goes along, the CSRF and Origin checks refuse (403).
      // Another site: SameSite=Strict keeps the cookie back (401).
      for (const [origin, status] of [[`http://127.0.0.1:${port}`, 403], [`http://localhost:${port}`, 401]] as const) {
        const posted = evil.waitForResponse((r) => r.url() === target);
        await evil.goto(`${origin}/`);
        expect((await posted).status()).toBe(status);
      }
    } finally {
      await evil.close();
      attacker.close();
    }
    expect(ui.host.describeEnclaves().length).toBe(before);
  });

  it('enclaves: terminates the responder; the list follows', async () => {
    await page.getByRole('link', { name: 'Enclaves' }).click();
    await page.getByRole('button', { name: 'Terminate responder' }).click();
    // As nitro-cli's describe-enclaves: a terminated enclave leaves the list.
    await page.locator('article.enclave[data-name="responder"]').waitFor({ state: 'detached' });
    expect(ui.host.describeEnclaves().some((e) => e.EnclaveName === 'responder')).toBe(false);
  });

  it('no console error, page error or failed request in the whole session', () => {
    expect(problems).toEqual([]);
  });
});
