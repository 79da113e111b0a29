// GenerateRandom (KMS API Reference, "GenerateRandom").
import { randomBytes } from 'node:crypto';
import { kmsError } from '../errors.ts';
import { RecipientField } from '../shapes.ts';
import { NumberOfBytesField } from './lib/symmetric.ts';
import { bytes, int, type Operation, refuseRecipient, str } from './types.ts';

export const GenerateRandom: Operation = {
  name: 'GenerateRandom',
  quota: 'random',
  readOnly: true,
  shape: { NumberOfBytes: NumberOfBytesField, CustomKeyStoreId: { t: 'string', min: 1, max: 64 }, Recipient: RecipientField },
  async run({ input }) {
    refuseRecipient(input);
    if (str(input, 'CustomKeyStoreId') !== undefined) throw kmsError('UnsupportedOperationException', 'Custom key stores are not supported by this KMS.');
    const n = int(input, 'NumberOfBytes');
    if (n === undefined) throw kmsError('ValidationException', 'Please specify either number of bytes or key spec.');
    return { Plaintext: new Uint8Array(randomBytes(n)) };
  },
};
