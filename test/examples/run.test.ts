// Every example runs with one command (`npm run example -- <name>`) and does what it says.
import { describe, expect, it } from 'vitest';
import { EXAMPLES, refused, runExample } from '../../examples/run.ts';

describe('npm run example', () => {
  it('lists every example', () => {
    expect([...EXAMPLES].sort()).toEqual(['attestation-responder', 'conditional-decrypt', 'conditional-decrypt-aws-sdk', 'echo-server', 'sensitive-payload', 'verify-aws-document']);
  });
  it('echo-server echoes', async () => {
    expect((await runExample('echo-server', () => undefined)).echoed).toBe('hello, enclave');
  });
  it('attestation-responder answers with a verified document bound to the nonce', async () => {
    expect((await runExample('attestation-responder', () => undefined)).moduleId).toMatch(/^i-[0-9a-f]{16}-enc[0-9a-f]{16}$/);
  });
  it('sensitive-payload redacts through an attested session', async () => {
    expect(await runExample('sensitive-payload', () => undefined)).toMatchObject({ text: 'Refund to [email], card [number].', emails: 1, numbers: 1 });
  });
  it('conditional-decrypt: the enclave obtains the secret (kmsClient)', async () => {
    const r = await runExample('conditional-decrypt', () => undefined);
    expect(r).toMatchObject({ ok: true, match: true });
    expect(refused(r)).toBe(false);
  });
  it('a refused or mismatched key release makes the command exit 1; other examples have no such outcome', () => {
    expect(refused({ ok: false, name: 'AccessDeniedException', match: false })).toBe(true);
    expect(refused({ ok: true, match: false })).toBe(true);
    expect(refused({ echoed: 'hello, enclave' })).toBe(false);
  });
  it('conditional-decrypt-aws-sdk: the same with the unmodified AWS SDK inside the enclave', async () => {
    expect(await runExample('conditional-decrypt-aws-sdk', () => undefined)).toMatchObject({ ok: true, match: true });
  });
  it('verify-aws-document: a real AWS document verifies at its time and is expired now', async () => {
    expect(await runExample('verify-aws-document', () => undefined)).toMatchObject({ valid: true, now: 'ERR_ATTESTATION_EXPIRED' });
  });
});
