// The enclaves view: start an example, the live describe-enclaves list (every isolation layer, the
// image's measurements), terminate, and a debug-mode enclave's console.
import { html } from 'hono/html';
import type { EnclaveDescription, RunResult } from '../../host/index.ts';
import { EXAMPLES } from '../enclaves.ts';
import type { Html } from './layout.ts';
import { layers, mark, measurements } from './parts.ts';

export function enclavesPage(list: readonly EnclaveDescription[], consoleOf?: EnclaveDescription): Html {
  return html`<h1>Enclaves</h1>
    <p class="lead">Each enclave is an isolated process started by this console's host: no network, no disk, only its vsock channel. The list follows <code>describe-enclaves</code> live.</p>
    <section aria-labelledby="start-h">
      <h2 id="start-h">Start an example</h2>
      <form class="grid" data-post="/api/enclaves/start" data-target="#start-result">
        <label for="example">Example app</label>
        <select id="example" name="example">
          ${EXAMPLES.map((x) => html`<option value="${x.name}">${x.name} — ${x.summary}</option>`)}
        </select>
        <label for="memory">Memory (MiB)</label>
        <input id="memory" name="memory" type="number" min="64" max="65536" step="1" value="256" required />
        <label for="cpus">CPUs</label>
        <input id="cpus" name="cpus" type="number" min="1" max="64" step="1" value="1" required />
        <label for="name">Name (optional)</label>
        <input id="name" name="name" type="text" maxlength="64" pattern="[A-Za-z0-9._\\-]{1,64}" autocomplete="off" />
        <span></span>
        <label class="check"><input type="checkbox" name="debug" value="on" /> Debug mode (console readable; documents carry all-zero PCR0–2)</label>
        <span></span>
        <div><button type="submit">Start enclave</button></div>
      </form>
      <div id="start-result" role="status" aria-live="polite"></div>
    </section>
    ${consoleOf ? consolePanel(consoleOf) : ''}
    <section aria-labelledby="list-h">
      <h2 id="list-h">Running and recent</h2>
      <div id="enclave-list" data-sse="/events/enclaves">${enclaveList(list)}</div>
    </section>`;
}

function consolePanel(e: EnclaveDescription): Html {
  return html`<section aria-labelledby="console-h" class="console">
    <h2 id="console-h">Console of ${e.EnclaveName}</h2>
    <p class="muted">Debug mode only, as on AWS: what the enclave writes to stdout and stderr, history then live.</p>
    <pre id="console" tabindex="0" aria-label="Console output of ${e.EnclaveName}" data-sse="/events/console?id=${e.EnclaveID}" data-sse-mode="append"></pre>
  </section>`;
}

export function enclaveList(list: readonly EnclaveDescription[]): Html {
  if (list.length === 0) return html`<p class="muted" data-empty>No enclaves yet: start an example above, or play the demo story.</p>`;
  return html`${list.map(enclaveCard)}`;
}

function enclaveCard(e: EnclaveDescription): Html {
  const live = e.State === 'RUNNING' || e.State === 'BOOTING';
  const debug = e.Flags === 'DEBUG_MODE';
  return html`<article class="enclave" data-enclave-id="${e.EnclaveID}" data-name="${e.EnclaveName}" data-state="${e.State}" aria-labelledby="h-${e.EnclaveID}">
    <header>
      <h3 id="h-${e.EnclaveID}">${e.EnclaveName}</h3>
      <span class="state ${e.State.toLowerCase()}">${e.State}</span>
      ${debug ? html`<span class="badge warn">DEBUG_MODE</span>` : ''}
    </header>
    <dl class="facts">
      <dt>ID</dt><dd><code>${e.EnclaveID}</code></dd>
      <dt>CID</dt><dd>${e.EnclaveCID}</dd>
      <dt>CPUs</dt><dd>${e.NumberOfCPUs} (${e.CPUIDs.join(', ')})</dd>
      <dt>Memory</dt><dd>${e.MemoryMiB} MiB</dd>
      <dt>Process</dt><dd>${e.ProcessID}</dd>
    </dl>
    <details ${live ? 'open' : ''}>
      <summary>Measurements and isolation</summary>
      <h4>Measurements${debug ? ' (debug mode: its documents carry PCR0–2 as zero)' : ''}</h4>
      ${measurements(e.Measurements as unknown as Record<string, string>)}
      <h4>Isolation layers</h4>
      ${layers(e.Isolation)}
    </details>
    ${live
      ? html`<div class="actions">
          <form data-post="/api/enclaves/terminate" data-target="#start-result">
            <input type="hidden" name="id" value="${e.EnclaveID}" />
            <button type="submit" class="danger" aria-label="Terminate ${e.EnclaveName}">Terminate</button>
          </form>
          ${debug ? html`<a class="button" href="/enclaves?console=${encodeURIComponent(e.EnclaveID)}#console-h">Console</a>` : ''}
          ${e.State === 'RUNNING' ? html`<a class="button" href="/inspector?enclave=${encodeURIComponent(e.EnclaveID)}">Inspect its document</a>` : ''}
        </div>`
      : ''}
  </article>`;
}

export function started(r: RunResult): Html {
  return html`<p>${mark('pass', 'started')} <strong>${r.EnclaveName}</strong> (<code>${r.EnclaveID}</code>, CID ${r.EnclaveCID})</p>`;
}

export function terminated(id: string): Html {
  return html`<p>${mark('pass', 'terminated')} <code>${id}</code></p>`;
}
