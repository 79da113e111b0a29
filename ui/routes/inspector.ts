// Routes of the document inspector: the page, an inspection, fetching a document from a running
// enclave, and measurements taken from an image (an example's, a running enclave's, or a file).
import type { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { nitroMeasurements, measureImage, MAX_IMAGE_SIZE, type Measurements } from '../../enclave/index.ts';
import type { UiContext } from '../context.ts';
import { UiInputError, UiNotFoundError, UiTooLargeError } from '../errors.ts';
import { Form } from '../form.ts';
import { documentFromText, inspectDocument, MAX_DOCUMENT_BYTES } from '../inspect.ts';
import { FORM_PCRS, imageSources, inspection, inspectorPage } from '../views/inspector.ts';

/** PCR lengths the verifier accepts (SHA-256/384/512 banks; AWS uses SHA-384). */
const PCR_LENGTHS = [32, 48, 64];
const INSPECT_FIELDS = ['document', 'anchor', 'at', 'nonce', 'maxAge', 'allowDebug', ...FORM_PCRS.map((i) => `pcr${i}`)];
/** The attestation API's largest nonce (nsm-api: 512 bytes). */
const MAX_NONCE = 512;

function pcrsOf(m: Measurements): Record<string, string> {
  const n = nitroMeasurements(m);
  return { PCR0: n.PCR0, PCR1: n.PCR1, PCR2: n.PCR2, ...(n.PCR8 ? { PCR8: n.PCR8 } : {}) };
}

export function inspectorRoutes(app: Hono, ctx: UiContext): void {
  const desk = ctx.enclaves;

  app.get('/inspector', (c) => {
    const list = desk.list();
    const id = c.req.query('enclave');
    const chosen = id === undefined ? undefined : list.find((e) => e.EnclaveID === id && e.State === 'RUNNING');
    if (id !== undefined && !chosen) throw new UiNotFoundError(`no running enclave with id ${id}`);
    const doc = chosen ? desk.exampleOf(chosen.EnclaveID)?.document : undefined;
    const source = { enclaves: list, ...(chosen ? { selected: { id: chosen.EnclaveID, port: doc?.port ?? 5006, nonce: doc?.nonce ?? true } } : {}) };
    const anchors = ctx.anchors.map((a) => ({ id: a.id, name: a.name, checked: true }));
    return c.html(ctx.page('/inspector', 'Document inspector', inspectorPage({ source, anchors, imageSources: imageSources(list) })));
  });

  app.post('/api/inspect', ctx.formLimit, async (c) => {
    const f = await Form.read(c, INSPECT_FIELDS);
    const bytes = documentFromText(f.required('document', 4 * MAX_DOCUMENT_BYTES));
    const chosen = f.all('anchor');
    const anchors = ctx.anchors.filter((a) => chosen.includes(a.id));
    const unknown = chosen.find((id) => !ctx.anchors.some((a) => a.id === id));
    if (unknown !== undefined) throw new UiInputError(`unknown trust anchor '${unknown.slice(0, 40)}'`);
    if (anchors.length === 0) throw new UiInputError('choose at least one trust anchor');
    const expectedPcrs = new Map<number, Uint8Array>();
    for (const i of FORM_PCRS) {
      const v = f.hex(`pcr${i}`, { lengths: PCR_LENGTHS });
      if (v) expectedPcrs.set(i, v);
    }
    const nonce = f.hex('nonce', { max: MAX_NONCE });
    const maxAge = f.int('maxAge', 0, 10 * 365 * 86_400);
    const r = inspectDocument(bytes, {
      anchors,
      at: f.time('at') ?? ctx.clock(),
      ...(expectedPcrs.size > 0 ? { expectedPcrs } : {}),
      ...(nonce ? { expectedNonce: nonce } : {}),
      ...(maxAge !== undefined ? { maxAgeMs: maxAge * 1000 } : {}),
      allowDebug: f.flag('allowDebug'),
    });
    return c.html(inspection(r));
  });

  app.post('/api/documents/fetch', ctx.formLimit, async (c) => {
    const f = await Form.read(c, ['enclave', 'port', 'nonce']);
    const port = f.int('port', 1, 0xffff_ffff);
    if (port === undefined) throw new UiInputError('port is required');
    const nonce = f.hex('nonce', { max: MAX_NONCE });
    const doc = await desk.fetchDocument(f.required('enclave', 64), port, nonce);
    return c.json({ document: Buffer.from(doc).toString('base64'), nonce: nonce ? Buffer.from(nonce).toString('hex') : null });
  });

  app.post('/api/measurements', ctx.formLimit, async (c) => {
    const f = await Form.read(c, ['source']);
    const source = f.required('source', 128);
    const [kind, ref = ''] = source.split(/:(.*)/s);
    if (kind === 'example') return c.json(pcrsOf(await desk.measurements(ref)));
    if (kind === 'enclave') {
      const e = desk.list().find((x) => x.EnclaveID === ref);
      if (!e) throw new UiNotFoundError(`no enclave with id ${ref}`);
      const m = e.Measurements;
      return c.json({ PCR0: m.PCR0, PCR1: m.PCR1, PCR2: m.PCR2, ...(m.PCR8 ? { PCR8: m.PCR8 } : {}) });
    }
    throw new UiInputError(`source must be example:NAME or enclave:ID, got '${source.slice(0, 40)}'`);
  });

  // An image file: its checksum and structure are checked before its sections are measured.
  app.post(
    '/api/measurements/image',
    bodyLimit({
      maxSize: MAX_IMAGE_SIZE,
      onError: () => {
        throw new UiTooLargeError(`an image is at most ${MAX_IMAGE_SIZE} bytes`);
      },
    }),
    async (c) => {
      if (c.req.header('content-type') !== 'application/octet-stream') throw new UiInputError('send the image as application/octet-stream');
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      return c.json(pcrsOf(measureImage(bytes)));
    },
  );
}
