// DeriveSharedSecret (KMS API Reference, "DeriveSharedSecret"). With a Recipient the secret comes
// back only as CiphertextForRecipient.
import { createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { privateKeyOf } from '../asymmetric.ts';
import { kmsError } from '../errors.ts';
import { envelopeForRecipient } from '../recipient/cms.ts';
import { DryRunField, GrantTokensField, KeyIdField, RecipientField } from '../shapes.ts';
import { usable } from './lib/asymmetric.ts';
import { attestedRecipient, bytes, dryRun, type Operation, reqStr } from './types.ts';

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
  async run(call) {
    const { svc, caller, input, trail } = call;
    const recipient = attestedRecipient(call);
    const { r, m } = await usable(svc, caller, trail, reqStr(input, 'KeyId'), 'kms:DeriveSharedSecret', { 'kms:KeyAgreementAlgorithm': 'ECDH', ...recipient?.context });
    svc.requireUsage(r.key, 'KEY_AGREEMENT', 'DeriveSharedSecret');
    const mine = privateKeyOf(m);
    let peer: KeyObject;
    try {
      peer = createPublicKey({ key: Buffer.from(bytes(input, 'PublicKey') as Uint8Array), format: 'der', type: 'spki' });
    } catch {
      // No message, as AWS answers a PublicKey that is not a key (localstack's test_kms.snapshot.json,
      // test_derive_shared_secret: response-invalid-public-key); the reason goes to the audit log.
      throw kmsError('ValidationException', '', 'PublicKey is not a DER-encoded X.509 SubjectPublicKeyInfo');
    }
    if (peer.asymmetricKeyType !== 'ec' || peer.asymmetricKeyDetails?.namedCurve !== mine.asymmetricKeyDetails?.namedCurve) {
      throw kmsError('ValidationException', '', `PublicKey is not on the curve of ${r.key.keySpec}`);
    }
    const secret = diffieHellman({ privateKey: mine, publicKey: peer });
    dryRun(input);
    if (recipient) {
      const sealed = envelopeForRecipient(secret, recipient.key);
      secret.fill(0);
      return { KeyId: r.key.arn, CiphertextForRecipient: sealed, KeyAgreementAlgorithm: 'ECDH', KeyOrigin: r.key.origin };
    }
    return { KeyId: r.key.arn, SharedSecret: new Uint8Array(secret), KeyAgreementAlgorithm: 'ECDH', KeyOrigin: r.key.origin };
  },
};
