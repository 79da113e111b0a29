// The inspector's analysis (ui/inspect.ts) on the real AWS documents of ../shared/vectors/nitro and
// on damaged copies: each step's verdict, the chain picture's facts, byte-level PCR differences, and
// that the first failing step is always the one the verifier itself reports (attestation/verify.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { awsNitroRoot, verifyAttestation } from '../../attestation/index.ts';
import { documentFromText, inspectDocument, MAX_DOCUMENT_BYTES, UiInputError, type Inspection, type StepId } from '../../ui/index.ts';
import { expected, vector, VECTORS } from '../attestation/fixtures.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const aws = [{ name: 'AWS Nitro Enclaves Root-G1', der: awsNitroRoot() }];
const signed = vector('signed-eif-2025-04-01.b64');
const debugDoc = vector('debug-2024-09-17.b64');
const facts = expected();
const SIGNED_AT = facts['signed-eif-2025-04-01.b64']!.timestamp_ms;
const DEBUG_AT = facts['debug-2024-09-17.b64']!.timestamp_ms;
const NOW = Date.parse('2026-12-03T12:00:00Z');

function verdicts(r: Inspection): Record<StepId, string> {
  return Object.fromEntries(r.steps.map((s) => [s.id, s.verdict])) as Record<StepId, string>;
}

function firstFailure(r: Inspection): string | undefined {
  return r.steps.find((s) => s.verdict === 'fail')?.code;
}

describe('inspector: real AWS documents (attestation_process.md §3)', () => {
  it('the signed-EIF document passes every step at its own time, its chain drawn root → regional → zonal → instance → leaf', () => {
    const r = inspectDocument(signed, { anchors: aws, at: SIGNED_AT });
    expect(r.verifier).toEqual({ ok: true });
    expect(verdicts(r)).toEqual({ syntax: 'pass', chain: 'pass', validity: 'pass', signature: 'pass', debug: 'pass', pcrs: 'skip', nonce: 'skip', age: 'skip' });
    expect(r.certificates.map((c) => c.role)).toEqual(['root', 'regional', 'zonal', 'instance', 'leaf']);
    expect(r.certificates.every((c) => c.validAt && c.signedByIssuer)).toBe(true);
    expect(r.certificates[0]?.anchor).toBe('AWS Nitro Enclaves Root-G1');
    expect(r.certificates[0]?.sha256).toBe(facts['signed-eif-2025-04-01.b64']!.root_der_sha256);
    expect(new Date(r.certificates[4]!.notAfter!).toISOString()).toBe('2025-04-01T16:16:08.000Z');
    expect(r.document?.moduleId).toBe(facts['signed-eif-2025-04-01.b64']!.module_id);
    expect(r.validAtItsTime).toBeUndefined();
  });

  it('verified now it fails the validity step alone (ERR_ATTESTATION_EXPIRED), and says it passes at its own time', () => {
    const r = inspectDocument(signed, { anchors: aws, at: NOW });
    expect(r.verifier).toMatchObject({ ok: false, code: 'ERR_ATTESTATION_EXPIRED' });
    expect(verdicts(r)).toMatchObject({ syntax: 'pass', chain: 'pass', validity: 'fail', signature: 'pass', debug: 'pass' });
    expect(r.steps.find((s) => s.id === 'validity')?.detail).toMatch(/leaf .* has expired \(valid until 2025-04-01T16:16:08\.000Z\)/);
    expect(r.validAtItsTime).toBe(true);
    // The root is valid for decades; the short-lived certificates are not.
    expect(r.certificates.map((c) => c.validAt)).toEqual([true, false, false, false, false]);
  });

  it('a debug-mode document fails the debug step unless allowed; its nonce is checked', () => {
    const nonce = Buffer.from(facts['debug-2024-09-17.b64']!.nonce_hex!, 'hex');
    const refused = inspectDocument(debugDoc, { anchors: aws, at: DEBUG_AT });
    expect(refused.verifier).toMatchObject({ ok: false, code: 'ERR_DEBUG_MODE_NOT_ALLOWED' });
    expect(firstFailure(refused)).toBe('ERR_DEBUG_MODE_NOT_ALLOWED');
    const allowed = inspectDocument(debugDoc, { anchors: aws, at: DEBUG_AT, allowDebug: true, expectedNonce: nonce });
    expect(allowed.verifier).toEqual({ ok: true });
    expect(verdicts(allowed)).toMatchObject({ debug: 'pass', nonce: 'pass' });
    const wrong = inspectDocument(debugDoc, { anchors: aws, at: DEBUG_AT, allowDebug: true, expectedNonce: new Uint8Array(20) });
    expect(verdicts(wrong).nonce).toBe('fail');
    expect(wrong.verifier).toMatchObject({ ok: false, code: 'ERR_NONCE_MISMATCH' });
  });

  it('a document whose signed bytes changed fails the signature step, chain and validity still pass', () => {
    const tampered = new Uint8Array(signed);
    // A byte inside PCR0's value: the payload still decodes, the signature no longer covers it.
    const at = Buffer.from(signed).indexOf(Buffer.from(facts['signed-eif-2025-04-01.b64']!.pcr0, 'hex'));
    expect(at).toBeGreaterThan(0);
    tampered[at + 5]! ^= 0x01;
    const r = inspectDocument(tampered, { anchors: aws, at: SIGNED_AT });
    expect(verdicts(r)).toMatchObject({ syntax: 'pass', chain: 'pass', validity: 'pass', signature: 'fail' });
    expect(r.verifier).toMatchObject({ ok: false, code: 'ERR_ATTESTATION_SIGNATURE' });
  });

  it('the hand-edited document fails at syntax and nothing else is judged', () => {
    const edited = new Uint8Array(Buffer.from(readFileSync(join(VECTORS, 'malformed-edited.b64'), 'utf8'), 'base64'));
    const r = inspectDocument(edited, { anchors: aws, at: SIGNED_AT });
    expect(r.steps[0]).toMatchObject({ id: 'syntax', verdict: 'fail', code: 'ERR_ATTESTATION_MALFORMED' });
    expect(r.steps.slice(1).every((s) => s.verdict === 'skip')).toBe(true);
    expect(r.verifier).toMatchObject({ ok: false, code: 'ERR_ATTESTATION_MALFORMED' });
  });

  it('against another root the chain step fails (untrusted root) and the signature is still judged with the leaf key', () => {
    const other = [{ name: 'some other root', der: new Uint8Array(awsNitroRoot().length).fill(1) }];
    const r = inspectDocument(signed, { anchors: other, at: SIGNED_AT });
    expect(verdicts(r)).toMatchObject({ chain: 'fail', validity: 'pass', signature: 'pass' });
    expect(r.verifier).toMatchObject({ ok: false, code: 'ERR_ATTESTATION_UNTRUSTED_ROOT' });
    expect(r.certificates[0]?.anchor).toBeUndefined();
  });

  it('expected PCRs: equal ones pass; a mismatch names exactly the differing bytes; a missing PCR fails', () => {
    const pcr0 = Buffer.from(facts['signed-eif-2025-04-01.b64']!.pcr0, 'hex');
    const ok = inspectDocument(signed, { anchors: aws, at: SIGNED_AT, expectedPcrs: new Map([[0, new Uint8Array(pcr0)]]) });
    expect(verdicts(ok).pcrs).toBe('pass');
    expect(ok.pcrs[0]?.differing).toEqual([]);
    const wrong = new Uint8Array(pcr0);
    wrong[3]! ^= 0xff;
    wrong[47]! ^= 0x10;
    const bad = inspectDocument(signed, { anchors: aws, at: SIGNED_AT, expectedPcrs: new Map([[0, wrong]]) });
    expect(bad.pcrs[0]?.differing).toEqual([3, 47]);
    expect(bad.steps.find((s) => s.id === 'pcrs')).toMatchObject({ verdict: 'fail', code: 'ERR_PCR_MISMATCH', detail: 'PCR0: 2 of 48 bytes differ' });
    expect(bad.verifier).toMatchObject({ ok: false, code: 'ERR_PCR_MISMATCH' });
    const missing = inspectDocument(signed, { anchors: aws, at: SIGNED_AT, expectedPcrs: new Map([[20, new Uint8Array(48)]]) });
    expect(missing.steps.find((s) => s.id === 'pcrs')).toMatchObject({ verdict: 'fail', detail: 'PCR20 is missing from the document' });
  });

  it('maximum age: a document older than allowed fails the age step', () => {
    const r = inspectDocument(signed, { anchors: aws, at: SIGNED_AT + 10 * 60_000, maxAgeMs: 60_000 });
    expect(r.steps.find((s) => s.id === 'age')).toMatchObject({ verdict: 'fail', code: 'ERR_ATTESTATION_TOO_OLD' });
    expect(r.verifier).toMatchObject({ ok: false, code: 'ERR_ATTESTATION_TOO_OLD' });
  });

  it("a certificate date changed so the certificates share no validity period: the chain is still judged, apart from time, and fails first as the verifier's does (found by the property below)", () => {
    const bytes = new Uint8Array(debugDoc);
    bytes[423558778 % bytes.length]! ^= 7; // a byte of the instance certificate's validity dates
    const r = inspectDocument(bytes, { anchors: aws, at: SIGNED_AT });
    expect(r.window !== undefined && r.window.notBefore > r.window.notAfter).toBe(true);
    expect(r.steps.find((s) => s.id === 'chain')).toMatchObject({ verdict: 'fail', code: 'ERR_ATTESTATION_CHAIN' });
    expect(r.verifier).toMatchObject({ ok: false, code: 'ERR_ATTESTATION_CHAIN' });
    expect(firstFailure(r)).toBe('ERR_ATTESTATION_CHAIN');
  });

  it('property: over damaged documents and times, the first failing step is the verifier’s own verdict', () => {
    const pcr0 = new Uint8Array(Buffer.from(facts['signed-eif-2025-04-01.b64']!.pcr0, 'hex'));
    fc.assert(
      fc.property(
        fc.constantFrom(signed, debugDoc),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 3 }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.constantFrom(SIGNED_AT, DEBUG_AT, NOW, Date.parse('2020-01-01T00:00:00Z')),
        fc.boolean(),
        fc.boolean(),
        (base, flips, cut, at, allowDebug, withPcr) => {
          let bytes = new Uint8Array(base);
          for (const [i, x] of flips) bytes[i % bytes.length]! ^= x;
          if (cut !== undefined) bytes = bytes.slice(0, cut % (bytes.length + 1));
          const options = { anchors: aws, at, allowDebug, ...(withPcr ? { expectedPcrs: new Map([[0, pcr0]]) } : {}) };
          const r = inspectDocument(bytes, options);
          let code: string | undefined;
          try {
            verifyAttestation(bytes, { trustAnchors: [awsNitroRoot()], at, allowDebug, ...(withPcr ? { expectedPcrs: { 0: pcr0 } } : {}) });
          } catch (e) {
            code = (e as { code: string }).code;
          }
          expect(r.verifier.ok ? undefined : (r.verifier as { code: string }).code).toBe(code);
          expect(firstFailure(r)).toBe(code);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('documentFromText', () => {
  it('reads base64, base64url with whitespace, and hex', () => {
    const b64 = Buffer.from(signed).toString('base64');
    const same = (text: string) => expect(Buffer.from(documentFromText(text)).equals(Buffer.from(signed))).toBe(true);
    same(b64);
    same(Buffer.from(signed).toString('base64url').replace(/(.{76})/g, '$1\n'));
    same(Buffer.from(signed).toString('hex'));
    same(Buffer.from(signed).toString('hex').toUpperCase());
  });

  it('refuses text that is none of them, and documents over the limit (ERR_UI_INPUT)', () => {
    expect(() => documentFromText('not a document!')).toThrow(UiInputError);
    expect(() => documentFromText('hE$%')).toThrow(expect.objectContaining({ code: 'ERR_UI_INPUT' }));
    expect(() => documentFromText('A'.repeat(4 * MAX_DOCUMENT_BYTES))).toThrow(/larger than/);
  });
});
