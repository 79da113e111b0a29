// Attestation benchmarks (issue: attestation core). Both compare against bare node:crypto in the
// same run: issuing a document should cost little more than its one P-384 signature, verifying a
// document whose chain is cached little more than its one P-384 verification.
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttestationAuthority, ChainCache, measure, verifyAttestation } from '../attestation/index.ts';
import { interleaved, interleavedAsync, rate, rateSync, result, type Benchmark } from './harness.ts';

const PCRS = new Map(Array.from({ length: 16 }, (_, i) => [i, measure(new Uint8Array([i]))] as const));

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'ns-bench-'));
  const authority = await AttestationAuthority.open({ dataDir: dir });
  const device = await authority.createDevice({ moduleId: 'i-0123456789abcdef-enc0123456789abcdef', measurements: PCRS });
  return { dir, authority, device };
}

export const benchmarks: Benchmark[] = [
  {
    name: 'issue attestation document vs bare ECDSA P-384 sign',
    async run() {
      const { dir, device } = await setup();
      try {
        const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
        // The bare baseline signs a message of the size a document's Sig_structure has.
        const doc = await device.attestation({ nonce: new Uint8Array(32) });
        const message = new Uint8Array(doc.length);
        const nonce = new Uint8Array(32);
        const { figure: f, baseline: b } = await interleavedAsync(
          () => rate(() => device.attestation({ nonce }), 1000),
          () => rate(() => sign('sha384', message, { key: privateKey, dsaEncoding: 'ieee-p1363' }), 1000),
        );
        return result(
          'attestation: issue document (NSM Attestation request)',
          { rate: f, unit: 'documents/s' },
          { rate: b, unit: 'signs/s', name: `node:crypto P-384 sign of ${message.length} bytes` },
          0.8,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'verify attestation document (cached chain) vs bare ECDSA P-384 verify',
    async run() {
      const { dir, authority, device } = await setup();
      try {
        const doc = await device.attestation({ nonce: new Uint8Array(32) });
        const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
        const message = new Uint8Array(doc.length);
        const sig = sign('sha384', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        const cache = new ChainCache();
        const options = { trustAnchors: [authority.rootCertificate], chainCache: cache, expectedPcrs: PCRS, expectedNonce: new Uint8Array(32), maxAgeMs: 3600_000 };
        verifyAttestation(doc, options);
        const r = interleaved(
          () => rateSync(() => verifyAttestation(doc, options), 1000),
          () => rateSync(() => verify('sha384', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig), 1000),
        );
        return result(
          'attestation: verify document, chain cached (PCRs, nonce, age checked)',
          { rate: r.figure, unit: 'documents/s' },
          { rate: r.baseline, unit: 'verifies/s', name: `node:crypto P-384 verify of ${message.length} bytes` },
          0.8,
          `chain cache hits ${cache.hits}, misses ${cache.misses}`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];
