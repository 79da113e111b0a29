// Verifying a real AWS Nitro Enclaves attestation document, as a relying party would:
//
//   node examples/verify-aws-document/main.ts [FILE] [ISO_TIME]     (npm scripts: npm run example verify-aws-document)
//
// FILE defaults to the signed-EIF document from ../shared/vectors/nitro (base64 or raw). The chain
// is checked against the AWS Nitro Enclaves Root-G1 built into the verifier; the leaf lives three
// hours, so a recorded document verifies only at a time inside that window (ISO_TIME, by default
// the document's own timestamp) and is refused as expired now.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AttestationError, awsNitroRoot, decodeDocument, describeDocument, documentBytesFromFile, verifyAttestation } from '../../attestation/index.ts';

export function readDocument(path: string): Uint8Array {
  return documentBytesFromFile(new Uint8Array(readFileSync(path)));
}

export function verifyAwsDocument(bytes: Uint8Array, at?: number): { valid: boolean; now: string; document?: Record<string, unknown> } {
  const when = at ?? decodeDocument(bytes).document.timestamp;
  const { document, debug } = verifyAttestation(bytes, { trustAnchors: [awsNitroRoot()], at: when, allowDebug: true });
  let now = 'accepted';
  try {
    verifyAttestation(bytes, { trustAnchors: [awsNitroRoot()], allowDebug: true });
  } catch (e) {
    if (!(e instanceof AttestationError)) throw e;
    now = e.code;
  }
  return { valid: true, now, document: { ...describeDocument(document), debug_mode: debug } };
}

if (import.meta.main) {
  const file = process.argv[2] ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'vectors', 'nitro', 'signed-eif-2025-04-01.b64');
  const at = process.argv[3] === undefined ? undefined : Date.parse(process.argv[3]);
  try {
    const r = verifyAwsDocument(readDocument(file), at);
    const d = r.document as { module_id: string; timestamp_iso: string; pcrs: Record<string, string>; cabundle: unknown[] };
    console.log(`valid AWS Nitro document from ${d.module_id}, signed ${d.timestamp_iso}`);
    console.log(`chain: leaf + ${d.cabundle.length} certificates to AWS Nitro Enclaves Root-G1`);
    for (const i of ['0', '1', '2', '8']) console.log(`PCR${i} ${d.pcrs[i]}`);
    console.log(`verified now instead: ${r.now} (the leaf certificate lives three hours)`);
  } catch (e) {
    if (!(e instanceof AttestationError)) throw e;
    console.error(`${e.code}: ${e.message}${e.detail ? ` (${e.detail})` : ''}`);
    process.exitCode = 1;
  }
}
