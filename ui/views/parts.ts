// Pieces several views share: verdict marks, times, hex with byte-level differences, isolation
// layers rendered from whatever describe-enclaves reports, and a `kms explain` decision.
import { html } from 'hono/html';
import { toHex } from '../../attestation/index.ts';
import type { Explanation } from '../../kms-proxy/index.ts';
import type { Html } from './layout.ts';

export type Mark = 'pass' | 'fail' | 'skip';

const SYMBOL: Record<Mark, string> = { pass: '✓', fail: '✗', skip: '–' };

/** A tick, cross or dash with its meaning in words (colour is never the only signal). */
export function mark(m: Mark, words: string): Html {
  return html`<span class="mark ${m}" aria-hidden="true">${SYMBOL[m]}</span><span class="verdict ${m}">${words}</span>`;
}

export function when(ms: number | undefined): Html {
  if (ms === undefined || !Number.isFinite(ms)) return html`<span class="muted">—</span>`;
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.000Z$/, 'Z')}</time>`;
}

/** Hex, one span per byte; bytes whose offset is in `differing` are marked (and counted for screen readers). */
export function hexBytes(bytes: Uint8Array, differing?: ReadonlySet<number>): Html {
  const hex = toHex(bytes);
  if (!differing || differing.size === 0) return html`<code class="hex">${hex}</code>`;
  const parts = Array.from({ length: bytes.length }, (_, i) => {
    const b = hex.slice(2 * i, 2 * i + 2);
    return differing.has(i) ? html`<mark class="diff" title="byte ${i}">${b}</mark>` : b;
  });
  return html`<code class="hex bytes">${parts}</code>`;
}

/** Acronyms the report's keys spell as words (PidNamespace), and units kept as written. */
const WORDS: Readonly<Record<string, string>> = { Pid: 'PID', Rss: 'RSS', Cpu: 'CPU', Cpus: 'CPUs', Fd: 'fd', MiB: 'MiB', KiB: 'KiB' };

/** NetworkNamespace → Network namespace, HeapLimitMiB → Heap limit MiB, RssLimitMiB → RSS limit MiB. */
export function label(name: string): string {
  const words = name.match(/[KM]iB|[A-Z]{2,}(?![a-z])|[A-Z]?[a-z]+|\d+/g) ?? [name];
  return words.map((w, i) => WORDS[w] ?? (i === 0 || /^[A-Z]{2,}$/.test(w) ? w : w.toLowerCase())).join(' ');
}

/**
 * Every isolation layer describe-enclaves reports, from the data alone (new layers appear without
 * a change here): booleans as a tick or a cross, lists, numbers and strings as values, objects
 * (descriptors) as nested lists.
 */
export function layers(report: unknown): Html {
  if (report === null || typeof report !== 'object') return html`<span class="muted">not reported</span>`;
  const entries = Object.entries(report as Record<string, unknown>);
  return html`<ul class="layers">
    ${entries.map(([k, v]) => {
      if (typeof v === 'boolean') return html`<li data-layer="${k}" data-on="${String(v)}">${mark(v ? 'pass' : 'fail', v ? 'on' : 'off')} ${label(k)}</li>`;
      if (Array.isArray(v)) return html`<li data-layer="${k}">${label(k)}: ${v.length === 0 ? html`<span class="muted">none</span>` : html`<code>${v.map(String).join(' ')}</code>`}</li>`;
      if (v !== null && typeof v === 'object') {
        return html`<li data-layer="${k}">${label(k)}: <ul>${Object.entries(v as Record<string, unknown>).map(([a, b]) => html`<li><code>${a}</code> ${String(b)}</li>`)}</ul></li>`;
      }
      return html`<li data-layer="${k}">${label(k)}: <code>${v === null ? 'none' : String(v)}</code></li>`;
    })}
  </ul>`;
}

export function measurements(pcrs: Readonly<Record<string, string | undefined>>): Html {
  const rows = Object.entries(pcrs).filter(([k, v]) => /^PCR\d+$/.test(k) && v !== undefined);
  return html`<table class="pcrs">
    <caption class="sr-only">Measurements</caption>
    <tbody>
      ${rows.map(([k, v]) => html`<tr><th scope="row">${k}</th><td><code class="hex">${v}</code></td></tr>`)}
    </tbody>
  </table>`;
}

function values(v: readonly string[] | undefined): Html {
  if (v === undefined || v.length === 0) return html`<span class="muted">(absent)</span>`;
  return html`${v.map((x, i) => html`${i > 0 ? ', ' : ''}<code class="hex">${x}</code>`)}`;
}

/** A `kms explain` decision: the verdict, what decided, every statement and condition, the grants. */
export function explanation(e: Explanation): Html {
  const d = e.decision;
  const verdict = d.effect === 'Allow' ? 'ALLOW' : d.effect === 'ExplicitDeny' ? 'DENY (explicit deny)' : 'DENY (implicit: nothing allows it)';
  const by =
    d.decidedBy === undefined
      ? 'no statement or grant allows it'
      : d.decidedBy.kind === 'grant'
        ? `grant ${d.decidedBy.grantId}`
        : `statement #${d.decidedBy.index}${d.decidedBy.sid !== undefined ? ` "${d.decidedBy.sid}"` : ''}`;
  const decider = d.decidedBy?.kind === 'statement' ? d.decidedBy.index : undefined;
  const a = e.attestation;
  return html`<section class="explanation" data-effect="${d.effect}" data-outcome="${e.outcome}" aria-label="Decision">
    <p class="decision ${d.allowed ? 'pass' : 'fail'}">${mark(d.allowed ? 'pass' : 'fail', verdict)} — decided by <strong data-decided-by>${by}</strong>; the KMS answers <strong>${e.outcome}</strong></p>
    <dl class="facts">
      <dt>Request</dt><dd><code>${e.action}</code> on <code>${e.keyArn}</code></dd>
      <dt>Principal</dt><dd><code>${e.principal}</code></dd>
      <dt>Attestation</dt>
      <dd>
        ${a === undefined
          ? html`none: every <code>kms:RecipientAttestation:*</code> key is absent`
          : a.valid
            ? html`${mark('pass', 'valid document')} from <code>${a.moduleId ?? ''}</code>`
            : html`${mark('fail', 'refused')}: ${a.reason ?? ''} (the KMS answers ValidationException, and no <code>kms:RecipientAttestation:*</code> key is present)`}
      </dd>
    </dl>
    <table class="statements">
      <caption>Statements of the key policy, in order</caption>
      <thead><tr><th scope="col">#</th><th scope="col">Sid</th><th scope="col">Effect</th><th scope="col">Applies?</th><th scope="col">Conditions: expected vs the request</th></tr></thead>
      <tbody>
        ${d.statements.map(
          (s) => html`<tr class="${s.index === decider ? 'decider' : ''}" data-statement="${s.index}" data-applies="${String(s.applies)}">
            <td>${s.index}${s.index === decider ? html` <span class="badge">decided</span>` : ''}</td>
            <td>${s.sid ?? ''}</td>
            <td>${s.effect}</td>
            <td>${s.applies ? mark('pass', 'applies') : mark('skip', s.mismatch === 'condition' ? 'no: a condition failed' : `no: ${s.mismatch ?? ''} does not match`)}</td>
            <td>
              ${s.conditions.length === 0
                ? html`<span class="muted">—</span>`
                : html`<ul class="conditions">
                    ${s.conditions.map(
                      (c) => html`<li data-condition="${c.key}" data-passed="${String(c.passed)}">
                        ${mark(c.passed ? 'pass' : 'fail', c.passed ? 'holds' : 'fails')} <code>${c.operator}</code> <code>${c.key}</code>
                        <div class="expected">expected: ${values(c.expected)}</div>
                        <div class="actual">actual: ${values(c.actual)}</div>
                      </li>`,
                    )}
                  </ul>`}
            </td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${d.grants.length === 0
      ? ''
      : html`<h4>Grants</h4>
          <ul>
            ${d.grants.map((g) => html`<li>${g.applies ? mark('pass', 'applies') : mark('skip', `does not apply (${g.mismatch ?? ''})`)} <code>${g.grantId}</code></li>`)}
          </ul>`}
  </section>`;
}
