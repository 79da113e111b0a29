// A JSON view of a decoded document for people and logs: AWS's field names, PCRs and byte fields
// in hex, certificates summarised (subject, issuer, validity) with their DER in base64.
import { X509Certificate } from 'node:crypto';
import { toHex } from './bytes.ts';
import type { AttestationDocument } from './document.ts';

export interface CertificateSummary {
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly der: string;
}

function summarise(der: Uint8Array): CertificateSummary {
  const base64 = Buffer.from(der).toString('base64');
  try {
    const c = new X509Certificate(der);
    return {
      subject: c.subject.replace(/\n/g, ', '),
      issuer: c.issuer.replace(/\n/g, ', '),
      notBefore: c.validFromDate.toISOString(),
      notAfter: c.validToDate.toISOString(),
      der: base64,
    };
  } catch {
    return { subject: '(unparseable)', issuer: '(unparseable)', notBefore: '', notAfter: '', der: base64 };
  }
}

export function describeDocument(doc: AttestationDocument): Record<string, unknown> {
  return {
    module_id: doc.moduleId,
    digest: doc.digest,
    timestamp: doc.timestamp,
    timestamp_iso: new Date(doc.timestamp).toISOString(),
    pcrs: Object.fromEntries([...doc.pcrs].map(([i, v]) => [String(i), toHex(v)])),
    certificate: summarise(doc.certificate),
    cabundle: doc.cabundle.map(summarise),
    public_key: doc.publicKey && toHex(doc.publicKey),
    user_data: doc.userData && toHex(doc.userData),
    nonce: doc.nonce && toHex(doc.nonce),
  };
}
