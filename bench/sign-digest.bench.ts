// Sign with MessageType DIGEST: ECDSA over a caller's digest on @noble/curves (node:crypto always
// hashes what it signs), against node:crypto's RAW ECDSA signature on the same curve and key in the
// same run. Issue 14 moved DIGEST from hand-written BigInt arithmetic to @noble/curves. OpenSSL has
// assembly for P-256 and none for P-384, so the targets differ: on P-256 a DIGEST signature may cost
// up to 25 RAW ones (measured about 15: 0.4 ms, below the cost of the KMS request around it; the
// BigInt code it replaced was about 75), on P-384 up to 2.5 (measured about 1).
import { createHash, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { signDigest } from '../kms-proxy/signing.ts';
import { interleaved, rateSync, result, type Benchmark } from './harness.ts';

function bench(curve: 'prime256v1' | 'secp384r1', hash: 'sha256' | 'sha384', target: number): Benchmark {
  return {
    name: `kms: Sign DIGEST (ECDSA ${curve}, @noble/curves) vs node:crypto RAW sign`,
    async run() {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const message = Buffer.from('a message of some length, signed over and over');
      const digest = createHash(hash).update(message).digest();
      const r = interleaved(
        () => rateSync(() => signDigest(curve, privateKey, digest), 1000),
        () => rateSync(() => nodeSign(hash, message, { key: privateKey, dsaEncoding: 'der' }), 1000),
      );
      return result(`kms: Sign DIGEST (ECDSA ${curve}, @noble/curves) vs node:crypto RAW sign`, { rate: r.figure, unit: 'signatures/s' }, { name: 'node:crypto sign', rate: r.baseline, unit: 'signatures/s' }, target);
    },
  };
}

export const benchmarks: Benchmark[] = [bench('prime256v1', 'sha256', 0.04), bench('secp384r1', 'sha384', 0.4)];
