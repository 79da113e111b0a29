// Routes of the KMS view: the page (keys, one key's policy, grants and rotations), explain, the
// audit trail (live) and its verification.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Hono } from 'hono';
import type { UiContext } from '../context.ts';
import { UiInputError } from '../errors.ts';
import { Form } from '../form.ts';
import { every, liveFragment } from '../sse.ts';
import { documentFromText, MAX_DOCUMENT_BYTES } from '../inspect.ts';
import { explanation } from '../views/parts.ts';
import { auditTrail, auditVerdict, kmsPage } from '../views/kms.ts';

/** Audit records the page shows (the newest). */
const AUDIT_ROWS = 30;
const MAX_CONTEXT_PAIRS = 64;

function encryptionContext(text: string | undefined): Record<string, string> | undefined {
  if (text === undefined) return undefined;
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length > MAX_CONTEXT_PAIRS) throw new UiInputError(`encryptionContext has more than ${MAX_CONTEXT_PAIRS} pairs`);
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq <= 0) throw new UiInputError(`encryptionContext lines must be key=value, got '${line.slice(0, 40)}'`);
    const k = line.slice(0, eq).trim();
    if (Object.hasOwn(out, k)) throw new UiInputError(`encryptionContext key '${k.slice(0, 40)}' given twice`);
    out[k] = line.slice(eq + 1).trim();
  }
  return out;
}

export function kmsRoutes(app: Hono, ctx: UiContext): void {
  const desk = ctx.kms;
  const renderAudit = async (): Promise<string> => (await auditTrail(desk.audit(AUDIT_ROWS))).toString();

  app.get('/kms', async (c) => {
    const keyId = c.req.query('key');
    const [keys, selected] = await Promise.all([desk.keys(), keyId === undefined ? undefined : desk.key(keyId)]);
    const body = kmsPage({
      endpoint: ctx.kmsEndpoint,
      account: desk.service.account,
      keys,
      ...(selected ? { selected } : {}),
      source: { enclaves: ctx.enclaves.list() },
      audit: auditTrail(desk.audit(AUDIT_ROWS)),
    });
    return c.html(ctx.page('/kms', 'KMS', body));
  });

  app.post('/api/kms/explain', ctx.formLimit, async (c) => {
    const f = await Form.read(c, ['keyId', 'action', 'principal', 'encryptionContext', 'document']);
    const doc = f.text('document', 4 * MAX_DOCUMENT_BYTES);
    const principal = f.text('principal', 2048);
    const ec = encryptionContext(f.text('encryptionContext', 8192));
    const e = await desk.explain({
      keyId: f.required('keyId', 2048),
      action: f.required('action', 128),
      ...(principal !== undefined ? { principal } : {}),
      ...(doc !== undefined ? { attestation: documentFromText(doc) } : {}),
      ...(ec !== undefined ? { encryptionContext: ec } : {}),
    });
    return c.html(explanation(e));
  });

  app.post('/api/kms/audit/verify', ctx.formLimit, async (c) => {
    await Form.read(c, []);
    return c.html(auditVerdict(desk.verifyAudit()));
  });

  // The trail is re-read only when the log changed (size or time), checked on every poll.
  const log = join(desk.dataDir, 'audit.log');
  let cached = { key: '', text: '' };
  const changedAudit = async (): Promise<string> => {
    let key = 'none';
    try {
      const st = statSync(log);
      key = `${st.size}:${st.mtimeMs}`;
    } catch {
      // no log yet
    }
    if (key !== cached.key) cached = { key, text: await renderAudit() };
    return cached.text;
  };
  app.get('/events/audit', (c) => liveFragment(c, ctx.streams, changedAudit, every(ctx.pollMs)));
}
