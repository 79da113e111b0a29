// Fixtures for attested requests: sandbox authorities (the trusted one and a stranger), NSM devices
// with chosen measurements, documents carrying an RSA key, and key policies pinning PCRs.
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttestationAuthority, toHex, type NsmDevice } from '../../attestation/index.ts';

export interface Authority {
  readonly authority: AttestationAuthority;
  readonly dir: string;
  cleanup(): void;
}

export async function openAuthority(clock?: () => number): Promise<Authority> {
  const dir = mkdtempSync(join(tmpdir(), 'recipient-pki-'));
  const authority = await AttestationAuthority.open({ dataDir: dir, ...(clock ? { clock } : {}) });
  return { authority, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function pcrs(seed: string): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  for (let i = 0; i < 16; i++) m.set(i, new Uint8Array(48));
  for (const i of [0, 1, 2]) m.set(i, new Uint8Array(Buffer.from(`${seed}:${i}`.padEnd(48, '.').slice(0, 48))));
  return m;
}

export async function device(a: AttestationAuthority, seed: string, debug = false, moduleId = `i-0123456789abcdef0-enc${seed.padEnd(16, '0').slice(0, 16)}`): Promise<NsmDevice> {
  return a.createDevice({ moduleId, measurements: pcrs(seed), debug });
}

export const rsa: { privateKey: KeyObject; publicKey: KeyObject; spki: Uint8Array } = (() => {
  const k = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...k, spki: new Uint8Array(k.publicKey.export({ type: 'spki', format: 'der' })) };
})();

export function hexPcr(seed: string, i: number): string {
  return toHex(pcrs(seed).get(i) as Uint8Array);
}

/** A key policy: admin for the account root (not Decrypt) plus `allow` statements. */
export function policy(account: string, ...statements: object[]): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'Admin',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: ['kms:Create*', 'kms:Describe*', 'kms:Enable*', 'kms:List*', 'kms:Put*', 'kms:Update*', 'kms:Revoke*', 'kms:Disable*', 'kms:Get*', 'kms:Delete*', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion', 'kms:Encrypt', 'kms:TagResource'],
        Resource: '*',
      },
      ...statements,
    ],
  });
}

export function allowForPcrs(account: string, action: string | string[], values: Record<string, string>, sid = 'EnclaveOnly'): object {
  return {
    Sid: sid,
    Effect: 'Allow',
    Principal: { AWS: `arn:aws:iam::${account}:root` },
    Action: action,
    Resource: '*',
    Condition: { StringEqualsIgnoreCase: values },
  };
}

/** The hardening AWS recommends: deny any use without an attestation document. */
export function denyWithoutAttestation(account: string, action: string | string[]): object {
  return {
    Sid: 'DenyWithoutAttestation',
    Effect: 'Deny',
    Principal: { AWS: `arn:aws:iam::${account}:root` },
    Action: action,
    Resource: '*',
    Condition: { Null: { 'kms:RecipientAttestation:ImageSha384': 'true' } },
  };
}

export function random(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}
