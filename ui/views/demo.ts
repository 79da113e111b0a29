// The demo view: the steps of `npm start`, played on this console's host and KMS, each with what it
// did and, where an enclave asked for the key, what the KMS decided and why.
import { html } from 'hono/html';
import type { DemoEvent } from '../../host/demo-story.ts';
import type { DemoSnapshot } from '../demo.ts';
import type { Html } from './layout.ts';
import { explanation, layers, mark, measurements } from './parts.ts';

export function demoPage(snapshot: DemoSnapshot): Html {
  return html`<h1>Demo story</h1>
    <p class="lead">The steps <code>npm start</code> runs, on this console's own host and KMS: its enclaves appear in the Enclaves view while they run, and its key, decisions and audit records stay in the KMS view.</p>
    <form data-post="/api/demo/play" data-target="#demo-status">
      <button type="submit" class="primary">Play the demo</button>
    </form>
    <div id="demo-status" role="status" aria-live="polite"></div>
    <div id="demo-log" data-sse="/events/demo">${demoLog(snapshot)}</div>`;
}

interface StepView {
  readonly n: number;
  readonly title: string;
  readonly events: DemoEvent[];
}

function group(events: readonly DemoEvent[]): StepView[] {
  const steps: StepView[] = [];
  for (const e of events) {
    if (e.kind === 'step') steps.push({ n: e.n, title: e.title, events: [] });
    else steps.at(-1)?.events.push(e);
  }
  return steps;
}

export function demoLog(s: DemoSnapshot): Html {
  if (s.state === 'idle') return html`<p class="muted" data-demo-state="idle">Not played yet.</p>`;
  const steps = group(s.events);
  const status = (i: number): 'done' | 'running' | 'failed' => (i < steps.length - 1 || s.state === 'done' ? 'done' : s.state === 'failed' ? 'failed' : 'running');
  return html`<p data-demo-state="${s.state}" data-run="${s.run}">
      ${s.state === 'playing' ? html`<span class="spinner" aria-hidden="true"></span> Playing (run ${s.run})…` : s.state === 'done' ? mark('pass', `Run ${s.run} finished`) : mark('fail', `Run ${s.run} failed`)}
    </p>
    ${s.error ? html`<div class="error" role="alert" data-code="${s.error.code}"><strong>${s.error.code}</strong>: ${s.error.message}</div>` : ''}
    <ol class="story">
      ${steps.map(
        (step, i) => html`<li class="story-step ${status(i)}" data-step="${step.n}" data-status="${status(i)}">
          <h2>${mark(status(i) === 'done' ? 'pass' : status(i) === 'failed' ? 'fail' : 'skip', status(i) === 'done' ? 'done' : status(i))} <span class="n">${step.n}.</span> ${step.title}</h2>
          ${step.events.map(event)}
        </li>`,
      )}
    </ol>`;
}

function event(e: DemoEvent): Html {
  switch (e.kind) {
    case 'say':
      return html`<p class="say"><code>${e.text}</code></p>`;
    case 'measurements':
      return html`<details><summary>Measurements of image ${e.image}</summary>${measurements(e.pcrs)}</details>`;
    case 'enclave':
      return html`<details>
        <summary>Enclave ${e.description.EnclaveName}: isolation layers</summary>
        ${layers(e.description.Isolation)}
      </details>`;
    case 'decision':
      return html`<div class="kms-decision" data-enclave="${e.enclave}" data-released="${String(e.released)}">
        <p class="decision ${e.released ? 'pass' : 'fail'}">
          ${mark(e.released ? 'pass' : 'fail', e.released ? 'released' : 'denied')}: the KMS answered <strong>${e.answer}</strong> to enclave ${e.enclave}.
          ${e.released ? '' : 'Why, from kms explain with the document it presents:'}
        </p>
        ${e.released ? html`<details><summary>Why (kms explain with the document it presents)</summary>${explanation(e.explanation)}</details>` : explanation(e.explanation)}
      </div>`;
    default:
      return html``;
  }
}
