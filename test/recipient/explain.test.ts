// `kms explain` (library and CLI): which statement or grant decided, and which condition failed
// with which value, for allow, explicit deny, implicit deny and each kind of failing condition.
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateAliasCommand, CreateGrantCommand, CreateKeyCommand } from '@aws-sdk/client-kms';
import { explain, type ExplainRequest } from '../../kms-proxy/index.ts';
import { main } from '../../host/cli/main.ts';
import { startFixture, type Fixture } from '../kms-proxy/helpers.ts';
import { allowForPcrs, denyWithoutAttestation, device, hexPcr, openAuthority, policy, rsa, type Authority } from './fixtures.ts';

const ACCOUNT = '111122223333';
const APP = `arn:aws:iam::${ACCOUNT}:user/app`;
let trusted: Authority;
let stranger: Authority;
let f: Fixture;
let rootPem: string;
let docA: Uint8Array;
let docB: Uint8Array;
let docDebug: Uint8Array;

beforeAll(async () => {
  trusted = await openAuthority();
  stranger = await openAuthority();
  f = await startFixture({ recipient: { trustAnchors: [trusted.authority.rootCertificate] } });
  rootPem = new X509Certificate(trusted.authority.rootCertificate).toString();
  docA = await (await device(trusted.authority, 'A')).attestation({ publicKey: rsa.spki });
  docB = await (await device(trusted.authority, 'B')).attestation({ publicKey: rsa.spki });
  docDebug = await (await device(trusted.authority, 'A', true)).attestation({ publicKey: rsa.spki });
});
afterAll(async () => {
  await f.stop();
  trusted.cleanup();
  stranger.cleanup();
});

async function key(p: string): Promise<string> {
  return (await f.kms.send(new CreateKeyCommand({ Policy: p }))).KeyMetadata?.KeyId as string;
}

const ex = (req: ExplainRequest) => explain(f.server.service, req);

describe('decisions', () => {
  let hardened: string;
  beforeAll(async () => {
    hardened = await key(policy(ACCOUNT, denyWithoutAttestation(ACCOUNT, 'kms:Decrypt'), allowForPcrs(ACCOUNT, 'kms:Decrypt', { 'kms:RecipientAttestation:ImageSha384': hexPcr('A', 0) })));
  });

  it('allow: the enclave\'s document satisfies the PCR0 statement, named by index and Sid', async () => {
    const e = await ex({ keyId: hardened, action: 'kms:Decrypt', attestation: docA });
    expect(e.outcome).toBe('Allowed');
    expect(e.decision.decidedBy).toEqual({ kind: 'statement', index: 2, sid: 'EnclaveOnly' });
    expect(e.attestation).toMatchObject({ valid: true, moduleId: expect.stringMatching(/^i-/) });
    expect(e.decision.statements[2]?.conditions).toEqual([
      { operator: 'StringEqualsIgnoreCase', key: 'kms:RecipientAttestation:ImageSha384', expected: [hexPcr('A', 0)], actual: [hexPcr('A', 0)], passed: true },
    ]);
  });

  it('explicit deny: no document → the Null statement denies, with the key reported absent', async () => {
    const e = await ex({ keyId: hardened, action: 'Decrypt' });
    expect(e.outcome).toBe('AccessDeniedException');
    expect(e.decision.effect).toBe('ExplicitDeny');
    expect(e.decision.decidedBy).toEqual({ kind: 'statement', index: 1, sid: 'DenyWithoutAttestation' });
    expect(e.decision.statements[1]?.conditions[0]).toEqual({ operator: 'Null', key: 'kms:RecipientAttestation:ImageSha384', expected: ['true'], actual: undefined, passed: true });
  });

  it('implicit deny: another enclave\'s PCR0 fails the condition with both values reported', async () => {
    const e = await ex({ keyId: hardened, action: 'kms:Decrypt', attestation: docB });
    expect(e.decision.effect).toBe('ImplicitDeny');
    expect(e.decision.decidedBy).toBeUndefined();
    expect(e.decision.statements[2]).toMatchObject({ applies: false, mismatch: 'condition' });
    expect(e.decision.statements[2]?.conditions[0]).toMatchObject({ expected: [hexPcr('A', 0)], actual: [hexPcr('B', 0)], passed: false });
    expect(e.decision.statements[0]).toMatchObject({ sid: 'Admin', applies: false, mismatch: 'action' });
  });

  it('a grant that allows is named', async () => {
    const id = await key(policy(ACCOUNT));
    const g = await f.kms.send(new CreateGrantCommand({ KeyId: id, GranteePrincipal: APP, Operations: ['Decrypt'], Constraints: { EncryptionContextSubset: { tenant: 't1' } } }));
    const ok = await ex({ keyId: id, action: 'kms:Decrypt', principal: APP, encryptionContext: { tenant: 't1', x: 'y' } });
    expect(ok.decision.decidedBy).toEqual({ kind: 'grant', grantId: g.GrantId });
    const no = await ex({ keyId: id, action: 'kms:Decrypt', principal: APP, encryptionContext: { tenant: 't2' } });
    expect(no.decision.grants).toEqual([{ grantId: g.GrantId, applies: false, mismatch: 'constraints' }]);
    // IAM action names are case-insensitive; the grant names the operation as the KMS spells it.
    const lower = await ex({ keyId: id, action: 'decrypt', principal: APP, encryptionContext: { tenant: 't1' } });
    expect([lower.action, lower.decision.decidedBy]).toEqual(['kms:Decrypt', { kind: 'grant', grantId: g.GrantId }]);
  });

  it('a document with an action that takes no Recipient is refused (ValidationException), not used as condition values', async () => {
    const allowForA = await key(policy(ACCOUNT, allowForPcrs(ACCOUNT, ['kms:GenerateDataKeyWithoutPlaintext', 'kms:GenerateDataKey'], { 'kms:RecipientAttestation:ImageSha384': hexPcr('A', 0) })));
    await expect(ex({ keyId: allowForA, action: 'kms:GenerateDataKeyWithoutPlaintext', attestation: docA })).rejects.toMatchObject({
      code: 'ERR_KMS_VALIDATION',
      message: 'kms:GenerateDataKeyWithoutPlaintext takes no Recipient, so an attestation document cannot be part of the request (it can for kms:Decrypt, kms:GenerateDataKey, kms:GenerateRandom, kms:DeriveSharedSecret, kms:GenerateDataKeyPair)',
    });
    expect((await ex({ keyId: allowForA, action: 'kms:GenerateDataKeyWithoutPlaintext' })).outcome).toBe('AccessDeniedException');
    expect((await ex({ keyId: allowForA, action: 'kms:GenerateDataKey', attestation: docA })).outcome).toBe('Allowed');
  });

  it('a document the KMS would refuse is reported with its reason, and its PCRs are not used', async () => {
    const foreign = await (await device(stranger.authority, 'A')).attestation({ publicKey: rsa.spki });
    const e = await ex({ keyId: hardened, action: 'kms:Decrypt', attestation: foreign });
    expect(e.outcome).toBe('ValidationException');
    expect(e.attestation).toEqual({ valid: false, reason: expect.stringMatching(/^ERR_ATTESTATION_UNTRUSTED_ROOT/) });
    expect(e.decision.effect).toBe('ExplicitDeny');
  });
});

describe('each failing condition kind reports operator, key, expected and actual', () => {
  const any = (condition: object) => ({ Sid: 'Cond', Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: condition });
  const A0 = () => hexPcr('A', 0);
  const cases: [string, () => object, Partial<ExplainRequest> & { alias?: boolean }, string, string, () => string[] | undefined][] = [
    ['attestation key absent (no document)', () => ({ StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': A0() } }), {}, 'StringEqualsIgnoreCase', 'kms:RecipientAttestation:ImageSha384', () => undefined],
    ['attestation value differs', () => ({ StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR0': A0() } }), { attestation: new Uint8Array() }, 'StringEqualsIgnoreCase', 'kms:RecipientAttestation:PCR0', () => [hexPcr('B', 0)]],
    ['debug-mode document (zero PCR)', () => ({ StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR2': hexPcr('A', 2) } }), { attestation: new Uint8Array([1]) }, 'StringEqualsIgnoreCase', 'kms:RecipientAttestation:PCR2', () => ['0'.repeat(96)]],
    ['StringEquals is case-sensitive (upper-case hex in the policy)', () => ({ StringEquals: { 'kms:RecipientAttestation:PCR0': A0().toUpperCase() } }), { attestation: new Uint8Array([2]) }, 'StringEquals', 'kms:RecipientAttestation:PCR0', () => [A0()]],
    ['StringLike pattern', () => ({ StringLike: { 'kms:RecipientAttestation:PCR1': 'ffff*' } }), { attestation: new Uint8Array([2]) }, 'StringLike', 'kms:RecipientAttestation:PCR1', () => [hexPcr('A', 1)]],
    ['StringNotEquals with the forbidden value', () => ({ StringNotEquals: { 'kms:RecipientAttestation:PCR0': A0() } }), { attestation: new Uint8Array([2]) }, 'StringNotEquals', 'kms:RecipientAttestation:PCR0', () => [A0()]],
    ['Null false (a document is required)', () => ({ Null: { 'kms:RecipientAttestation:ImageSha384': 'false' } }), {}, 'Null', 'kms:RecipientAttestation:ImageSha384', () => undefined],
    ['…IfExists with a present, different value', () => ({ StringEqualsIgnoreCaseIfExists: { 'kms:RecipientAttestation:PCR0': A0() } }), { attestation: new Uint8Array() }, 'StringEqualsIgnoreCaseIfExists', 'kms:RecipientAttestation:PCR0', () => [hexPcr('B', 0)]],
    ['ForAnyValue: over an attestation key (one of two approved images)', () => ({ 'ForAnyValue:StringEqualsIgnoreCase': { 'kms:RecipientAttestation:ImageSha384': [A0(), hexPcr('C', 0)] } }), { attestation: new Uint8Array() }, 'ForAnyValue:StringEqualsIgnoreCase', 'kms:RecipientAttestation:ImageSha384', () => [hexPcr('B', 0)]],
    ['ForAnyValue over kms:EncryptionContextKeys', () => ({ 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'tenant' } }), { encryptionContext: { app: 'x' } }, 'ForAnyValue:StringEquals', 'kms:EncryptionContextKeys', () => ['app']],
    ['ForAllValues over kms:EncryptionContextKeys', () => ({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant'] } }), { encryptionContext: { tenant: 'a', extra: 'b' } }, 'ForAllValues:StringEquals', 'kms:EncryptionContextKeys', () => ['tenant', 'extra']],
    ['kms:EncryptionContext:<k> value', () => ({ StringEquals: { 'kms:EncryptionContext:tenant': 't1' } }), { encryptionContext: { tenant: 't2' } }, 'StringEquals', 'kms:EncryptionContext:tenant', () => ['t2']],
    ['kms:CallerAccount', () => ({ StringEquals: { 'kms:CallerAccount': '444455556666' } }), {}, 'StringEquals', 'kms:CallerAccount', () => [ACCOUNT]],
    ['aws:PrincipalArn (ArnLike)', () => ({ ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/enclave-*` } }), { principal: APP }, 'ArnLike', 'aws:PrincipalArn', () => [APP]],
    ['kms:RequestAlias absent when the key is named by id', () => ({ StringEquals: { 'kms:RequestAlias': 'alias/enclave' } }), {}, 'StringEquals', 'kms:RequestAlias', () => undefined],
    ['kms:RequestAlias names another alias', () => ({ StringEquals: { 'kms:RequestAlias': 'alias/other' } }), { alias: true }, 'StringEquals', 'kms:RequestAlias', () => ['alias/enclave-k']],
    ['kms:KeySpec', () => ({ StringEquals: { 'kms:KeySpec': 'RSA_2048' } }), {}, 'StringEquals', 'kms:KeySpec', () => ['SYMMETRIC_DEFAULT']],
    ['Bool', () => ({ Bool: { 'aws:SecureTransport': 'true' } }), {}, 'Bool', 'aws:SecureTransport', () => ['false']],
  ];
  it.each(cases)('%s', async (_title, condition, req, operator, conditionKey, actual) => {
    const id = await key(policy(ACCOUNT, any(condition())));
    let keyId = id;
    if (req.alias) {
      keyId = 'alias/enclave-k';
      await f.kms.send(new CreateAliasCommand({ AliasName: keyId, TargetKeyId: id }));
    }
    // Placeholder documents pick which real one the case means: empty → B, [1] → debug A, [2] → A.
    const attestation = req.attestation === undefined ? undefined : req.attestation.length === 0 ? docB : req.attestation[0] === 1 ? docDebug : docA;
    const { alias: _a, attestation: _d, ...rest } = req;
    const e = await ex({ keyId, action: 'kms:Decrypt', ...rest, ...(attestation ? { attestation } : {}) });
    expect(e.outcome).toBe('AccessDeniedException');
    expect(e.decision.effect).toBe('ImplicitDeny');
    const st = e.decision.statements[1];
    expect(st).toMatchObject({ sid: 'Cond', applies: false, mismatch: 'condition' });
    expect(st?.conditions).toEqual([expect.objectContaining({ operator, key: conditionKey, actual: actual(), passed: false })]);
  });

  it('the passing counterparts allow (so the cases above fail for the stated reason only)', async () => {
    const id = await key(
      policy(ACCOUNT, any({ StringEqualsIgnoreCase: { 'kms:RecipientAttestation:PCR0': A0().toUpperCase() }, StringLike: { 'kms:RecipientAttestation:PCR1': `${hexPcr('A', 1).slice(0, 8)}*` }, Null: { 'kms:RecipientAttestation:ImageSha384': 'false' }, StringEquals: { 'kms:EncryptionContext:tenant': 't1', 'kms:CallerAccount': ACCOUNT, 'kms:KeySpec': 'SYMMETRIC_DEFAULT' }, 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['tenant'] } })),
    );
    const e = await ex({ keyId: id, action: 'kms:Decrypt', attestation: docA, encryptionContext: { tenant: 't1' } });
    expect(e.outcome).toBe('Allowed');
    expect(e.decision.statements[1]?.conditions.every((c) => c.passed)).toBe(true);
  });
});

describe('nitro-sandbox kms explain', () => {
  async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await main(['kms', 'explain', ...argv], { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  }

  it('prints the deciding statement and the failing condition with values, against a running KMS\'s data directory', async () => {
    const id = await key(policy(ACCOUNT, denyWithoutAttestation(ACCOUNT, 'kms:Decrypt'), allowForPcrs(ACCOUNT, 'kms:Decrypt', { 'kms:RecipientAttestation:ImageSha384': hexPcr('A', 0) })));
    const anchor = join(f.dir, 'root.pem');
    writeFileSync(anchor, rootPem);
    const docFile = join(f.dir, 'doc-b.b64');
    writeFileSync(docFile, Buffer.from(docB).toString('base64'));
    const denied = await cli(['--data-dir', f.dir, '--key-id', id, '--action', 'kms:Decrypt', '--attestation', docFile, '--trust-anchor', anchor]);
    expect(denied.code).toBe(1);
    expect(denied.out).toContain('decision: DENY (implicit: nothing allows it)');
    expect(denied.out).toContain(`FAIL StringEqualsIgnoreCase kms:RecipientAttestation:ImageSha384: expected "${hexPcr('A', 0)}", request has "${hexPcr('B', 0)}"`);
    const explicit = await cli(['--data-dir', f.dir, '--key-id', id, '--action', 'Decrypt']);
    expect(explicit.out).toContain('decision: DENY (explicit deny) — statement #1 "DenyWithoutAttestation"');
    expect(explicit.out).toContain('ok   Null kms:RecipientAttestation:ImageSha384: expected "true", request has (absent)');
    const docA64 = join(f.dir, 'doc-a.cose');
    writeFileSync(docA64, docA);
    const allowed = await cli(['--data-dir', f.dir, '--key-id', id, '--action', 'kms:Decrypt', '--attestation', docA64, '--trust-anchor', anchor, '--json']);
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.out)).toMatchObject({ outcome: 'Allowed', decision: { decidedBy: { index: 2, sid: 'EnclaveOnly' } } });
  });

  it('usage errors exit 2; an unknown key is reported (exit 1)', async () => {
    expect((await cli(['--key-id', 'x'])).code).toBe(2);
    expect((await cli(['--key-id', 'x', '--action', 'kms:Decrypt', '--encryption-context', 'novalue', '--data-dir', f.dir])).code).toBe(2);
    const badAction = await cli(['--key-id', 'x', '--action', 'Decrypt; drop', '--data-dir', f.dir]);
    expect(badAction.code).toBe(2);
    expect(badAction.err).toContain("--action must look like kms:Decrypt, got 'Decrypt; drop'");
    const badPrincipal = await cli(['--key-id', 'x', '--action', 'kms:Decrypt', '--principal', 'bob', '--data-dir', f.dir]);
    expect(badPrincipal.code).toBe(2);
    expect(badPrincipal.err).toContain("--principal must be an IAM or STS ARN, got 'bob'");
    const badAccount = await cli(['--key-id', 'x', '--action', 'kms:Decrypt', '--account', '1234', '--data-dir', f.dir]);
    expect(badAccount.code).toBe(2);
    expect(badAccount.err).toContain("--account must be 12 digits, got '1234'");
    // An ARN with an empty resource is not a principal (the library refuses it too: one rule).
    expect((await cli(['--key-id', 'x', '--action', 'kms:Decrypt', '--principal', `arn:aws:iam::${ACCOUNT}:`, '--data-dir', f.dir])).code).toBe(2);
    const missing = await cli(['--key-id', '00000000-0000-0000-0000-000000000000', '--action', 'kms:Decrypt', '--data-dir', f.dir]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/NotFoundException/);
  });
});
