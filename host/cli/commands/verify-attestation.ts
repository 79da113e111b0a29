// `nitro-sandbox verify-attestation`: the verifier on the command line.
import { AttestationError, MAX_OPTIONAL_FIELD, awsNitroRoot, describeDocument, documentBytesFromFile, sandboxRootPath, verifyAttestation, type TrustAnchor } from '../../../attestation/index.ts';
import { UsageError, flagOpt, hexOpt, intOpt, json, listOpt, pcrListOpt, readOptionFile, requiredOpt, stringOpt, type Command } from '../command.ts';

/** A date, or a date and time (seconds and fraction optional) with an optional offset: 2025-04-01T14:00:00Z. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;

/** A document file holds raw COSE bytes or their base64 (as the vectors and `attest` print). */
export function readDocumentFile(path: string): Uint8Array {
  return documentBytesFromFile(new Uint8Array(readOptionFile('document', path)));
}

/** A verifier reads only the sandbox root certificate: it never creates a PKI nor opens the sealed CA keys. */
function anchors(roots: string[], dataDir: string | undefined): TrustAnchor[] {
  return (roots.length ? roots : ['aws']).map((r) =>
    r === 'aws' ? awsNitroRoot() : readOptionFile('root', r === 'sandbox' ? sandboxRootPath(dataDir) : r).toString('utf8'),
  );
}

export const verifyAttestationCommand: Command = {
  help: `Usage: nitro-sandbox verify-attestation --document FILE [--root aws|sandbox|PEM_FILE ...]
           [--data-dir DIR] [--at ISO_TIME] [--pcr N=HEX ...] [--nonce HEX] [--max-age SECONDS]
           [--allow-debug]

Verifies a Nitro attestation document as AWS describes it: CBOR/COSE syntax, the certificate chain
from the leaf to a trusted root (compared by DER), every certificate's validity at the verification
time, basicConstraints, pathLen and keyUsage, the ES384 signature; then the policy given here,
failing closed. Prints the document as JSON (PCRs in hex) and exits 0 when valid; otherwise prints
the error code and reason and exits 1.

Options:
  --document FILE     the document: raw COSE_Sign1 bytes or base64
  --root R            trust anchor: 'aws' (AWS Nitro Root-G1, built in; the default), 'sandbox'
                      (the sandbox root, DIR/pki/root.pem; read, never created), or a PEM
                      file; repeatable
  --data-dir DIR      where the sandbox PKI lives (default $NITRO_SANDBOX_HOME or ~/.nitro-sandbox)
  --at ISO_TIME       verify as of this time (default now), e.g. 2025-04-01T14:00:00Z
  --pcr N=HEX         require PCR N (0–31) to be present and equal; repeatable
  --nonce HEX         require this nonce
  --max-age SECONDS   refuse documents older than this
  --allow-debug       accept debug-mode documents (PCR0–2 all zero); refused by default
`,
  options: {
    document: { type: 'string' },
    root: { type: 'string', multiple: true },
    'data-dir': { type: 'string' },
    at: { type: 'string' },
    pcr: { type: 'string', multiple: true },
    nonce: { type: 'string' },
    'max-age': { type: 'string' },
    'allow-debug': { type: 'boolean' },
  },
  async run(args, io) {
    const bytes = readDocumentFile(requiredOpt(args, 'document'));
    const atText = stringOpt(args, 'at');
    // Date.parse alone also takes '2025' or 'March 7' (implementation-defined forms): ISO shape first.
    const at = atText === undefined ? Date.now() : ISO_TIME.test(atText) ? Date.parse(atText) : NaN;
    if (Number.isNaN(at)) throw new UsageError(`--at must be an ISO 8601 time, got '${atText}'`);
    const maxAge = intOpt(args, 'max-age', 0, 100 * 365 * 86400);
    const expectedPcrs = pcrListOpt(args, 'pcr', 31, [32, 48, 64]);
    const nonce = hexOpt(args, 'nonce', MAX_OPTIONAL_FIELD);
    const trustAnchors = anchors(listOpt(args, 'root'), stringOpt(args, 'data-dir'));
    try {
      const { document, debug } = verifyAttestation(bytes, {
        trustAnchors,
        at,
        expectedPcrs,
        ...(nonce ? { expectedNonce: nonce } : {}),
        ...(maxAge !== undefined ? { maxAgeMs: maxAge * 1000 } : {}),
        allowDebug: flagOpt(args, 'allow-debug'),
      });
      io.out(json({ valid: true, debug_mode: debug, document: describeDocument(document) }));
      return 0;
    } catch (e) {
      if (!(e instanceof AttestationError)) throw e;
      io.err(`${e.code}: ${e.message}${e.detail ? ` (${e.detail})` : ''}\n`);
      return 1;
    }
  },
};
