// Symmetric cryptography through @aws-sdk/client-kms: Encrypt, Decrypt, ReEncrypt, GenerateDataKey,
// GenerateDataKeyWithoutPlaintext, GenerateRandom, and rotation (KMS API Reference).
import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, DisableKeyRotationCommand, EnableKeyRotationCommand, EncryptCommand,
  GenerateDataKeyCommand, GenerateDataKeyWithoutPlaintextCommand, GenerateRandomCommand, GetKeyRotationStatusCommand,
  ListKeyRotationsCommand, ReEncryptCommand, RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { encodeContext } from '../../kms-proxy/index.ts';
import { failure, startFixture, type Fixture } from './helpers.ts';

let f: Fixture;
let now = Date.UTC(2026, 5, 1);
const DAY = 86_400_000;

beforeAll(async () => {
  f = await startFixture({ clock: () => now });
});
afterAll(async () => f.stop());

async function newKey(input: ConstructorParameters<typeof CreateKeyCommand>[0] = {}) {
  const m = (await f.kms.send(new CreateKeyCommand(input))).KeyMetadata;
  if (!m?.KeyId || !m.Arn) throw new Error('no metadata');
  return { KeyId: m.KeyId, Arn: m.Arn };
}

const text = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('utf8');

describe('Encrypt / Decrypt', () => {
  test('round trip with an encryption context; Decrypt needs no KeyId and returns the key ARN', async () => {
    const k = await newKey();
    const ctx = { purpose: 'test', 'aws-crypto-public-key': 'AkJ+' };
    const e = await f.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('hello'), EncryptionContext: ctx }));
    expect(e.KeyId).toBe(k.Arn);
    expect(e.EncryptionAlgorithm).toBe('SYMMETRIC_DEFAULT');
    const d = await f.kms.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob, EncryptionContext: { 'aws-crypto-public-key': 'AkJ+', purpose: 'test' } }));
    expect(text(d.Plaintext)).toBe('hello');
    expect(d.KeyId).toBe(k.Arn);
    const viaArn = await f.kms.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob, EncryptionContext: ctx, KeyId: k.Arn }));
    expect(text(viaArn.Plaintext)).toBe('hello');
  });

  test('a wrong, missing or extra context entry → InvalidCiphertextException with an empty message', async () => {
    const k = await newKey();
    const e = await f.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x'), EncryptionContext: { a: 'bc' } }));
    const wrong: Record<string, string>[] = [{ a: 'bd' }, {}, { a: 'bc', z: '1' }, { ab: 'c' }, { A: 'bc' }];
    for (const EncryptionContext of wrong) {
      const err = await failure(() => f.kms.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob, EncryptionContext })));
      expect(err.name).toBe('InvalidCiphertextException');
      // AWS sends an empty message; the SDK reports an empty message as 'UnknownError'.
      expect(err.message).toBe('UnknownError');
    }
  });

  test('a KeyId that does not match the blob → IncorrectKeyException', async () => {
    const a = await newKey();
    const b = await newKey();
    const e = await f.kms.send(new EncryptCommand({ KeyId: a.KeyId, Plaintext: Buffer.from('x') }));
    const err = await failure(() => f.kms.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob, KeyId: b.KeyId })));
    expect(err.name).toBe('IncorrectKeyException');
    expect(err.message).toBe('The key ID in the request does not identify a CMK that can perform this operation.');
  });

  test('tampered or foreign ciphertext → InvalidCiphertextException', async () => {
    const k = await newKey();
    const e = await f.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('secret') }));
    const blob = Buffer.from(e.CiphertextBlob ?? []);
    for (const i of [blob.length - 1, blob.length - 20, 50]) {
      const t = Buffer.from(blob);
      t[i] = (t[i] ?? 0) ^ 1;
      expect((await failure(() => f.kms.send(new DecryptCommand({ CiphertextBlob: t })))).name).toBe('InvalidCiphertextException');
    }
    expect((await failure(() => f.kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from('definitely not a blob') })))).name).toBe('InvalidCiphertextException');
  });

  test('plaintext limits: 4096 bytes accepted, 4097 → ValidationException; empty → ValidationException', async () => {
    const k = await newKey();
    await f.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: new Uint8Array(4096) }));
    const big = await failure(() => f.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: new Uint8Array(4097) })));
    expect(big.name).toBe('ValidationException');
    expect(big.message).toBe("1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096");
    expect((await failure(() => f.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: new Uint8Array(0) })))).name).toBe('ValidationException');
  });

  test('11 grant tokens → ValidationException; a malformed one → InvalidGrantTokenException; DryRun → DryRunOperationException; wrong algorithm → InvalidKeyUsageException', async () => {
    const k = await newKey();
    const many = await failure(() => f.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x'), GrantTokens: Array.from({ length: 11 }, () => 'A'.repeat(64)) })));
    expect(many.name).toBe('ValidationException');
    expect(many.message).toMatch(/at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10$/);
    expect((await failure(() => f.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x'), GrantTokens: ['not-a-token'] })))).name).toBe('InvalidGrantTokenException');
    expect((await failure(() => f.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x'), DryRun: true })))).name).toBe('DryRunOperationException');
    expect((await failure(() => f.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('x'), EncryptionAlgorithm: 'RSAES_OAEP_SHA_256' })))).name).toBe('InvalidKeyUsageException');
    const sign = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    expect((await failure(() => f.kms.send(new EncryptCommand({ KeyId: sign.KeyId, Plaintext: Buffer.from('x') })))).name).toBe('InvalidKeyUsageException');
  });
});

describe('GenerateDataKey / GenerateDataKeyWithoutPlaintext / GenerateRandom', () => {
  test('NumberOfBytes or KeySpec, and the blob decrypts to the returned plaintext', async () => {
    const k = await newKey();
    await f.kms.send(new CreateAliasCommand({ AliasName: 'alias/gdk', TargetKeyId: k.KeyId }));
    const a = await f.kms.send(new GenerateDataKeyCommand({ KeyId: 'alias/gdk', NumberOfBytes: 32, EncryptionContext: { c: '1' } }));
    expect(a.Plaintext).toHaveLength(32);
    expect(a.KeyId).toBe(k.Arn);
    const d = await f.kms.send(new DecryptCommand({ CiphertextBlob: a.CiphertextBlob, EncryptionContext: { c: '1' } }));
    expect(Buffer.from(d.Plaintext ?? []).equals(Buffer.from(a.Plaintext ?? []))).toBe(true);
    expect((await f.kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, KeySpec: 'AES_128' }))).Plaintext).toHaveLength(16);
    expect((await f.kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, KeySpec: 'AES_256' }))).Plaintext).toHaveLength(32);
    const w = await f.kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: k.KeyId, NumberOfBytes: 64 }));
    expect(w).not.toHaveProperty('Plaintext');
    expect((await f.kms.send(new DecryptCommand({ CiphertextBlob: w.CiphertextBlob }))).Plaintext).toHaveLength(64);
  });

  test('KeySpec xor NumberOfBytes, 1–1024 bytes (AWS messages)', async () => {
    const k = await newKey();
    const both = await failure(() => f.kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, KeySpec: 'AES_256', NumberOfBytes: 32 })));
    expect([both.name, both.message]).toEqual(['ValidationException', 'Please specify either number of bytes or key spec.']);
    const neither = await failure(() => f.kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId })));
    expect([neither.name, neither.message]).toEqual(['ValidationException', 'Please specify either number of bytes or key spec.']);
    const big = await failure(() => f.kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, NumberOfBytes: 1025 })));
    expect(big.message).toBe("1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024");
    const spec = await failure(() => f.kms.send(new GenerateDataKeyCommand({ KeyId: k.KeyId, KeySpec: 'AES_512' as never })));
    expect(spec.message).toBe("1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]");
  });

  test('GenerateRandom returns NumberOfBytes fresh bytes; 0 and 1025 are refused', async () => {
    const a = await f.kms.send(new GenerateRandomCommand({ NumberOfBytes: 1024 }));
    const b = await f.kms.send(new GenerateRandomCommand({ NumberOfBytes: 1024 }));
    expect(a.Plaintext).toHaveLength(1024);
    expect(Buffer.from(a.Plaintext ?? []).equals(Buffer.from(b.Plaintext ?? []))).toBe(false);
    expect((await failure(() => f.kms.send(new GenerateRandomCommand({ NumberOfBytes: 0 })))).name).toBe('ValidationException');
    expect((await failure(() => f.kms.send(new GenerateRandomCommand({ NumberOfBytes: 1025 })))).name).toBe('ValidationException');
  });
});

describe('ReEncrypt', () => {
  test('moves ciphertext to another key and context without exposing plaintext', async () => {
    const a = await newKey();
    const b = await newKey();
    const e = await f.kms.send(new EncryptCommand({ KeyId: a.KeyId, Plaintext: Buffer.from('move me'), EncryptionContext: { v: '1' } }));
    const r = await f.kms.send(new ReEncryptCommand({ CiphertextBlob: e.CiphertextBlob, SourceEncryptionContext: { v: '1' }, DestinationKeyId: b.KeyId, DestinationEncryptionContext: { v: '2' } }));
    expect(r).toMatchObject({ SourceKeyId: a.Arn, KeyId: b.Arn, SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT', DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
    expect(r).not.toHaveProperty('Plaintext');
    const d = await f.kms.send(new DecryptCommand({ CiphertextBlob: r.CiphertextBlob, EncryptionContext: { v: '2' } }));
    expect([text(d.Plaintext), d.KeyId]).toEqual(['move me', b.Arn]);
    expect((await failure(() => f.kms.send(new ReEncryptCommand({ CiphertextBlob: e.CiphertextBlob, DestinationKeyId: b.KeyId })))).name).toBe('InvalidCiphertextException');
    expect((await failure(() => f.kms.send(new ReEncryptCommand({ CiphertextBlob: e.CiphertextBlob, SourceEncryptionContext: { v: '1' }, SourceKeyId: b.KeyId, DestinationKeyId: b.KeyId })))).name).toBe('IncorrectKeyException');
  });
});

describe('rotation', () => {
  test('on demand: old ciphertext still decrypts, new ciphertext uses the new material', async () => {
    const k = await newKey();
    const before = await f.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('v0') }));
    expect((await f.kms.send(new RotateKeyOnDemandCommand({ KeyId: k.KeyId }))).KeyId).toBe(k.Arn);
    const after = await f.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('v1') }));
    expect(text((await f.kms.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }))).Plaintext)).toBe('v0');
    expect(text((await f.kms.send(new DecryptCommand({ CiphertextBlob: after.CiphertextBlob }))).Plaintext)).toBe('v1');
    const rotations = await f.kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId }));
    expect(rotations.Rotations).toHaveLength(1);
    expect(rotations.Rotations?.[0]).toMatchObject({ KeyId: k.Arn, RotationType: 'ON_DEMAND' });
    // The blob header names material version 0 before rotation and 1 after (kms-proxy/README.md).
    const version = (b: Uint8Array | undefined) => Buffer.from(b ?? []).readUInt32BE(5 + 36);
    expect([version(before.CiphertextBlob), version(after.CiphertextBlob)]).toEqual([0, 1]);
  });

  test('scheduled: rotation happens when the period ends (injected clock)', async () => {
    const k = await newKey();
    const old = await f.kms.send(new EncryptCommand({ KeyId: k.KeyId, Plaintext: Buffer.from('old') }));
    const bad = await failure(() => f.kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId, RotationPeriodInDays: 89 })));
    expect(bad.message).toBe("1 validation error detected: Value '89' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value greater than or equal to 90");
    expect((await failure(() => f.kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId, RotationPeriodInDays: 2561 })))).name).toBe('ValidationException');
    await f.kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId, RotationPeriodInDays: 90 }));
    const st = await f.kms.send(new GetKeyRotationStatusCommand({ KeyId: k.KeyId }));
    expect(st).toMatchObject({ KeyRotationEnabled: true, RotationPeriodInDays: 90, KeyId: k.Arn });
    expect(st.NextRotationDate?.getTime()).toBe(now + 90 * DAY);
    now += 89 * DAY;
    expect((await f.kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId }))).Rotations).toHaveLength(0);
    now += 2 * DAY;
    const r = await f.kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId }));
    expect(r.Rotations?.map((x) => x.RotationType)).toEqual(['AUTOMATIC']);
    expect(text((await f.kms.send(new DecryptCommand({ CiphertextBlob: old.CiphertextBlob }))).Plaintext)).toBe('old');
    await f.kms.send(new DisableKeyRotationCommand({ KeyId: k.KeyId }));
    expect((await f.kms.send(new GetKeyRotationStatusCommand({ KeyId: k.KeyId }))).KeyRotationEnabled).toBe(false);
  });

  test('after a clock jump over several periods: one rotation, and the next date is in the future', async () => {
    const k = await newKey();
    await f.kms.send(new EnableKeyRotationCommand({ KeyId: k.KeyId, RotationPeriodInDays: 100 }));
    const start = now;
    now += 350 * DAY;
    expect((await f.kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId }))).Rotations).toHaveLength(1);
    const next = (await f.kms.send(new GetKeyRotationStatusCommand({ KeyId: k.KeyId }))).NextRotationDate?.getTime();
    expect(next).toBe(start + 400 * DAY);
    now += 51 * DAY;
    expect((await f.kms.send(new ListKeyRotationsCommand({ KeyId: k.KeyId }))).Rotations).toHaveLength(2);
  });

  test('asymmetric and imported keys do not rotate → UnsupportedOperationException', async () => {
    const rsa = await newKey({ KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' });
    expect((await failure(() => f.kms.send(new EnableKeyRotationCommand({ KeyId: rsa.KeyId })))).name).toBe('UnsupportedOperationException');
    expect((await failure(() => f.kms.send(new RotateKeyOnDemandCommand({ KeyId: rsa.KeyId })))).name).toBe('UnsupportedOperationException');
  });
});

describe('encryption context encoding (ciphertext AAD)', () => {
  test('property: distinct contexts never encode to the same bytes; key order does not matter', () => {
    const ctx = fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 4 });
    fc.assert(
      fc.property(ctx, ctx, (a, b) => {
        const same = JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
        expect(encodeContext(a).equals(encodeContext(b))).toBe(same);
      }),
      { numRuns: 2000 },
    );
    expect(encodeContext({ a: '1', b: '2' }).equals(encodeContext({ b: '2', a: '1' }))).toBe(true);
    expect(encodeContext({ a: 'bc' }).equals(encodeContext({ ab: 'c' }))).toBe(false);
  });
});
