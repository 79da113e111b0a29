// Asymmetric and HMAC operations: Sign, Verify, GetPublicKey, GenerateMac, VerifyMac,
// DeriveSharedSecret, GenerateDataKeyPair, GenerateDataKeyPairWithoutPlaintext (KMS API Reference).
import { createHmac, createPublicKey, diffieHellman, generateKeyPairSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { privateKeyOf, publicKeyDer } from '../asymmetric.ts';
import { sealBlob } from '../ciphertext.ts';
import { kmsError, messages } from '../errors.ts';
import { SPECS } from '../keyspec.ts';
import type { KeyRecord, KeySpec, Material } from '../model.ts';
import { Service, type Caller, type Resolved } from '../service.ts';
import { ContextField, DryRunField, GrantTokensField, KeyIdField, RecipientField } from '../shapes.ts';
import { signMessage, SIGNING_ALGORITHMS, verifyMessage } from '../signing.ts';
import { bytes, ctx, dryRun, refuseRecipient, reqStr, str, type Operation, type Trail } from './types.ts';

const MAC_ALGORITHMS = ['HMAC_SHA_224', 'HMAC_SHA_256', 'HMAC_SHA_384', 'HMAC_SHA_512'] as const;
const MESSAGE_TYPES = ['RAW', 'DIGEST', 'EXTERNAL_MU'] as const;
const KEY_PAIR_SPECS = ['RSA_2048', 'RSA_3072', 'RSA_4096', 'ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521', 'ECC_SECG_P256K1', 'SM2', 'ECC_NIST_EDWARDS25519'] as const;

async function usable(svc: Service, caller: Caller, trail: Trail, keyId: string, action: string, extra: Record<string, string> = {}): Promise<{ r: Resolved; m: Material }> {
  const r = await svc.resolve(keyId);
  trail.keyArn = r.key.arn;
  trail.decision = await svc.authorize(r, caller, action, extra);
  svc.requireEnabled(r.key);
  const m = await svc.store.currentMaterial(r.key.keyId);
  if (!m) throw kmsError('KMSInvalidStateException', messages.pendingImport(r.key.arn));
  return { r, m };
}

function requireSigningAlg(key: KeyRecord, alg: string): void {
  if (!(SPECS[key.keySpec]?.signingAlgorithms ?? []).includes(alg)) {
    throw kmsError('InvalidKeyUsageException', `Signing algorithm ${alg} is not valid for ${key.arn} with key spec ${key.keySpec}.`);
  }
}

const SignShape = {
  KeyId: KeyIdField,
  Message: { t: 'blob', min: 1, max: 4096, sensitive: true, required: true },
  MessageType: { t: 'string', enum: MESSAGE_TYPES },
  GrantTokens: GrantTokensField,
  SigningAlgorithm: { t: 'string', enum: SIGNING_ALGORITHMS, required: true },
  DryRun: DryRunField,
} as const;

export const Sign: Operation = {
  name: 'Sign',
  quota: 'cryptographic',
  readOnly: true,
  shape: SignShape,
  async run({ svc, caller, input, trail }) {
    const alg = reqStr(input, 'SigningAlgorithm');
    const messageType = str(input, 'MessageType') ?? 'RAW';
    const { r, m } = await usable(svc, caller, trail, reqStr(input, 'KeyId'), 'kms:Sign', { 'kms:SigningAlgorithm': alg, 'kms:MessageType': messageType });
    svc.requireUsage(r.key, 'SIGN_VERIFY', 'Sign');
    requireSigningAlg(r.key, alg);
    if (messageType === 'EXTERNAL_MU') throw kmsError('ValidationException', 'EXTERNAL_MU is only valid for ML_DSA keys.');
    const signature = signMessage(privateKeyOf(m), SPECS[r.key.keySpec]?.curve, alg, messageType, bytes(input, 'Message') as Uint8Array);
    dryRun(input);
    return { KeyId: r.key.arn, Signature: signature, SigningAlgorithm: alg };
  },
};

export const Verify: Operation = {
  name: 'Verify',
  quota: 'cryptographic',
  readOnly: true,
  shape: { ...SignShape, Signature: { t: 'blob', min: 1, max: 6144, required: true } },
  async run({ svc, caller, input, trail }) {
    const alg = reqStr(input, 'SigningAlgorithm');
    const messageType = str(input, 'MessageType') ?? 'RAW';
    const { r, m } = await usable(svc, caller, trail, reqStr(input, 'KeyId'), 'kms:Verify', { 'kms:SigningAlgorithm': alg, 'kms:MessageType': messageType });
    svc.requireUsage(r.key, 'SIGN_VERIFY', 'Verify');
    requireSigningAlg(r.key, alg);
    if (messageType === 'EXTERNAL_MU') throw kmsError('ValidationException', 'EXTERNAL_MU is only valid for ML_DSA keys.');
    const ok = verifyMessage(privateKeyOf(m), SPECS[r.key.keySpec]?.curve, alg, messageType, bytes(input, 'Message') as Uint8Array, bytes(input, 'Signature') as Uint8Array);
    dryRun(input);
    // An invalid signature is an error, not SignatureValid: false (Verify API).
    if (!ok) throw kmsError('KMSInvalidSignatureException', '');
    return { KeyId: r.key.arn, SignatureValid: true, SigningAlgorithm: alg };
  },
};

export const GetPublicKey: Operation = {
  name: 'GetPublicKey',
  quota: 'cryptographic',
  readOnly: true,
  shape: { KeyId: KeyIdField, GrantTokens: GrantTokensField },
  async run({ svc, caller, input, trail }) {
    const r = await svc.resolve(reqStr(input, 'KeyId'));
    trail.keyArn = r.key.arn;
    trail.decision = await svc.authorize(r, caller, 'kms:GetPublicKey');
    const k = r.key;
    if (!k.keySpec.startsWith('RSA_') && !k.keySpec.startsWith('ECC_')) throw kmsError('UnsupportedOperationException', `${k.arn} is not an asymmetric KMS key.`);
    svc.requireEnabled(k);
    const m = await svc.store.currentMaterial(k.keyId);
    if (!m) throw kmsError('KMSInvalidStateException', messages.pendingImport(k.arn));
    const info = SPECS[k.keySpec];
    return {
      KeyId: k.arn,
      PublicKey: publicKeyDer(m),
      CustomerMasterKeySpec: k.keySpec,
      KeySpec: k.keySpec,
      KeyUsage: k.keyUsage,
      ...(k.keyUsage === 'ENCRYPT_DECRYPT' ? { EncryptionAlgorithms: info?.encryptionAlgorithms } : {}),
      ...(k.keyUsage === 'SIGN_VERIFY' ? { SigningAlgorithms: info?.signingAlgorithms } : {}),
      ...(k.keyUsage === 'KEY_AGREEMENT' ? { KeyAgreementAlgorithms: info?.keyAgreementAlgorithms } : {}),
    };
  },
};

function macOf(key: KeyRecord, m: Material, alg: string, message: Uint8Array): Buffer {
  if (!(SPECS[key.keySpec]?.macAlgorithms ?? []).includes(alg)) {
    throw kmsError('InvalidKeyUsageException', `MAC algorithm ${alg} is not valid for ${key.arn} with key spec ${key.keySpec}.`);
  }
  return createHmac(alg.replace('HMAC_SHA_', 'sha'), m.secret).update(message).digest();
}

const MacShape = {
  Message: { t: 'blob', min: 1, max: 4096, sensitive: true, required: true },
  KeyId: KeyIdField,
  MacAlgorithm: { t: 'string', enum: MAC_ALGORITHMS, required: true },
  GrantTokens: GrantTokensField,
  DryRun: DryRunField,
} as const;

export const GenerateMac: Operation = {
  name: 'GenerateMac',
  quota: 'cryptographic',
  readOnly: true,
  shape: MacShape,
  async run({ svc, caller, input, trail }) {
    const alg = reqStr(input, 'MacAlgorithm');
    const { r, m } = await usable(svc, caller, trail, reqStr(input, 'KeyId'), 'kms:GenerateMac', { 'kms:MacAlgorithm': alg });
    svc.requireUsage(r.key, 'GENERATE_VERIFY_MAC', 'GenerateMac');
    const mac = macOf(r.key, m, alg, bytes(input, 'Message') as Uint8Array);
    dryRun(input);
    return { Mac: new Uint8Array(mac), MacAlgorithm: alg, KeyId: r.key.arn };
  },
};

export const VerifyMac: Operation = {
  name: 'VerifyMac',
  quota: 'cryptographic',
  readOnly: true,
  shape: { ...MacShape, Mac: { t: 'blob', min: 1, max: 6144, required: true } },
  async run({ svc, caller, input, trail }) {
    const alg = reqStr(input, 'MacAlgorithm');
    const { r, m } = await usable(svc, caller, trail, reqStr(input, 'KeyId'), 'kms:VerifyMac', { 'kms:MacAlgorithm': alg });
    svc.requireUsage(r.key, 'GENERATE_VERIFY_MAC', 'VerifyMac');
    const want = macOf(r.key, m, alg, bytes(input, 'Message') as Uint8Array);
    const got = Buffer.from(bytes(input, 'Mac') as Uint8Array);
    dryRun(input);
    if (got.length !== want.length || !timingSafeEqual(got, want)) throw kmsError('KMSInvalidMacException', '');
    return { KeyId: r.key.arn, MacValid: true, MacAlgorithm: alg };
  },
};

export const DeriveSharedSecret: Operation = {
  name: 'DeriveSharedSecret',
  quota: 'cryptographic',
  readOnly: true,
  shape: {
    KeyId: KeyIdField,
    KeyAgreementAlgorithm: { t: 'string', enum: ['ECDH'], required: true },
    PublicKey: { t: 'blob', min: 1, max: 8192, required: true },
    GrantTokens: GrantTokensField,
    DryRun: DryRunField,
    Recipient: RecipientField,
  },
  async run({ svc, caller, input, trail }) {
    refuseRecipient(input);
    const { r, m } = await usable(svc, caller, trail, reqStr(input, 'KeyId'), 'kms:DeriveSharedSecret', { 'kms:KeyAgreementAlgorithm': 'ECDH' });
    svc.requireUsage(r.key, 'KEY_AGREEMENT', 'DeriveSharedSecret');
    const mine = privateKeyOf(m);
    let peer: KeyObject;
    try {
      peer = createPublicKey({ key: Buffer.from(bytes(input, 'PublicKey') as Uint8Array), format: 'der', type: 'spki' });
    } catch {
      throw kmsError('ValidationException', 'PublicKey is not a DER-encoded X.509 SubjectPublicKeyInfo.');
    }
    if (peer.asymmetricKeyType !== 'ec' || peer.asymmetricKeyDetails?.namedCurve !== mine.asymmetricKeyDetails?.namedCurve) {
      throw kmsError('ValidationException', `PublicKey must be on the same curve as ${r.key.arn} (${r.key.keySpec}).`);
    }
    const secret = diffieHellman({ privateKey: mine, publicKey: peer });
    dryRun(input);
    return { KeyId: r.key.arn, SharedSecret: new Uint8Array(secret), KeyAgreementAlgorithm: 'ECDH', KeyOrigin: r.key.origin };
  },
};

function keyPair(spec: string): { privateDer: Uint8Array; publicDer: Uint8Array } {
  const info = SPECS[spec as KeySpec];
  if (!info || (info.rsaBits === undefined && info.curve === undefined)) throw kmsError('UnsupportedOperationException', `KeyPairSpec ${spec} is not supported by this KMS.`);
  const enc = { privateKeyEncoding: { type: 'pkcs8', format: 'der' }, publicKeyEncoding: { type: 'spki', format: 'der' } } as const;
  const pair = info.rsaBits !== undefined ? generateKeyPairSync('rsa', { modulusLength: info.rsaBits, ...enc }) : generateKeyPairSync('ec', { namedCurve: info.curve ?? '', ...enc });
  return { privateDer: new Uint8Array(pair.privateKey), publicDer: new Uint8Array(pair.publicKey) };
}

const PairShape = {
  EncryptionContext: ContextField,
  KeyId: KeyIdField,
  KeyPairSpec: { t: 'string', enum: KEY_PAIR_SPECS, required: true },
  GrantTokens: GrantTokensField,
  Recipient: RecipientField,
  DryRun: DryRunField,
} as const;

async function dataKeyPair(call: Parameters<Operation['run']>[0], action: string) {
  const { svc, caller, input, trail } = call;
  const ec = ctx(input, 'EncryptionContext');
  const { r, m } = await usable(svc, caller, trail, reqStr(input, 'KeyId'), action, { ...Service.encryptionContextValues(ec) } as Record<string, string>);
  svc.requireUsage(r.key, 'ENCRYPT_DECRYPT', action.slice(4));
  if (r.key.keySpec !== 'SYMMETRIC_DEFAULT') throw kmsError('InvalidKeyUsageException', `${r.key.arn} is not a symmetric encryption key.`);
  const spec = reqStr(input, 'KeyPairSpec');
  const pair = keyPair(spec);
  const blob = sealBlob({ keyId: r.key.keyId, materialVersion: m.version }, m.secret, pair.privateDer, ec);
  dryRun(input);
  return { arn: r.key.arn, spec, blob, ...pair };
}

export const GenerateDataKeyPair: Operation = {
  name: 'GenerateDataKeyPair',
  quota: 'cryptographic',
  readOnly: true,
  shape: PairShape,
  async run(call) {
    refuseRecipient(call.input);
    const p = await dataKeyPair(call, 'kms:GenerateDataKeyPair');
    return { PrivateKeyCiphertextBlob: p.blob, PrivateKeyPlaintext: p.privateDer, PublicKey: p.publicDer, KeyId: p.arn, KeyPairSpec: p.spec };
  },
};

export const GenerateDataKeyPairWithoutPlaintext: Operation = {
  name: 'GenerateDataKeyPairWithoutPlaintext',
  quota: 'cryptographic',
  readOnly: true,
  shape: { EncryptionContext: ContextField, KeyId: KeyIdField, KeyPairSpec: PairShape.KeyPairSpec, GrantTokens: GrantTokensField, DryRun: DryRunField },
  async run(call) {
    const p = await dataKeyPair(call, 'kms:GenerateDataKeyPairWithoutPlaintext');
    return { PrivateKeyCiphertextBlob: p.blob, PublicKey: p.publicDer, KeyId: p.arn, KeyPairSpec: p.spec };
  },
};
