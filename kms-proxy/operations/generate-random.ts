// GenerateRandom (KMS API Reference, "GenerateRandom"). With a Recipient the bytes come back only
// as CiphertextForRecipient. No key, so no key policy: the identity policy decides (IAM-only on
// AWS), and the document is verified and audited.
import { randomBytes } from 'node:crypto';
import { kmsError } from '../errors.ts';
import { envelopeForRecipient } from '../recipient/cms.ts';
import { RecipientField } from '../shapes.ts';
import { NumberOfBytesField } from './lib/symmetric.ts';
import { attestedRecipient, int, type Operation, str } from './types.ts';

export const GenerateRandom: Operation = {
  name: 'GenerateRandom',
  quota: 'random',
  readOnly: true,
  shape: { NumberOfBytes: NumberOfBytesField, CustomKeyStoreId: { t: 'string', min: 1, max: 64 }, Recipient: RecipientField },
  async run(call) {
    const { input } = call;
    call.svc.authorizeIdentity(call.caller, 'kms:GenerateRandom');
    const recipient = attestedRecipient(call);
    if (str(input, 'CustomKeyStoreId') !== undefined) throw kmsError('UnsupportedOperationException', 'Custom key stores are not supported by this KMS.');
    const n = int(input, 'NumberOfBytes');
    // Message as AWS answers it (localstack's test_kms.snapshot.json, test_generate_random_invalid_number_of_bytes[None]).
    if (n === undefined) throw kmsError('ValidationException', 'NumberOfBytes is required.');
    const random = new Uint8Array(randomBytes(n));
    if (recipient) {
      const sealed = envelopeForRecipient(random, recipient.key);
      random.fill(0);
      return { CiphertextForRecipient: sealed };
    }
    return { Plaintext: random };
  },
};
