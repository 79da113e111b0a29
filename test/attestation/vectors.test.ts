// Real AWS Nitro documents (../shared/vectors/nitro): decoding, byte-exact re-encoding, and the
// verification procedure of aws-nitro-enclaves-nsm-api docs/attestation_process.md §3.
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AWS_NITRO_ROOT_G1_SHA256,
  awsNitroRoot,
  decodeDocument,
  derSha256,
  documentBytesFromFile,
  encodeCbor,
  encodePayload,
  signCoseSign1,
  toHex,
  verifyAttestation,
} from '../../attestation/index.ts';
import { expected, vector } from './fixtures.ts';

const VALID = ['signed-eif-2025-04-01.b64', 'debug-2024-09-17.b64'] as const;
const exp = expected();

function midLeaf(name: string): number {
  const e = exp[name]!;
  return (Date.parse(e.leaf_not_before) + Date.parse(e.leaf_not_after)) / 2;
}

describe('AWS Nitro Root-G1', () => {
  it('built-in root has the DER SHA-256 AWS publishes', () => {
    expect(derSha256(awsNitroRoot())).toBe(AWS_NITRO_ROOT_G1_SHA256);
    expect(derSha256(awsNitroRoot())).toBe('641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b');
  });
});

describe.each(VALID)('real document %s', (name) => {
  const bytes = vector(name);
  const e = exp[name]!;

  it('is an untagged COSE_Sign1 beginning 84 44 a1 01 38 22 a0 59 (reference/nitro.md)', () => {
    expect(toHex(bytes.slice(0, 8))).toBe('8444a1013822a059');
  });

  it('decodes to every field of expected.json', () => {
    const { document: d, cose } = decodeDocument(bytes);
    expect(cose.tagged).toBe(false);
    expect(d.moduleId).toBe(e.module_id);
    expect(d.digest).toBe('SHA384');
    expect(d.timestamp).toBe(e.timestamp_ms);
    expect(d.pcrs.size).toBe(16);
    for (const i of [0, 1, 2, 3, 4, 8] as const) expect(toHex(d.pcrs.get(i)!)).toBe(e[`pcr${i}`]);
    expect(d.publicKey === null ? null : toHex(d.publicKey)).toBe(e.public_key_hex);
    expect(d.userData === null ? null : toHex(d.userData)).toBe(e.user_data_hex);
    expect(d.nonce === null ? null : toHex(d.nonce)).toBe(e.nonce_hex);
    expect(d.cabundle.length).toBe(e.cabundle_len);
    expect(derSha256(d.cabundle[0]!)).toBe(e.root_der_sha256);
    const leaf = new X509Certificate(d.certificate);
    expect(leaf.validFromDate.toISOString().replace('.000', '')).toBe(e.leaf_not_before);
    expect(leaf.validToDate.toISOString().replace('.000', '')).toBe(e.leaf_not_after);
    expect(leaf.subject).toContain(e.module_id);
  });

  it('re-encodes byte for byte: our payload encoder writes what the NSM wrote', () => {
    const { document, cose } = decodeDocument(bytes);
    expect(toHex(encodePayload(document))).toBe(toHex(cose.payload));
    // And the COSE envelope: the same four items in the same layout.
    const rebuilt = encodeCbor([cose.protectedBytes, new Map(), cose.payload, cose.signature]);
    expect(toHex(rebuilt)).toBe(toHex(bytes));
  });

  it('verifies against the AWS root at a time inside its leaf validity', () => {
    const r = verifyAttestation(bytes, { trustAnchors: [awsNitroRoot()], at: midLeaf(name), allowDebug: true });
    expect(r.document.moduleId).toBe(e.module_id);
    expect(r.debug).toBe(e.pcr0 === '0'.repeat(96));
  });

  it('verifies with the policy the document satisfies (PCRs, nonce)', () => {
    const pcrs = { 0: e.pcr0, 1: e.pcr1, 2: e.pcr2, 3: e.pcr3, 4: e.pcr4, 8: e.pcr8 };
    const r = verifyAttestation(bytes, {
      trustAnchors: [awsNitroRoot()],
      at: midLeaf(name),
      allowDebug: true,
      expectedPcrs: pcrs,
      ...(e.nonce_hex ? { expectedNonce: new Uint8Array(Buffer.from(e.nonce_hex, 'hex')) } : {}),
    });
    expect(r.document.pcrs.size).toBe(16);
  });

  it('is rejected as expired at the present time (ERR_ATTESTATION_EXPIRED)', () => {
    expect(() => verifyAttestation(bytes, { trustAnchors: [awsNitroRoot()], allowDebug: true })).toThrow(
      expect.objectContaining({ code: 'ERR_ATTESTATION_EXPIRED' }),
    );
  });

  it('is rejected as not yet valid a second before its leaf (ERR_ATTESTATION_NOT_YET_VALID)', () => {
    const at = Date.parse(e.leaf_not_before) - 1000;
    expect(() => verifyAttestation(bytes, { trustAnchors: [awsNitroRoot()], at, allowDebug: true })).toThrow(
      expect.objectContaining({ code: 'ERR_ATTESTATION_NOT_YET_VALID' }),
    );
  });

  it('is rejected against another root (ERR_ATTESTATION_UNTRUSTED_ROOT)', () => {
    const { document } = decodeDocument(bytes);
    expect(() => verifyAttestation(bytes, { trustAnchors: [document.cabundle[1]!], at: midLeaf(name), allowDebug: true })).toThrow(
      expect.objectContaining({ code: 'ERR_ATTESTATION_UNTRUSTED_ROOT' }),
    );
  });

  it('accepts the tagged form (CBOR tag 18) too', () => {
    const tagged = new Uint8Array(bytes.length + 1);
    tagged[0] = 0xd2;
    tagged.set(bytes, 1);
    const { cose } = decodeDocument(tagged);
    expect(cose.tagged).toBe(true);
    expect(verifyAttestation(tagged, { trustAnchors: [awsNitroRoot()], at: midLeaf(name), allowDebug: true }).document.moduleId).toBe(e.module_id);
  });

  it('decodes an indefinite-length payload map (as some producers emit)', () => {
    const { cose } = decodeDocument(bytes);
    expect(cose.payload[0]).toBe(0xa9); // definite map(9)
    const indefinite = new Uint8Array(cose.payload.length + 1);
    indefinite[0] = 0xbf;
    indefinite.set(cose.payload.subarray(1), 1);
    indefinite[indefinite.length - 1] = 0xff;
    // Re-sign with a throwaway P-384 key: the decoder must read the same fields from it.
    const doc2 = decodeDocument(signCoseSign1(indefinite, generateP384())).document;
    const doc1 = decodeDocument(bytes).document;
    expect(doc2.moduleId).toBe(doc1.moduleId);
    expect([...doc2.pcrs.keys()]).toEqual([...doc1.pcrs.keys()]);
    expect(toHex(encodePayload(doc2))).toBe(toHex(cose.payload));
  });
});

function generateP384() {
  return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
}

describe('documentBytesFromFile', () => {
  it('reads raw bytes, base64 (with line breaks) and base64url to the same document', () => {
    const raw = vector('debug-2024-09-17.b64');
    const b64 = Buffer.from(raw).toString('base64').replace(/(.{76})/g, '$1\n');
    const url = Buffer.from(raw).toString('base64url');
    for (const form of [raw, new TextEncoder().encode(b64), new TextEncoder().encode(`${url}\n`)]) {
      expect(toHex(documentBytesFromFile(form))).toBe(toHex(raw));
    }
  });
  it('leaves anything that is not base64 text as it is (to be refused by the decoder)', () => {
    const junk = new TextEncoder().encode('not a document!');
    expect(documentBytesFromFile(junk)).toEqual(junk);
    expect(() => decodeDocument(documentBytesFromFile(junk))).toThrow(expect.objectContaining({ code: 'ERR_ATTESTATION_MALFORMED' }));
  });
});

describe('malformed-edited.b64', () => {
  const bytes = vector('malformed-edited.b64');
  it('is rejected with a decode error (ERR_ATTESTATION_MALFORMED), never a crash', () => {
    expect(() => decodeDocument(bytes)).toThrow(expect.objectContaining({ code: 'ERR_ATTESTATION_MALFORMED' }));
    expect(() => verifyAttestation(bytes, { trustAnchors: [awsNitroRoot()], at: Date.parse('2025-04-01T14:00:00Z'), allowDebug: true })).toThrow(
      expect.objectContaining({ code: 'ERR_ATTESTATION_MALFORMED' }),
    );
  });
});
