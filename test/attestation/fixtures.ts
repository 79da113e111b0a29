// Test fixtures: real vectors from ../shared/vectors/nitro (used in place), and certificate chains
// with chosen defects built with @peculiar/x509 independently of the PKI under test.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { generateKeyPairSync, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDocument, measure, signDocument } from '../../attestation/index.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/** @peculiar/x509 with its polyfill and provider set up, for tests that need its classes and enums. */
export { x509 };

export const VECTORS = join(import.meta.dirname, '..', '..', '..', 'shared', 'vectors', 'nitro');

export function vector(name: string): Uint8Array {
  return new Uint8Array(Buffer.from(readFileSync(join(VECTORS, name), 'utf8'), 'base64'));
}

export interface ExpectedVector {
  module_id: string;
  timestamp_ms: number;
  leaf_not_before: string;
  leaf_not_after: string;
  pcr0: string;
  pcr1: string;
  pcr2: string;
  pcr3: string;
  pcr4: string;
  pcr8: string;
  public_key_hex: string | null;
  user_data_hex: string | null;
  nonce_hex: string | null;
  cabundle_len: number;
  root_der_sha256: string;
}

export function expected(): Record<string, ExpectedVector> {
  return JSON.parse(readFileSync(join(VECTORS, 'expected.json'), 'utf8')) as Record<string, ExpectedVector>;
}

export function tempDir(prefix = 'ns-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

const ALG = { name: 'ECDSA', namedCurve: 'P-384' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-384' } as const;

export interface CertSpec {
  subject: string;
  ca: boolean;
  pathLen?: number;
  keyUsage?: number | null; // null: no keyUsage extension
  basicConstraints?: boolean; // false: omit the extension
  notBefore?: number;
  notAfter?: number;
  curve?: 'P-384' | 'P-256';
  hash?: 'SHA-384' | 'SHA-256';
  extraCritical?: boolean;
}

export interface BuiltCert {
  der: Uint8Array;
  key: { privateKey: KeyObject; publicKey: KeyObject };
  subject: string;
}

const HOUR = 3600_000;

export async function buildCert(spec: CertSpec, issuer: BuiltCert | null): Promise<BuiltCert> {
  const key = generateKeyPairSync('ec', { namedCurve: spec.curve ?? 'P-384' });
  const pubAlg = { name: 'ECDSA', namedCurve: spec.curve ?? 'P-384' };
  const signer = issuer ? issuer.key.privateKey : key.privateKey;
  const signerCurve = issuer ? (issuer.key.privateKey.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'P-256' : 'P-384') : (spec.curve ?? 'P-384');
  const now = Date.now();
  const extensions: x509.Extension[] = [];
  if (spec.basicConstraints !== false) extensions.push(new x509.BasicConstraintsExtension(spec.ca, spec.pathLen, true));
  const ku = spec.keyUsage === undefined
    ? spec.ca
      ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature
      : x509.KeyUsageFlags.digitalSignature
    : spec.keyUsage;
  if (ku !== null) extensions.push(new x509.KeyUsagesExtension(ku, true));
  if (spec.extraCritical) extensions.push(new x509.Extension('1.3.6.1.4.1.99999.1', true, new Uint8Array([0x05, 0x00])));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8).toString('hex').replace(/^[89a-f]/, '1'),
    subject: spec.subject,
    issuer: issuer?.subject ?? spec.subject,
    notBefore: new Date(Math.floor((spec.notBefore ?? now - HOUR) / 1000) * 1000),
    notAfter: new Date(Math.floor((spec.notAfter ?? now + 3 * HOUR) / 1000) * 1000),
    signingAlgorithm: { ...SIGN, hash: spec.hash ?? 'SHA-384' },
    publicKey: key.publicKey.toCryptoKey(pubAlg, true, ['verify']),
    signingKey: signer.toCryptoKey({ ...ALG, namedCurve: signerCurve }, false, ['sign']),
    extensions,
  });
  return { der: new Uint8Array(cert.rawData), key, subject: spec.subject };
}

/** root → regional → zonal → instance → leaf, each overridable. */
export async function buildChain(over: Partial<Record<'root' | 'regional' | 'zonal' | 'instance' | 'leaf', Partial<CertSpec>>> = {}): Promise<{
  root: BuiltCert;
  cabundle: Uint8Array[];
  leaf: BuiltCert;
}> {
  const root = await buildCert({ subject: 'CN=test-root', ca: true, ...over.root }, null);
  const regional = await buildCert({ subject: 'CN=test-regional', ca: true, pathLen: 2, ...over.regional }, root);
  const zonal = await buildCert({ subject: 'CN=test-zonal', ca: true, pathLen: 1, ...over.zonal }, regional);
  const instance = await buildCert({ subject: 'CN=test-instance', ca: true, pathLen: 0, ...over.instance }, zonal);
  const leaf = await buildCert({ subject: 'CN=i-0000000000000000-enc0000000000000000.test', ca: false, ...over.leaf }, instance);
  return { root, cabundle: [root.der, regional.der, zonal.der, instance.der], leaf };
}

export const PCRS = new Map<number, Uint8Array>(Array.from({ length: 16 }, (_, i) => [i, i < 3 ? measure(new Uint8Array([i + 1])) : new Uint8Array(48)]));

/** A document signed with a chain built by `buildChain`. */
export function docWithChain(
  chain: { cabundle: Uint8Array[]; leaf: BuiltCert },
  fields: { pcrs?: Map<number, Uint8Array>; nonce?: Uint8Array | null; timestamp?: number } = {},
): Uint8Array {
  const doc = makeDocument({
    moduleId: 'i-0000000000000000-enc0000000000000000',
    timestamp: fields.timestamp ?? Date.now(),
    pcrs: fields.pcrs ?? PCRS,
    certificate: chain.leaf.der,
    cabundle: chain.cabundle,
    nonce: fields.nonce ?? null,
  });
  // A leaf that cannot sign ES384 (wrong curve) still needs *some* P-384 signature: the verifier
  // must refuse the chain before the signature matters.
  const p384 = chain.leaf.key.privateKey.asymmetricKeyDetails?.namedCurve === 'secp384r1';
  return signDocument(doc, p384 ? chain.leaf.key.privateKey : generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey);
}

export function pem(der: Uint8Array): string {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}
