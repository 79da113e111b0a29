// The KMS view: keys with aliases, rotation and state; one key's policy (pretty-printed), grants
// and rotations; the `kms explain` form; the audit trail with its attestation fields and a button
// that verifies the hash chain.
import { html } from 'hono/html';
import type { AuditVerification } from '../../kms-proxy/index.ts';
import type { AuditEntry, KeyDetail, KeyView } from '../kms.ts';
import type { Html } from './layout.ts';
import { mark, when } from './parts.ts';
import { documentInput, type DocumentSource } from './inspector.ts';

/** Actions offered in the explain form's list (any kms:Action may be typed). */
const ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:Encrypt', 'kms:ReEncryptFrom', 'kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:CreateGrant', 'kms:ScheduleKeyDeletion'];

export function kmsPage(options: { endpoint: string; account: string; keys: readonly KeyView[]; selected?: KeyDetail; source: DocumentSource; audit: Html }): Html {
  const { keys, selected } = options;
  return html`<h1>KMS</h1>
    <p class="lead">The AWS-KMS-compatible service this console runs at <code>${options.endpoint}</code> (account ${options.account}). Key material, grant tokens and credentials never reach this page.</p>
    <section aria-labelledby="keys-h">
      <h2 id="keys-h">Keys</h2>
      ${keys.length === 0
        ? html`<p class="muted" data-empty>No keys yet: play the demo story, or create keys with the AWS SDK or CLI against the endpoint above.</p>`
        : html`<table class="keys">
            <caption class="sr-only">Keys, oldest first</caption>
            <thead><tr><th scope="col">Key</th><th scope="col">Aliases</th><th scope="col">Description</th><th scope="col">Spec / usage</th><th scope="col">State</th><th scope="col">Rotation</th><th scope="col">Created</th></tr></thead>
            <tbody>
              ${keys.map(
                (k) => html`<tr data-key-id="${k.keyId}" class="${selected?.keyId === k.keyId ? 'selected' : ''}">
                  <td><a href="/kms?key=${encodeURIComponent(k.keyId)}#key-h" ${selected?.keyId === k.keyId ? html`aria-current="true"` : ''}><code>${k.keyId}</code></a></td>
                  <td>${k.aliases.length === 0 ? html`<span class="muted">—</span>` : k.aliases.map((a) => html`<code>${a}</code> `)}</td>
                  <td>${k.description}</td>
                  <td>${k.keySpec}<br /><span class="muted">${k.keyUsage}</span></td>
                  <td>${k.state}${k.deletionDate !== undefined ? html`<br />deleted ${when(k.deletionDate)}` : ''}</td>
                  <td>${rotation(k)}</td>
                  <td>${when(k.creationDate)}</td>
                </tr>`,
              )}
            </tbody>
          </table>`}
    </section>
    ${selected ? keyDetail(selected) : ''}
    <section aria-labelledby="explain-h">
      <h2 id="explain-h">Explain a decision</h2>
      <p class="muted">Evaluates a request against the key's policy and grants exactly as the KMS would, and says which statement or grant decided and each condition's expected and actual values.</p>
      <form id="explain-form" data-post="/api/kms/explain" data-target="#explanation">
        <div class="grid">
          <label for="explain-key">Key</label>
          <select id="explain-key" name="keyId" required>
            ${keys.map((k) => html`<option value="${k.arn}" ${selected?.keyId === k.keyId ? 'selected' : ''}>${k.aliases[0] ?? k.keyId} — ${k.description || k.keySpec}</option>`)}
          </select>
          <label for="explain-action">Action</label>
          <input id="explain-action" name="action" type="text" list="actions" value="kms:Decrypt" required spellcheck="false" />
          <datalist id="actions">${ACTIONS.map((a) => html`<option value="${a}"></option>`)}</datalist>
          <label for="explain-principal">Principal (IAM or STS ARN; empty = the account root)</label>
          <input id="explain-principal" name="principal" type="text" spellcheck="false" autocomplete="off" placeholder="arn:aws:iam::${options.account}:root" />
          <label for="explain-context">Encryption context (one key=value per line)</label>
          <textarea id="explain-context" name="encryptionContext" rows="2" spellcheck="false"></textarea>
        </div>
        <fieldset>
          <legend>Attestation document presented in the Recipient (optional)</legend>
          ${documentInput('explain', options.source, false)}
        </fieldset>
        <button type="submit" class="primary" ${keys.length === 0 ? 'disabled' : ''}>Explain</button>
      </form>
      <div id="explanation" aria-live="polite"></div>
    </section>
    <section aria-labelledby="audit-h">
      <h2 id="audit-h">Audit trail</h2>
      <p class="muted">One CloudTrail-shaped record per call, hash-chained so that an edit, a deletion or a reordering shows. Newest first; attested calls carry the document's module id and PCRs.</p>
      <form data-post="/api/kms/audit/verify" data-target="#audit-verdict">
        <button type="submit">Verify the hash chain</button>
      </form>
      <div id="audit-verdict" role="status" aria-live="polite"></div>
      <div id="audit" data-sse="/events/audit">${options.audit}</div>
    </section>`;
}

function rotation(k: KeyView): Html {
  if (!k.rotationEnabled) return html`<span class="muted">off</span>`;
  return html`every ${k.rotationPeriodInDays ?? 365} days${k.nextRotationDate !== undefined ? html`<br />next ${when(k.nextRotationDate)}` : ''}`;
}

function keyDetail(k: KeyDetail): Html {
  return html`<section aria-labelledby="key-h" class="key-detail" data-key-id="${k.keyId}">
    <h2 id="key-h">Key ${k.aliases[0] ?? k.keyId}</h2>
    <dl class="facts">
      <dt>ARN</dt><dd><code>${k.arn}</code></dd>
      <dt>Aliases</dt><dd>${k.aliases.length === 0 ? 'none' : k.aliases.join(', ')}</dd>
      <dt>Spec</dt><dd>${k.keySpec}, ${k.keyUsage}, origin ${k.origin}</dd>
      <dt>State</dt><dd>${k.state}</dd>
      <dt>Rotation</dt><dd>${rotation(k)}</dd>
    </dl>
    <h3>Key policy</h3>
    <pre class="policy" tabindex="0" aria-label="Key policy JSON"><code>${k.policy}</code></pre>
    <h3>Grants</h3>
    ${k.grants.length === 0
      ? html`<p class="muted">No grants.</p>`
      : html`<table>
          <caption class="sr-only">Grants</caption>
          <thead><tr><th scope="col">Grant</th><th scope="col">Grantee</th><th scope="col">Operations</th><th scope="col">Constraints</th><th scope="col">Retiring principal</th><th scope="col">Created</th></tr></thead>
          <tbody>
            ${k.grants.map(
              (g) => html`<tr>
                <td><code>${g.grantId}</code>${g.name ? html`<br />${g.name}` : ''}</td>
                <td><code>${g.granteePrincipal}</code></td>
                <td>${g.operations.join(', ')}</td>
                <td>${g.constraints === undefined ? html`<span class="muted">none</span>` : html`<code>${JSON.stringify(g.constraints)}</code>`}</td>
                <td>${g.retiringPrincipal ? html`<code>${g.retiringPrincipal}</code>` : html`<span class="muted">—</span>`}</td>
                <td>${when(g.creationDate)}</td>
              </tr>`,
            )}
          </tbody>
        </table>`}
    <h3>Key material versions</h3>
    ${k.rotations.length === 0
      ? html`<p class="muted">None (pending import).</p>`
      : html`<table>
          <caption class="sr-only">Key material versions</caption>
          <thead><tr><th scope="col">Version</th><th scope="col">Key material id</th><th scope="col">Created</th><th scope="col">Rotation</th></tr></thead>
          <tbody>
            ${k.rotations.map((r) => html`<tr><td>${r.version}</td><td><code>${r.keyMaterialId}</code></td><td>${when(r.createdAt)}</td><td>${r.rotationType ?? (r.version === 0 ? 'original' : '')}</td></tr>`)}
          </tbody>
        </table>`}
  </section>`;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** The audit records, newest first. Fields are read defensively: the log is a file on disk. */
export function auditTrail(entries: readonly AuditEntry[]): Html {
  if (entries.length === 0) return html`<p class="muted" data-empty>No records yet.</p>`;
  return html`<table class="audit">
    <caption class="sr-only">Audit records, newest first</caption>
    <thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Call</th><th scope="col">Result</th><th scope="col">Decided by</th><th scope="col">Attestation</th></tr></thead>
    <tbody>
      ${[...entries].reverse().map((e) => {
        if ('unreadable' in e) return html`<tr><td colspan="6" class="error">unreadable line: <code>${e.unreadable}</code></td></tr>`;
        const r = e.record;
        const extra = obj(r.additionalEventData);
        const auth = obj(extra?.authorization);
        const by = obj(auth?.decidedBy);
        const recipient = obj(extra?.recipient);
        const key = Array.isArray(r.resources) ? str(obj(r.resources[0])?.ARN) : '';
        const failed = r.errorCode !== undefined;
        return html`<tr data-sequence="${str(r.sequence)}" data-event="${str(r.eventName)}" data-error="${str(r.errorCode)}">
          <td>${str(r.sequence)}</td>
          <td>${str(r.eventTime)}</td>
          <td><strong>${str(r.eventName)}</strong><br /><span class="muted">${str(obj(r.userIdentity)?.arn)}</span>${key ? html`<br /><code class="small">${key}</code>` : ''}</td>
          <td>${failed ? html`${mark('fail', str(r.errorCode))}<div class="small">${str(r.errorMessage)}</div>` : mark('pass', 'OK')}${extra?.reason !== undefined ? html`<div class="small">reason: <code>${str(extra.reason)}</code></div>` : ''}</td>
          <td>${auth ? html`${str(auth.effect)}${by ? html`: ${by.kind === 'grant' ? `grant ${str(by.grantId)}` : `#${str(by.index)}${by.sid !== undefined ? ` "${str(by.sid)}"` : ''}`}` : ''}` : html`<span class="muted">—</span>`}</td>
          <td>${recipient
            ? html`<details>
                <summary>${mark('pass', 'attested')}: <code class="small">${str(recipient.attestationDocumentModuleId)}</code></summary>
                <dl class="recipient">${Object.entries(recipient).map(([k, v]) => html`<dt>${k.replace(/^attestationDocument/, '')}</dt><dd><code class="hex">${str(v)}</code></dd>`)}</dl>
              </details>`
            : html`<span class="muted">—</span>`}</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
}

export function auditVerdict(v: AuditVerification): Html {
  return v.ok
    ? html`<p data-audit-ok="true">${mark('pass', 'intact')}: the hash chain of all ${v.records} records verifies, and audit.head agrees.</p>`
    : html`<p data-audit-ok="false" class="error">${mark('fail', 'broken')} after ${v.records} good records: <code>${v.problem?.code ?? ''}</code> at line ${v.problem?.line ?? 0}: ${v.problem?.message ?? ''}</p>`;
}
