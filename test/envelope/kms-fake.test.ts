// KmsDataKeyProvider against a tiny in-process stand-in for the SDK's KMS client: which requests it
// sends (KeySpec AES_256, the context, the KeyId from the header) and how every KMS answer maps to
// an envelope code. kms.test.ts runs the same provider against the real KMS server.
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import type { KmsClient as EnclaveKmsClient } from '../../enclave/sdk/index.ts';
import {
  attestedKmsMethods,
  decrypt,
  encrypt,
  EnvelopeError,
  KmsDataKeyProvider,
  type AttestedKmsLike,
  type KmsDataKeyClient,
  type KmsDecryptInput,
  type KmsGenerateDataKeyInput,
} from '../../enclave/envelope/index.ts';

const ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

function named(name: string): Error {
  const e = new Error(name);
  e.name = name;
  return e;
}

/** A context as KMS compares it: a map, so key order does not matter. */
const canonical = (c: Record<string, string>) => JSON.stringify(Object.entries(c).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** Remembers every blob it made with its key and context; Decrypt demands both match, as KMS does. */
function fakeKms() {
  const blobs = new Map<string, { key: Buffer; context: string; keyId: string }>();
  const sent = { generate: [] as KmsGenerateDataKeyInput[], decrypt: [] as KmsDecryptInput[] };
  let failDecryptWith: Error | undefined;
  let answer: ((i: KmsDecryptInput) => { Plaintext?: Uint8Array; KeyId?: string }) | undefined;
  const client: KmsDataKeyClient = {
    async generateDataKey(input) {
      sent.generate.push(input);
      const key = randomBytes(32);
      const blob = randomBytes(48);
      blobs.set(blob.toString('hex'), { key, context: canonical(input.EncryptionContext), keyId: ARN });
      return { Plaintext: Uint8Array.from(key), CiphertextBlob: Uint8Array.from(blob), KeyId: ARN };
    },
    async decrypt(input) {
      sent.decrypt.push(input);
      if (failDecryptWith) throw failDecryptWith;
      if (answer) return answer(input);
      const b = blobs.get(Buffer.from(input.CiphertextBlob).toString('hex'));
      if (!b || b.context !== canonical(input.EncryptionContext)) throw named('InvalidCiphertextException');
      if (input.KeyId !== b.keyId) throw named('IncorrectKeyException');
      return { Plaintext: Uint8Array.from(b.key), KeyId: b.keyId };
    },
  };
  return {
    client,
    sent,
    failDecrypt(e: Error | undefined) {
      failDecryptWith = e;
    },
    answerWith(f: typeof answer) {
      answer = f;
    },
  };
}

const code = (p: Promise<unknown>) => p.then(() => 'accepted', (e: unknown) => (e instanceof EnvelopeError ? e.code : `untyped ${String(e)}`));

describe('KmsDataKeyProvider requests and error mapping (reference/kms.md)', () => {
  test('GenerateDataKey with KeySpec AES_256 and the context; Decrypt with the header KeyId and the context', async () => {
    const kms = fakeKms();
    const provider = new KmsDataKeyProvider({ client: kms.client, keyId: 'alias/app' });
    const env = await encrypt(provider, { b: '2', a: '1' }, Buffer.from('payload'));
    expect(kms.sent.generate).toEqual([{ KeyId: 'alias/app', KeySpec: 'AES_256', EncryptionContext: { b: '2', a: '1' } }]);
    expect((await decrypt(provider, env)).plaintext.toString()).toBe('payload');
    expect(kms.sent.decrypt).toHaveLength(1);
    expect(kms.sent.decrypt[0]?.KeyId).toBe(ARN);
    // The context comes back from the header in canonical (sorted) order; KMS compares maps.
    expect(kms.sent.decrypt[0]?.EncryptionContext).toEqual({ a: '1', b: '2' });
  });

  test('InvalidCiphertextException and IncorrectKeyException: ERR_ENVELOPE_TAMPERED; other failures: ERR_ENVELOPE_DATA_KEY', async () => {
    const kms = fakeKms();
    const provider = new KmsDataKeyProvider({ client: kms.client, keyId: ARN });
    const env = await encrypt(provider, { a: '1' }, Buffer.from('x'));
    for (const [name, expected] of [
      ['InvalidCiphertextException', 'ERR_ENVELOPE_TAMPERED'],
      ['IncorrectKeyException', 'ERR_ENVELOPE_TAMPERED'],
      ['AccessDeniedException', 'ERR_ENVELOPE_DATA_KEY'],
      ['DisabledException', 'ERR_ENVELOPE_DATA_KEY'],
      ['ThrottlingException', 'ERR_ENVELOPE_DATA_KEY'],
      ['TimeoutError', 'ERR_ENVELOPE_DATA_KEY'],
    ] as const) {
      kms.failDecrypt(named(name));
      expect(await code(decrypt(provider, env)), name).toBe(expected);
    }
  });

  test('a Decrypt answer naming another key, or without a 32-byte Plaintext, is refused (ERR_ENVELOPE_DATA_KEY)', async () => {
    const kms = fakeKms();
    const provider = new KmsDataKeyProvider({ client: kms.client, keyId: ARN });
    const env = await encrypt(provider, {}, Buffer.from('x'));
    kms.answerWith(() => ({ Plaintext: new Uint8Array(32), KeyId: `${ARN}0` }));
    expect(await code(decrypt(provider, env))).toBe('ERR_ENVELOPE_DATA_KEY');
    kms.answerWith(() => ({ Plaintext: new Uint8Array(31), KeyId: ARN }));
    expect(await code(decrypt(provider, env))).toBe('ERR_ENVELOPE_DATA_KEY');
    kms.answerWith(() => ({ KeyId: ARN }));
    expect(await code(decrypt(provider, env))).toBe('ERR_ENVELOPE_DATA_KEY');
  });

  test('a GenerateDataKey answer without Plaintext, CiphertextBlob or KeyId is refused (ERR_ENVELOPE_DATA_KEY)', async () => {
    for (const out of [{}, { Plaintext: new Uint8Array(32), KeyId: ARN }, { Plaintext: new Uint8Array(16), CiphertextBlob: new Uint8Array(4), KeyId: ARN }, { Plaintext: new Uint8Array(32), CiphertextBlob: new Uint8Array(4) }]) {
      const provider = new KmsDataKeyProvider({ client: { generateDataKey: async () => out, decrypt: async () => ({}) }, keyId: ARN });
      expect(await code(encrypt(provider, {}, Buffer.from('x')))).toBe('ERR_ENVELOPE_DATA_KEY');
    }
  });

  test('bad construction: ERR_ENVELOPE_INVALID_ARGUMENT', () => {
    expect(() => new KmsDataKeyProvider({ client: {} as KmsDataKeyClient, keyId: ARN })).toThrow(expect.objectContaining({ code: 'ERR_ENVELOPE_INVALID_ARGUMENT' }));
    expect(() => new KmsDataKeyProvider({ client: fakeKms().client, keyId: '' })).toThrow(expect.objectContaining({ code: 'ERR_ENVELOPE_INVALID_ARGUMENT' }));
  });
});

// Compile-time check (tsc runs as part of npm test): the enclave SDK's client fits AttestedKmsLike.
export const enclaveClientFits = (k: EnclaveKmsClient): AttestedKmsLike => k;

describe('attestedKmsMethods: the enclave SDK client shape (positional, lower-case)', () => {

  test('maps GenerateDataKey/Decrypt both ways and keeps AWS exception names for the error mapping', async () => {
    const kms = fakeKms();
    const calls: string[] = [];
    // The enclave SDK's kmsClient shape, backed by the same fake.
    const attested = {
      async generateDataKey(keyId: string, o: { keySpec: 'AES_256'; encryptionContext: Record<string, string> }) {
        calls.push(`generate ${keyId} ${o.keySpec}`);
        const r = await kms.client.generateDataKey({ KeyId: keyId, KeySpec: o.keySpec, EncryptionContext: o.encryptionContext });
        return { keyId: r.KeyId ?? '', plaintext: r.Plaintext ?? new Uint8Array(), ciphertextBlob: r.CiphertextBlob ?? new Uint8Array() };
      },
      async decrypt(blob: Uint8Array, o: { keyId: string; encryptionContext: Record<string, string> }) {
        calls.push(`decrypt ${o.keyId}`);
        const r = await kms.client.decrypt({ CiphertextBlob: blob, KeyId: o.keyId, EncryptionContext: o.encryptionContext });
        return { keyId: r.KeyId ?? '', plaintext: r.Plaintext ?? new Uint8Array() };
      },
    };
    const provider = new KmsDataKeyProvider({ client: attestedKmsMethods(attested), keyId: ARN });
    const env = await encrypt(provider, { app: 'in-enclave' }, Buffer.from('sealed'));
    expect((await decrypt(provider, env)).plaintext.toString()).toBe('sealed');
    expect(calls).toEqual([`generate ${ARN} AES_256`, `decrypt ${ARN}`]);
    kms.failDecrypt(named('InvalidCiphertextException'));
    expect(await code(decrypt(provider, env))).toBe('ERR_ENVELOPE_TAMPERED');
    expect(() => attestedKmsMethods({} as never)).toThrow(expect.objectContaining({ code: 'ERR_ENVELOPE_INVALID_ARGUMENT' }));
  });
});
