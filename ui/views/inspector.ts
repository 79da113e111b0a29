// The document inspector: a document pasted, dropped or fetched from a running enclave; every
// field decoded; the certificate chain as a picture; each verification step with its verdict;
// expected PCRs typed or taken from an image, differences highlighted byte by byte.
import { html } from 'hono/html';
import { isZero, toHex } from '../../attestation/index.ts';
import type { EnclaveDescription } from '../../host/index.ts';
import { EXAMPLES } from '../enclaves.ts';
import type { CertificateView, Inspection, PcrComparison, Step } from '../inspect.ts';
import type { Html } from './layout.ts';
import { hexBytes, mark, when } from './parts.ts';

/** PCR indices the form offers (AWS's meanings; the sandbox uses the same ones). */
export const FORM_PCRS = [0, 1, 2, 3, 4, 8] as const;
const PCR_MEANING: Readonly<Record<number, string>> = {
  0: 'the whole image',
  1: 'runtime and bootstrap (kernel on AWS)',
  2: 'the application',
  3: "the parent's IAM role",
  4: 'the parent instance id',
  8: 'the image signing certificate',
};

export interface AnchorChoice {
  readonly id: string;
  readonly name: string;
  readonly checked: boolean;
}

export interface DocumentSource {
  readonly enclaves: readonly EnclaveDescription[];
  /** Preselected enclave and its document port. */
  readonly selected?: { readonly id: string; readonly port: number; readonly nonce: boolean };
}

/** The document input every form that takes a document shares: paste, drop, file, or fetch. */
export function documentInput(prefix: string, source: DocumentSource, required: boolean): Html {
  const running = source.enclaves.filter((e) => e.State === 'RUNNING');
  return html`<div class="drop" data-drop="${prefix}-document">
      <label for="${prefix}-document">Attestation document (base64, base64url or hex; or drop a file here)</label>
      <textarea id="${prefix}-document" name="document" rows="5" spellcheck="false" autocomplete="off" ${required ? 'required' : ''}></textarea>
      <label for="${prefix}-file">…or choose a file (raw COSE bytes or base64 text)</label>
      <input id="${prefix}-file" type="file" data-file-into="${prefix}-document" />
    </div>
    <fieldset class="fetch" data-not-submitted>
      <legend>…or fetch one from a running enclave</legend>
      ${running.length === 0
        ? html`<p class="muted">No enclave is running: start the attestation responder in the Enclaves view.</p>`
        : html`<div class="grid">
            <label for="${prefix}-enclave">Enclave</label>
            <select id="${prefix}-enclave" name="fetchEnclave">
              ${running.map((e) => html`<option value="${e.EnclaveID}" ${source.selected?.id === e.EnclaveID ? 'selected' : ''}>${e.EnclaveName} (CID ${e.EnclaveCID})</option>`)}
            </select>
            <label for="${prefix}-port">Vsock port</label>
            <input id="${prefix}-port" name="fetchPort" type="number" min="1" max="4294967295" value="${source.selected?.port ?? 5006}" />
            <label for="${prefix}-nonce">Nonce to send (hex; empty sends nothing)</label>
            <input id="${prefix}-nonce" name="fetchNonce" type="text" spellcheck="false" autocomplete="off" data-random-nonce="${source.selected?.nonce === false ? 'no' : 'yes'}" pattern="([0-9a-fA-F]{2}){0,64}" />
            <span></span>
            <div><button type="button" data-fetch-document="${prefix}">Fetch document</button></div>
          </div>`}
    </fieldset>`;
}

export function inspectorPage(options: { source: DocumentSource; anchors: readonly AnchorChoice[]; imageSources: readonly { value: string; label: string }[] }): Html {
  return html`<h1>Document inspector</h1>
    <p class="lead">Decodes an attestation document, draws its certificate chain and runs the verifier step by step. Real AWS documents verify against AWS's Nitro root at their own time.</p>
    <form id="inspect-form" data-post="/api/inspect" data-target="#inspection">
      <fieldset>
        <legend>Document</legend>
        ${documentInput('inspect', options.source, true)}
      </fieldset>
      <fieldset>
        <legend>Trust and time</legend>
        ${options.anchors.map((a) => html`<label class="check"><input type="checkbox" name="anchor" value="${a.id}" ${a.checked ? 'checked' : ''} /> ${a.name}</label>`)}
        <div class="grid">
          <label for="at">Verify at (ISO 8601; empty = now)</label>
          <input id="at" name="at" type="text" placeholder="2025-04-01T14:00:00Z" spellcheck="false" autocomplete="off" />
        </div>
      </fieldset>
      <fieldset>
        <legend>What you expect</legend>
        <div class="grid">
          ${FORM_PCRS.map(
            (i) => html`<label for="pcr${i}">PCR${i} <span class="muted">(${PCR_MEANING[i]})</span></label>
              <input id="pcr${i}" name="pcr${i}" type="text" class="hex-input" spellcheck="false" autocomplete="off" pattern="[0-9a-fA-F]*" />`,
          )}
          <label for="pcr-source">Take PCR0–2 (and 8) from</label>
          <div class="row">
            <select id="pcr-source">
              ${options.imageSources.map((s) => html`<option value="${s.value}">${s.label}</option>`)}
            </select>
            <button type="button" data-take-pcrs="pcr-source">Fill in</button>
          </div>
          <label for="image-file">…or from an image file (.eif built by build-enclave)</label>
          <input id="image-file" type="file" data-image-pcrs />
          <label for="nonce">Expected nonce (hex)</label>
          <input id="nonce" name="nonce" type="text" spellcheck="false" autocomplete="off" pattern="([0-9a-fA-F]{2})*" />
          <label for="max-age">Maximum age (seconds)</label>
          <input id="max-age" name="maxAge" type="number" min="0" step="1" />
          <span></span>
          <label class="check"><input type="checkbox" name="allowDebug" value="on" /> Accept a debug-mode document</label>
        </div>
      </fieldset>
      <button type="submit" class="primary">Verify</button>
    </form>
    <div id="inspection" aria-live="polite"></div>`;
}

/** Image sources for "take PCRs from": the examples, and each running enclave's measurements. */
export function imageSources(enclaves: readonly EnclaveDescription[]): { value: string; label: string }[] {
  return [
    ...EXAMPLES.map((x) => ({ value: `example:${x.name}`, label: `example image: ${x.name}` })),
    ...enclaves.filter((e) => e.State === 'RUNNING').map((e) => ({ value: `enclave:${e.EnclaveID}`, label: `running enclave: ${e.EnclaveName}` })),
  ];
}

const STEP_WORDS: Record<Step['verdict'], string> = { pass: 'passed', fail: 'failed', skip: 'not checked' };

export function inspection(r: Inspection): Html {
  const v = r.verifier;
  const doc = r.document;
  return html`<section class="result" data-verifier="${v.ok ? 'valid' : v.code}" aria-label="Inspection">
    <h2>Result</h2>
    <p class="banner ${v.ok ? 'pass' : 'fail'}" role="status">
      ${v.ok
        ? mark('pass', 'Valid: the verifier accepts this document with these expectations.')
        : html`${mark('fail', 'Refused')} by the verifier: <strong data-code>${v.code}</strong> — ${v.message}${v.detail ? html` (${v.detail})` : ''}`}
      <span class="muted">Verified at ${when(r.at)}.</span>
    </p>
    ${r.validAtItsTime && doc ? whyItFailsNow(r, doc.timestamp) : ''}
    <h3>Verification steps</h3>
    <ol class="steps">
      ${r.steps.map(
        (s) => html`<li data-step="${s.id}" data-verdict="${s.verdict}" class="${s.verdict}">
          ${mark(s.verdict, STEP_WORDS[s.verdict])} <strong>${s.title}</strong>${s.code ? html` <code>${s.code}</code>` : ''}
          <div class="detail">${s.detail}</div>
        </li>`,
      )}
    </ol>
    ${r.certificates.length > 0 ? chain(r.certificates) : ''}
    ${r.pcrs.length > 0 ? pcrComparisons(r.pcrs) : ''}
    ${doc
      ? html`<h3>Fields</h3>
          <dl class="facts fields">
            <dt>module_id</dt><dd><code>${doc.moduleId}</code></dd>
            <dt>digest</dt><dd>${doc.digest}</dd>
            <dt>timestamp</dt><dd>${when(doc.timestamp)} <span class="muted">(${doc.timestamp} ms)</span></dd>
            <dt>public_key</dt><dd>${optionalBytes(doc.publicKey)}</dd>
            <dt>user_data</dt><dd>${optionalBytes(doc.userData)}</dd>
            <dt>nonce</dt><dd>${optionalBytes(doc.nonce)}</dd>
            <dt>debug mode</dt><dd>${r.debug ? 'yes: PCR0–2 are all zero' : 'no'}</dd>
          </dl>
          <table class="pcrs all">
            <caption>PCRs in the document (${doc.pcrs.size})</caption>
            <thead><tr><th scope="col">PCR</th><th scope="col">Value</th><th scope="col">Meaning</th></tr></thead>
            <tbody>
              ${[...doc.pcrs].map(
                ([i, value]) => html`<tr class="${isZero(value) ? 'zero' : ''}" data-pcr="${i}">
                  <th scope="row">${i}</th><td><code class="hex">${toHex(value)}</code></td><td>${PCR_MEANING[i] ?? (isZero(value) ? 'unused' : '')}</td>
                </tr>`,
              )}
            </tbody>
          </table>`
      : ''}
  </section>`;
}

function optionalBytes(b: Uint8Array | null): Html {
  if (b === null) return html`<span class="muted">null (absent)</span>`;
  return html`${b.length} bytes: ${hexBytes(b)}`;
}

function whyItFailsNow(r: Inspection, timestamp: number): Html {
  const w = r.window;
  if (!w) return html``;
  const iso = new Date(timestamp).toISOString();
  return html`<div class="explain-box" data-why-now>
    <h3>Why it fails now</h3>
    <p>
      This document was valid when it was made. It is timestamped ${when(timestamp)}, and every certificate of its chain was valid from ${when(w.notBefore)} to ${when(w.notAfter)}:
      the ${w.earliestEnd} certificate bounds that period. AWS issues an enclave's leaf certificate for about three hours, so a document checked later fails the validity step with
      <code>ERR_ATTESTATION_EXPIRED</code> even though its chain and signature still hold (see the steps below).
    </p>
    <p>A document is evidence of one moment: a relying party checks it while it is fresh, with its own nonce and a maximum age, and never accepts an old one later.</p>
    <button type="button" data-set-field="at" data-value="${iso}" data-submit="inspect-form">Verify at the document's time (${iso})</button>
  </div>`;
}

function chain(certs: readonly CertificateView[]): Html {
  return html`<h3>Certificate chain</h3>
    <p class="muted">From the root the verifier trusts to the enclave's own leaf certificate, which signed the document. Each certificate is signed by the one before it.</p>
    <ol class="chain" aria-label="Certificate chain, root first">
      ${certs.map((c) => {
        const ok = c.validAt && c.signedByIssuer === true && (c.role !== 'root' || c.anchor !== undefined);
        return html`<li class="cert ${ok ? 'pass' : 'fail'}" data-role="${c.role}" data-ok="${String(ok)}">
          <div class="role">${c.role}</div>
          <div class="cn" title="${c.subject}">${c.commonName}</div>
          <div class="validity">${when(c.notBefore)}<br />→ ${when(c.notAfter)}</div>
          <ul>
            <li>${mark(c.validAt ? 'pass' : 'fail', c.validAt ? 'valid then' : c.parsed ? 'not valid then' : 'unparseable')}</li>
            <li>${mark(c.signedByIssuer ? 'pass' : 'fail', c.role === 'root' ? (c.signedByIssuer ? 'self-signed' : 'bad self-signature') : c.signedByIssuer ? 'signed by its issuer' : 'not signed by its issuer')}</li>
            ${c.role === 'root' ? html`<li>${mark(c.anchor ? 'pass' : 'fail', c.anchor ? `trusted: ${c.anchor}` : 'not a trusted root')}</li>` : ''}
          </ul>
          <div class="fingerprint muted" title="SHA-256 of the certificate">SHA-256 ${c.sha256.slice(0, 16)}…</div>
        </li>`;
      })}
    </ol>`;
}

function pcrComparisons(list: readonly PcrComparison[]): Html {
  return html`<h3>Expected PCRs</h3>
    ${list.map((p) => {
      const differing = new Set(p.differing);
      return html`<div class="pcr-compare" data-pcr="${p.index}" data-differing="${p.differing.length}">
        <p>${mark(differing.size === 0 ? 'pass' : 'fail', differing.size === 0 ? `PCR${p.index} equal` : p.actual ? `PCR${p.index}: ${differing.size} of ${Math.max(p.expected.length, p.actual.length)} bytes differ (marked)` : `PCR${p.index} is missing from the document`)}</p>
        <dl class="facts">
          <dt>expected</dt><dd>${hexBytes(p.expected, differing)}</dd>
          <dt>document</dt><dd>${p.actual ? hexBytes(p.actual, differing) : html`<span class="muted">absent</span>`}</dd>
        </dl>
      </div>`;
    })}`;
}
