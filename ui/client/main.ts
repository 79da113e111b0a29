// The console's client code, bundled by esbuild when the console starts (ui/bundle.ts). The server
// renders every piece of markup; this only moves it: forms post (with the CSRF token) and put the
// answer where they say, live regions follow server-sent events, and files are read into forms.
// No framework, nothing fetched from elsewhere.

const csrf = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? '';

function post(url: string, body: BodyInit, contentType: string): Promise<Response> {
  return fetch(url, { method: 'POST', body, credentials: 'same-origin', headers: { 'content-type': contentType, 'x-csrf-token': csrf } });
}

type Field = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

function isField(el: Element | null): el is Field {
  return el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement;
}

function byId<T extends Element>(id: string, type: new () => T): T | undefined {
  const el = document.getElementById(id);
  return el instanceof type ? el : undefined;
}

/** The url-encoded body of a form, without files and without what sits in [data-not-submitted]. */
function formBody(form: HTMLFormElement): URLSearchParams {
  const params = new URLSearchParams();
  for (const el of Array.from(form.elements)) {
    if (!isField(el) || !el.name || el.disabled || el.closest('[data-not-submitted]')) continue;
    if (el instanceof HTMLInputElement && (el.type === 'checkbox' || el.type === 'radio') && !el.checked) continue;
    if (el instanceof HTMLInputElement && el.type === 'file') continue;
    params.append(el.name, el.value);
  }
  return params;
}

function targetOf(form: HTMLFormElement): HTMLElement | undefined {
  const sel = form.dataset.target;
  const el = sel ? document.querySelector(sel) : null;
  return el instanceof HTMLElement ? el : undefined;
}

function showError(where: HTMLElement | undefined, text: string): void {
  if (!where) return;
  const div = document.createElement('div');
  div.className = 'error';
  div.setAttribute('role', 'alert');
  div.textContent = text;
  where.replaceChildren(div);
}

/** Runs `work` with the form marked busy and its buttons disabled. */
async function busy(form: HTMLFormElement, where: HTMLElement | undefined, work: () => Promise<void>): Promise<void> {
  const buttons = Array.from(form.querySelectorAll('button'));
  where?.setAttribute('aria-busy', 'true');
  for (const b of buttons) b.disabled = true;
  try {
    await work();
  } catch (e) {
    showError(where, `The request failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    where?.removeAttribute('aria-busy');
    for (const b of buttons) b.disabled = false;
  }
}

// Forms with data-post: the answer (a fragment, or an error fragment) replaces data-target.
document.addEventListener('submit', (ev) => {
  const form = ev.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.post) return;
  ev.preventDefault();
  const where = targetOf(form);
  const url = form.dataset.post;
  void busy(form, where, async () => {
    const res = await post(url, formBody(form), 'application/x-www-form-urlencoded');
    const text = await res.text();
    if (where) where.innerHTML = text;
  });
});

/** An answer that should be JSON; an error answer is an HTML fragment, shown where results go. */
async function json<T>(res: Response, where: HTMLElement | undefined): Promise<T | undefined> {
  if (res.ok) return (await res.json()) as T;
  if (where) where.innerHTML = await res.text();
  return undefined;
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
}

function setField(form: HTMLFormElement, name: string, value: string): void {
  const el = form.elements.namedItem(name);
  if (isField(el as Element | null)) (el as Field).value = value;
}

document.addEventListener('click', (ev) => {
  const button = ev.target instanceof Element ? ev.target.closest('button') : null;
  if (!button) return;

  // Fetch a document from a running enclave into the form, then submit it.
  const prefix = button.dataset.fetchDocument;
  if (prefix !== undefined) {
    const form = button.form;
    if (!form) return;
    const enclave = byId(`${prefix}-enclave`, HTMLSelectElement);
    const port = byId(`${prefix}-port`, HTMLInputElement);
    const nonce = byId(`${prefix}-nonce`, HTMLInputElement);
    const doc = byId(`${prefix}-document`, HTMLTextAreaElement);
    if (!enclave || !port || !nonce || !doc) return;
    if (nonce.value === '' && nonce.dataset.randomNonce === 'yes') nonce.value = randomHex(32);
    const where = targetOf(form);
    void busy(form, where, async () => {
      const body = new URLSearchParams({ enclave: enclave.value, port: port.value, nonce: nonce.value });
      const r = await json<{ document: string; nonce: string | null }>(await post('/api/documents/fetch', body, 'application/x-www-form-urlencoded'), where);
      if (!r) return;
      doc.value = r.document;
      // The inspector expects the nonce it sent.
      if (r.nonce !== null && form.elements.namedItem('nonce')) setField(form, 'nonce', r.nonce);
      form.requestSubmit();
    });
    return;
  }

  // Fill the expected PCRs from an example image or a running enclave.
  const sourceId = button.dataset.takePcrs;
  if (sourceId !== undefined) {
    const form = button.form;
    const source = byId(sourceId, HTMLSelectElement);
    if (!form || !source) return;
    const where = targetOf(form);
    void busy(form, where, async () => {
      const r = await json<Record<string, string>>(await post('/api/measurements', new URLSearchParams({ source: source.value }), 'application/x-www-form-urlencoded'), where);
      if (r) fillPcrs(form, r);
    });
    return;
  }

  // "Verify at the document's time": set a field of a form and submit it.
  const field = button.dataset.setField;
  if (field !== undefined) {
    const form = document.getElementById(button.dataset.submit ?? '');
    if (!(form instanceof HTMLFormElement)) return;
    setField(form, field, button.dataset.value ?? '');
    form.requestSubmit();
  }
});

function fillPcrs(form: HTMLFormElement, pcrs: Record<string, string>): void {
  for (const i of [0, 1, 2, 8]) setField(form, `pcr${i}`, pcrs[`PCR${i}`] ?? '');
}

/** A dropped or chosen document file as text: kept if it is text (base64 or hex), else base64 of its bytes. */
async function documentText(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const text = new TextDecoder('latin1').decode(bytes).trim();
  if (text.length > 0 && /^[A-Za-z0-9+/=_\s-]+$/.test(text)) return text;
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

document.addEventListener('change', (ev) => {
  const input = ev.target;
  if (!(input instanceof HTMLInputElement) || input.type !== 'file') return;
  const file = input.files?.[0];
  const form = input.form;
  if (!file || !form) return;
  const into = input.dataset.fileInto;
  if (into !== undefined) {
    const area = byId(into, HTMLTextAreaElement);
    if (area) void documentText(file).then((t) => (area.value = t));
    return;
  }
  if (input.dataset.imagePcrs !== undefined) {
    const where = targetOf(form);
    void busy(form, where, async () => {
      const r = await json<Record<string, string>>(await post('/api/measurements/image', await file.arrayBuffer(), 'application/octet-stream'), where);
      if (r) fillPcrs(form, r);
    });
  }
});

// Drop zones: a document file dropped on one goes into its textarea.
for (const zone of Array.from(document.querySelectorAll<HTMLElement>('[data-drop]'))) {
  const area = byId(zone.dataset.drop ?? '', HTMLTextAreaElement);
  if (!area) continue;
  zone.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('over');
    const file = ev.dataTransfer?.files[0];
    if (file) void documentText(file).then((t) => (area.value = t));
  });
}

/** What to restore after a live region is replaced: the focused control and the open <details>. */
function remember(el: HTMLElement): () => void {
  const active = document.activeElement;
  const label = active && el.contains(active) ? (active.id ? `#${CSS.escape(active.id)}` : active.getAttribute('aria-label') ? `[aria-label="${CSS.escape(active.getAttribute('aria-label') ?? '')}"]` : undefined) : undefined;
  const open = new Set(Array.from(el.querySelectorAll('details')).map((d) => `${d.closest('[data-enclave-id]')?.getAttribute('data-enclave-id') ?? ''}:${d.querySelector('summary')?.textContent ?? ''}:${d.open}`));
  return () => {
    for (const d of Array.from(el.querySelectorAll('details'))) {
      const key = `${d.closest('[data-enclave-id]')?.getAttribute('data-enclave-id') ?? ''}:${d.querySelector('summary')?.textContent ?? ''}`;
      if (open.has(`${key}:true`)) d.open = true;
      else if (open.has(`${key}:false`)) d.open = false;
    }
    if (label) el.querySelector<HTMLElement>(label)?.focus();
  };
}

// Live regions: [data-sse] follows an event stream; `html` replaces, `text` appends, `end` closes.
for (const el of Array.from(document.querySelectorAll<HTMLElement>('[data-sse]'))) {
  const source = new EventSource(el.dataset.sse ?? '');
  source.addEventListener('html', (ev) => {
    const restore = remember(el);
    el.innerHTML = (ev as MessageEvent<string>).data;
    restore();
  });
  source.addEventListener('text', (ev) => {
    el.append((ev as MessageEvent<string>).data);
    el.scrollTop = el.scrollHeight;
  });
  source.addEventListener('end', (ev) => {
    const note = document.createElement('span');
    note.className = 'end';
    note.textContent = `\n[${(ev as MessageEvent<string>).data}]\n`;
    el.append(note);
    el.dataset.ended = 'true';
    source.close();
  });
  window.addEventListener('pagehide', () => source.close());
}
