// The documented layout is the format: an envelope made by the library is opened here with plain
// node:crypto, following docs/envelope-format.md step by step (key schedule, commitment, header
// tag, IV and AAD of each frame), and the context encoding is checked against the AWS Encryption
// SDK's own serializer (@aws-crypto/serialize, the ESDK's message-header AAD with UTF-8 sorting).
import { createDecipheriv, createHash, hkdfSync, randomBytes, type DecipherGCM } from 'node:crypto';
import { serializeFactory } from '@aws-crypto/serialize';
import { describe, expect, test } from 'vitest';
import { encrypt, parseContext, serializeContext, type DataKeyProvider } from '../../enclave/envelope/index.ts';
import { layout } from './helpers.ts';

const dataKey = randomBytes(32);
/** A provider whose data key the test knows: the test plays the key service. */
const known: DataKeyProvider = {
  providerId: 'test-known',
  generateDataKey: async () => ({ plaintextKey: Buffer.from(dataKey), encryptedKey: Buffer.from('opaque'), keyId: 'k1' }),
  decryptDataKey: async () => Buffer.from(dataKey),
};

function gcmOpen(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, iv) as DecipherGCM;
  d.setAAD(aad);
  d.setAuthTag(tag);
  return Buffer.concat([d.update(ciphertext), d.final()]);
}

describe('docs/envelope-format.md, checked with node:crypto alone', () => {
  test('header fields, key schedule, commitment, header tag and every frame decrypt as documented', async () => {
    const F = 100;
    const plaintext = randomBytes(2 * F + 42);
    const context = { department: 'radiology', 'patient-id': '1234' };
    const env = await encrypt(known, context, plaintext, { frameSize: F });
    const L = layout(env);
    const at = (r: { start: number; end: number }) => env.subarray(r.start, r.end);

    // Header: magic "NSEV", version 1, suite 0x0001, frame size, message id.
    expect(at(L.magic).toString('latin1')).toBe('NSEV');
    expect(env[4]).toBe(1);
    expect(env.readUInt16BE(5)).toBe(0x0001);
    expect(env.readUInt32BE(7)).toBe(F);
    const messageId = at(L.messageId);
    // Context: count, then (len, key, len, value) sorted by key bytes.
    const ctx = at(L.context);
    expect(ctx.readUInt16BE(0)).toBe(2);
    expect(ctx.toString('latin1', 4, 4 + 10)).toBe('department');
    // One encrypted data key: provider id, key id, encrypted key as the provider returned them.
    expect(env[L.edkCount.start]).toBe(1);
    expect(at(L.edks[0]?.providerId ?? L.magic).toString()).toBe('test-known');
    expect(at(L.edks[0]?.keyId ?? L.magic).toString()).toBe('k1');
    expect(at(L.edks[0]?.encryptedKey ?? L.magic).toString()).toBe('opaque');

    // Key schedule: HKDF-SHA512(ikm = data key, salt = message id).
    const info = Buffer.concat([Buffer.from([0x00, 0x01]), Buffer.from('DERIVEKEY')]);
    const contentKey = Buffer.from(hkdfSync('sha512', dataKey, messageId, info, 32));
    const commitment = Buffer.from(hkdfSync('sha512', dataKey, messageId, Buffer.from('COMMITKEY'), 32));
    expect(at(L.commitment).equals(commitment)).toBe(true);

    // Header tag: AES-256-GCM, IV 12 zero bytes, AAD = header from magic through commitment, no plaintext.
    const body = env.subarray(0, L.commitment.end);
    expect(gcmOpen(contentKey, Buffer.alloc(12), body, Buffer.alloc(0), at(L.headerTag))).toHaveLength(0);

    // Frames: IV = 8 zero bytes ‖ seq; AAD = SHA-256(header body) ‖ message id ‖ seq ‖ final ‖ length.
    const digest = createHash('sha256').update(body).digest();
    const parts: Buffer[] = [];
    for (const [i, f] of L.frames.entries()) {
      const seq = i + 1;
      const iv = Buffer.alloc(12);
      iv.writeUInt32BE(seq, 8);
      expect(env.readUInt32BE(f.seq.start)).toBe(seq);
      expect(at(f.iv).equals(iv)).toBe(true);
      const len = f.ciphertext.end - f.ciphertext.start;
      const aad = Buffer.alloc(73);
      digest.copy(aad, 0);
      messageId.copy(aad, 32);
      aad.writeUInt32BE(seq, 64);
      aad[68] = f.final ? 1 : 0;
      aad.writeUInt32BE(len, 69);
      parts.push(gcmOpen(contentKey, iv, aad, at(f.ciphertext), at(f.tag)));
    }
    expect(L.frames.map((f) => f.final)).toEqual([false, false, true]);
    expect(Buffer.concat(parts).equals(plaintext)).toBe(true);
  });

  test('context encoding equals the AWS Encryption SDK serializer (UTF-8 byte order, u16 lengths)', () => {
    const esdk = serializeFactory((s: string) => Buffer.from(s, 'utf8'), { utf8Sorting: true });
    const contexts: Record<string, string>[] = [
      {},
      { a: '' },
      { b: '2', a: '1' },
      // U+1F600 sorts after U+FFFD in UTF-8 bytes (F0 > EF) but before it in UTF-16 code units.
      { '\u{1F600}': 'smile', '\uFFFD': 'replacement', Z: 'upper', a: 'lower', é: 'accent' },
      { 'aws-crypto-public-key': 'A'.repeat(100), purpose: 'x'.repeat(1000) },
    ];
    for (const c of contexts) {
      const ours = serializeContext(c);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(ours.length);
      // The ESDK's form is the header's context-length field followed by the context field.
      expect(Buffer.concat([len, ours]).equals(Buffer.from(esdk.serializeEncryptionContext(c)))).toBe(true);
      expect(parseContext(ours)).toEqual(c);
    }
  });
});
