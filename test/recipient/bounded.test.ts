// Hostile Recipient documents (issue 13): the document is decoded before any signature is checked,
// so it goes through the bounded decoder. A 4 KB shared-reference bomb, a document with two nonce
// fields and an over-long one are each refused as an invalid Recipient (ValidationException, reason
// ERR_ATTESTATION_MALFORMED), and the KMS goes on serving attested requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { MAX_DOCUMENT_BYTES, decodeCoseSign1 } from '../../attestation/index.ts';
import { INVALID_DOCUMENT_MESSAGE, RecipientVerifier } from '../../kms-proxy/index.ts';
import { bstr, sharedReferenceBomb, text } from '../attestation/hostile-cbor.ts';
import { failure, startFixture, type Fixture } from '../kms-proxy/helpers.ts';
import { allowForPcrs, device, hexPcr, openAuthority, policy, random, rsa, type Authority } from './fixtures.ts';

const ACCOUNT = '111122223333';
let trusted: Authority;
let f: Fixture;
let kms: KMSClient;
let verifier: RecipientVerifier;

beforeAll(async () => {
  trusted = await openAuthority();
  f = await startFixture({ recipient: { trustAnchors: [trusted.authority.rootCertificate] } });
  kms = f.kms;
  verifier = new RecipientVerifier({ trustAnchors: [trusted.authority.rootCertificate] });
});
afterAll(async () => {
  await f.stop();
  trusted.cleanup();
});

/** The reason a document is refused for, as the audit log gets it (the `detail` of the error). */
function reason(document: Uint8Array): string {
  try {
    verifier.verify(document);
  } catch (e) {
    expect(e).toMatchObject({ awsName: 'ValidationException', message: INVALID_DOCUMENT_MESSAGE });
    return String((e as { detail?: unknown }).detail);
  }
  throw new Error('accepted');
}

const bomb = sharedReferenceBomb({ size: 4096 });

async function goodDocument(): Promise<Uint8Array> {
  return (await device(trusted.authority, 'A')).attestation({ publicKey: rsa.spki });
}

describe('hostile Recipient documents are refused before anything is materialized', () => {
  it('the 4 KB shared-reference bomb, bare or as a COSE payload', async () => {
    expect(bomb.length).toBe(4096);
    expect(reason(bomb)).toMatch(/^ERR_ATTESTATION_MALFORMED: COSE_Sign1: CBOR shared reference \(tag 28\)/);
    // As the payload of a well-formed COSE_Sign1: the payload is decoded before the signature is checked.
    const cose = Uint8Array.from([0x84, ...bstr([0xa1, 0x01, 0x38, 0x22]), 0xa0, ...bstr([...bomb]), ...bstr(new Array<number>(96).fill(0))]);
    expect(decodeCoseSign1(cose).payload.length).toBe(4096);
    expect(reason(cose)).toMatch(/^ERR_ATTESTATION_MALFORMED: attestation document: CBOR shared reference/);
  });

  it('a document whose payload has two nonce fields', async () => {
    const { payload } = decodeCoseSign1(await goodDocument());
    // The payload map ends with `nonce: null` (f6); append a second nonce and count it in the head.
    expect(payload[0]).toBe(0xa9);
    const twice = Uint8Array.from([0xaa, ...payload.subarray(1), ...text('nonce'), ...bstr([1, 2, 3])]);
    const cose = Uint8Array.from([0x84, ...bstr([0xa1, 0x01, 0x38, 0x22]), 0xa0, ...bstr([...twice]), ...bstr(new Array<number>(96).fill(0))]);
    expect(reason(cose)).toMatch(/^ERR_ATTESTATION_MALFORMED: attestation document: duplicate map key/);
  });

  it('a document longer than any NSM response', () => {
    expect(reason(new Uint8Array(MAX_DOCUMENT_BYTES + 1).fill(0x84))).toMatch(/^ERR_ATTESTATION_MALFORMED: COSE_Sign1: 12289 bytes, more than the 12288-byte limit/);
  });

  it('over the AWS API: ValidationException for the bomb, and the next attested Decrypt is served', async () => {
    const key = (await kms.send(new CreateKeyCommand({ Policy: policy(ACCOUNT, allowForPcrs(ACCOUNT, 'kms:Decrypt', { 'kms:RecipientAttestation:ImageSha384': hexPcr('A', 0) })) }))).KeyMetadata?.Arn as string;
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: key, Plaintext: random(16) }));
    const e = await failure(() => kms.send(new DecryptCommand({ CiphertextBlob, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: bomb } })));
    expect(e.name).toBe('ValidationException');
    expect(e.$metadata?.httpStatusCode).toBe(400);
    const ok = await kms.send(new DecryptCommand({ CiphertextBlob, Recipient: { KeyEncryptionAlgorithm: 'RSAES_OAEP_SHA_256', AttestationDocument: await goodDocument() } }));
    expect(ok.CiphertextForRecipient?.length).toBeGreaterThan(0);
  });
});
