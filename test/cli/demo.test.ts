// `npm start` (nitro-sandbox demo): the whole story runs to the end and shows every step it promises.
import { describe, expect, it } from 'vitest';
import { main } from '../../host/cli/main.ts';

describe('demo', () => {
  it('releases the key to the attested enclave, denies the modified and the debug-mode one, and explains why', async () => {
    let out = '';
    let err = '';
    const code = await main(['demo'], { out: (t) => (out += t), err: (t) => (err += t) });
    expect(err).toBe('');
    expect(code).toBe(0);
    const steps = [...out.matchAll(/^\[(\d+)\] /gm)].map((m) => Number(m[1]));
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(out).toMatch(/PCR0 [0-9a-f]{96}/);
    expect(out).toMatch(/isolation: .*NetworkNamespace|isolation: .*PermissionModel/);
    expect(out).toMatch(/result: Customer \[email\] paid with card \[number\]/);
    expect(out).toMatch(/released: the KMS answered CiphertextForRecipient/);
    expect(out).toMatch(/kms explain: decision: ALLOW — statement #2 "OnlyTheAttestedEnclave"/);
    expect(out.match(/denied: AccessDeniedException/g)?.length).toBe(2);
    expect(out).toMatch(/FAIL StringEqualsIgnoreCase kms:RecipientAttestation:ImageSha384/);
    expect(out).toMatch(/request has "0{96}"/); // the debug enclave's zero PCR0
    expect(out).toMatch(/all enclaves terminated/);
  });
});
