// The audit log (kms-proxy/README.md, "Audit log"): CloudTrail-shaped records without secrets, a
// chain whose end is signed by a key derived from the master key, a signed head, and a verifier
// that finds every way of changing the log written as the attacker would: edit, delete, reorder,
// rewrite with a recomputed chain (with and without a key of one's own), cut the tail and rewrite
// or delete the head, drop or move segments.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, hkdfSync } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { main } from '../../host/cli/main.ts';
import { AuditLogError, auditLogVersion, auditSigningKeyOf, createKmsApp, readAuditRecords, recentAuditRecords, recoverAuditLog, verifyAuditLog, type AuditVerification } from '../../kms-proxy/index.ts';
import { userIdentity } from '../../kms-proxy/audit/cloudtrail.ts';
import { GENESIS, lineHash, signLine } from '../../kms-proxy/audit/format.ts';
import { AuditLog } from '../../kms-proxy/audit/log.ts';
import { MAX_SUMMARY_ROWS, RequestSummary } from '../../kms-proxy/audit/summary.ts';
import { AUDIT_KEY_LABEL, auditKeyId, auditSigningKey } from '../../kms-proxy/audit/signing-key.ts';
import { auditRecords, failure, startFixture, tempDir } from './helpers.ts';

const root = tempDir('kms-audit-');
const base = join(root, 'base');
let keyArn = '';
let secretB64 = '';
let dataKeyB64 = '';
/** x-amzn-RequestId of the Encrypt call and of the DescribeKey that fails, as the SDK read them. */
let encryptRequestId: string | undefined;
let failedRequestId: string | undefined;

beforeAll(async () => {
  const f = await startFixture({ dataDir: base });
  // A flush after each call: every record is the end of its own batch, so each line is signed and
  // a cut after any of them leaves a signed end (only the head can then tell).
  const step = async (fn: () => Promise<unknown>) => {
    await fn().catch(() => undefined);
    await f.server.flushAudit();
  };
  let keyId = '';
  await step(async () => {
    const m = (await f.kms.send(new CreateKeyCommand({ Description: 'audited' }))).KeyMetadata;
    keyArn = m?.Arn ?? '';
    keyId = m?.KeyId ?? '';
  });
  const secret = Buffer.from('top secret plaintext 0123456789');
  secretB64 = secret.toString('base64');
  let blob: Uint8Array | undefined;
  await step(async () => {
    const out = await f.kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: secret, EncryptionContext: { Who: 'test' } }));
    blob = out.CiphertextBlob;
    encryptRequestId = out.$metadata.requestId;
  });
  await step(() => f.kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { Who: 'test' } })));
  await step(async () => (dataKeyB64 = Buffer.from((await f.kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 32 }))).Plaintext ?? []).toString('base64')));
  await step(() => f.kms.send(new DescribeKeyCommand({ KeyId: 'alias/missing' })).catch((e: { $metadata?: { requestId?: string } }) => (failedRequestId = e.$metadata?.requestId)));
  await f.stop();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SEGMENT = join('audit', 'local', '00000001.log');
const HEAD = join('audit', 'local', 'head.json');

/** A copy of the base data directory (master key included, lock excluded). */
function copy(): string {
  const d = join(root, `copy-${Math.random().toString(36).slice(2)}`);
  cpSync(base, d, { recursive: true, filter: (src) => !src.endsWith('kms.lock') });
  return d;
}

function lines(d: string, segment = SEGMENT): string[] {
  return readFileSync(join(d, segment), 'utf8').split('\n').filter((l) => l !== '');
}

/** A copy whose first segment's lines are `edit(lines)`. */
function tampered(edit: (l: string[]) => string[]): string {
  const d = copy();
  writeFileSync(join(d, SEGMENT), `${edit(lines(d)).join('\n')}\n`);
  return d;
}

const SIG = /,"signature":"[A-Za-z0-9_-]{86}"\}$/;

/**
 * The attacker's rewrite: every line passed through `edit`, every link recomputed, and each line
 * that was signed given `sign(unsigned)` (default: the old signature member, kept as it was).
 */
function rechain(all: string[], edit: (unsigned: string, i: number) => string, sign?: (unsigned: string) => string): string[] {
  let prev = GENESIS;
  return all.map((l, i) => {
    const old = SIG.exec(l)?.[0];
    const unsigned = edit(l.replace(SIG, '}'), i).replace(/"previousHash":"[0-9a-f]{64}"/, `"previousHash":"${prev}"`);
    const line = old === undefined ? unsigned : sign ? sign(unsigned) : `${unsigned.slice(0, -1)}${old}`;
    prev = lineHash(line);
    return line;
  });
}

async function problem(d: string, options = {}): Promise<AuditVerification['problem']> {
  return (await verifyAuditLog(d, options)).problem;
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('records', () => {
  test('one CloudTrail-shaped record per authenticated call, successes and failures, after the segment start', async () => {
    const all = [];
    for await (const e of readAuditRecords(base)) all.push(e);
    expect(all.map((e) => e.recordType)).toEqual(['SegmentStart', 'AwsApiCall', 'AwsApiCall', 'AwsApiCall', 'AwsApiCall', 'AwsApiCall']);
    expect(all.every((e) => e.signed)).toBe(true);
    const r = all.slice(1).map((e) => e.record);
    expect(r.map((x) => x.eventName)).toEqual(['CreateKey', 'Encrypt', 'Decrypt', 'GenerateDataKey', 'DescribeKey']);
    expect(r[1]).toMatchObject({
      sequence: 3,
      recordType: 'AwsApiCall',
      eventVersion: '1.08',
      eventSource: 'kms.amazonaws.com',
      eventName: 'Encrypt',
      awsRegion: 'us-east-1',
      userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/nitro-sandbox', accountId: '111122223333', userName: 'nitro-sandbox' },
      // Member names in lowerCamelCase as CloudTrail writes them; the caller's context keys verbatim.
      requestParameters: { encryptionContext: { Who: 'test' } },
      resources: [{ accountId: '111122223333', type: 'AWS::KMS::Key', ARN: keyArn }],
      eventType: 'AwsApiCall',
      readOnly: true,
    });
    expect(r[1]?.eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(r[2]?.additionalEventData).toMatchObject({ authorization: { effect: 'Allow', decidedBy: { kind: 'statement', index: 0 } } });
    expect(r[4]).toMatchObject({ errorCode: 'NotFoundException', responseElements: null });
    // requestID is the x-amzn-RequestId the call was answered with, as CloudTrail's is, for a
    // success and a failure; eventID is the record's own.
    expect(encryptRequestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(r[1]?.requestID).toBe(encryptRequestId);
    expect(failedRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r[4]?.requestID).toBe(failedRequestId);
    expect(new Set(r.map((x) => x.requestID)).size).toBe(r.length);
    expect(r[1]?.eventID).not.toBe(r[1]?.requestID);
    expect((r[0]?.responseElements as { keyMetadata: { arn: string } }).keyMetadata.arn).toBe(keyArn);
    expect(all[0]?.record).toMatchObject({ sequence: 1, previousHash: GENESIS, replica: 'local', segment: 1, cause: 'new', format: 1, publicKey: auditSigningKeyOf(base)?.id });
  });

  test('no plaintext, data key or ciphertext is ever written', () => {
    const text = readFileSync(join(base, SEGMENT), 'utf8');
    expect(text).not.toContain(secretB64);
    expect(text).not.toContain(dataKeyB64);
    expect(text).not.toMatch(/"plaintext"|"ciphertextBlob"/i);
  });

  test('userIdentity by CloudTrail\'s identity types: an STS assumed-role ARN is AssumedRole with its role as sessionIssuer', () => {
    expect(userIdentity('arn:aws:sts::111122223333:assumed-role/Deployer/ci-run-7', 'ASIAEXAMPLE', '111122223333')).toEqual({
      type: 'AssumedRole',
      principalId: 'ASIAEXAMPLE:ci-run-7',
      arn: 'arn:aws:sts::111122223333:assumed-role/Deployer/ci-run-7',
      accountId: '111122223333',
      accessKeyId: 'ASIAEXAMPLE',
      sessionContext: {
        sessionIssuer: { type: 'Role', principalId: 'ASIAEXAMPLE', arn: 'arn:aws:iam::111122223333:role/Deployer', accountId: '111122223333', userName: 'Deployer' },
        attributes: { mfaAuthenticated: 'false' },
      },
    });
    expect(userIdentity('arn:aws:iam::444455556666:root', undefined, '111122223333')).toEqual({ type: 'Root', principalId: '444455556666', arn: 'arn:aws:iam::444455556666:root', accountId: '444455556666' });
    expect(userIdentity('arn:aws:sts::111122223333:federated-user/bob', 'ASIAX', '111122223333')).toMatchObject({ type: 'FederatedUser', principalId: '111122223333:bob' });
    expect(userIdentity('arn:aws:iam::111122223333:user/ops/alice', 'AKIAX', '111122223333')).toMatchObject({ type: 'IAMUser', userName: 'alice', principalId: 'AKIAX' });
    expect(userIdentity('arn:aws:iam::111122223333:role/Batch', 'AKIAX', '111122223333')).toMatchObject({ type: 'Role', userName: 'Batch' });
    expect(userIdentity(undefined, undefined, '111122223333')).toEqual({ type: 'Anonymous' });
  });

  test('a call signed with an assumed-role credential is recorded as AssumedRole', async () => {
    const credentials = [{ accessKeyId: 'ASIAASSUMED000000001', secretAccessKey: 'c2VjcmV0LWFzc3VtZWQtcm9sZS1zZXNzaW9u', principalArn: 'arn:aws:sts::111122223333:assumed-role/Deployer/ci-run-7', account: '111122223333' }];
    const f = await startFixture({ credentials });
    try {
      await f.kms.send(new ListKeysCommand({}));
      const rec = (await auditRecords(f.server, f.dir)).at(-1);
      expect(rec?.userIdentity).toMatchObject({ type: 'AssumedRole', arn: credentials[0]?.principalArn, sessionContext: { sessionIssuer: { type: 'Role', userName: 'Deployer' } } });
    } finally {
      await f.stop();
    }
  });
});

describe('recent records (the web console\'s live trail)', () => {
  test('the newest records from the end of the last segments, bounded reads, a line being written left out; the version changes with each write', () => {
    expect(recentAuditRecords(base, { limit: 2, types: ['AwsApiCall'] }).map((e) => e.record.eventName)).toEqual(['GenerateDataKey', 'DescribeKey']);
    const d = copy();
    const before = auditLogVersion(d);
    writeFileSync(join(d, SEGMENT), `${readFileSync(join(d, SEGMENT), 'utf8')}{"sequence":7,"previousHash":"`);
    expect(auditLogVersion(d)).not.toBe(before);
    // A read of the last 3000 bytes starts mid-line: that line and the one being written are left out.
    const recent = recentAuditRecords(d, { limit: 10, maxBytes: 3000 });
    expect(recent.length).toBeGreaterThan(0);
    expect(recent.length).toBeLessThan(6);
    expect(recent.at(-1)?.record.eventName).toBe('DescribeKey');
    expect(recent.map((e) => e.sequence)).toEqual(recent.map((_e, i) => 7 - recent.length + i));
    expect(recentAuditRecords(join(root, 'nothing-here'), { limit: 5 })).toEqual([]);
    expect(auditLogVersion(join(root, 'nothing-here'))).toBe('none');
  });
});

describe('the signing key: Ed25519 from HKDF-SHA256(master key, info = label)', () => {
  test('openssl derives the same key from master.key and verifies the last record\'s signature with it', () => {
    const d = copy();
    const master = readFileSync(join(d, 'master.key'));
    // The seed, by openssl's HKDF (RFC 5869: empty salt, the label as info).
    const seedHex = execFileSync('openssl', ['kdf', '-keylen', '32', '-kdfopt', 'digest:SHA256', '-kdfopt', `hexkey:${master.toString('hex')}`, '-kdfopt', `info:${AUDIT_KEY_LABEL}`, 'HKDF'], { encoding: 'utf8' }).trim().replace(/:/g, '').toLowerCase();
    expect(seedHex).toBe(Buffer.from(hkdfSync('sha256', master, new Uint8Array(0), AUDIT_KEY_LABEL, 32)).toString('hex'));
    writeFileSync(join(d, 'seed.der'), Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seedHex, 'hex')]));
    const pub = execFileSync('openssl', ['pkey', '-inform', 'DER', '-in', join(d, 'seed.der'), '-pubout'], { encoding: 'utf8' });
    expect(pub).toBe(auditSigningKeyOf(d)?.publicKey.export({ format: 'pem', type: 'spki' }));
    writeFileSync(join(d, 'pub.pem'), pub);
    // The message: the domain line, then the record without its signature member.
    const last = lines(d).at(-1) ?? '';
    const sig = /,"signature":"([A-Za-z0-9_-]{86})"\}$/.exec(last)?.[1] ?? '';
    writeFileSync(join(d, 'msg'), `nitro-sandbox/kms/audit/v1 record\n${last.replace(SIG, '}')}`);
    writeFileSync(join(d, 'sig'), Buffer.from(sig, 'base64url'));
    const ok = execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', join(d, 'pub.pem'), '-rawin', '-in', join(d, 'msg'), '-sigfile', join(d, 'sig')], { encoding: 'utf8' });
    expect(ok).toContain('Signature Verified Successfully');
  });
});

describe('kms audit verify', () => {
  test('the untouched log verifies: library, CLI with the master key, CLI with only the public key (id or PEM)', async () => {
    const r = await verifyAuditLog(base);
    expect(r).toMatchObject({ ok: true, records: 6, keyId: auditSigningKeyOf(base)?.id, replicas: [{ replica: 'local', ok: true, segments: 1, records: 6 }] });
    expect(r.problem).toBeUndefined();
    const viaMaster = await cli(['kms', 'audit', 'verify', '--data-dir', base]);
    expect(viaMaster).toMatchObject({ code: 0 });
    expect(viaMaster.out).toContain(`audit log intact: 6 records, signed by ${r.keyId}`);
    // An operator with read access to the log only: no master.key, the pinned public key.
    const d = copy();
    unlinkSync(join(d, 'master.key'));
    expect(await cli(['kms', 'audit', 'verify', '--data-dir', d, '--public-key', r.keyId ?? ''])).toMatchObject({ code: 0 });
    const key = await cli(['kms', 'audit', 'public-key', '--data-dir', base, '--pem']);
    writeFileSync(join(d, 'pinned.pem'), key.out);
    expect(await cli(['kms', 'audit', 'verify', '--data-dir', d, '--public-key', join(d, 'pinned.pem')])).toMatchObject({ code: 0 });
    // Without either there is nothing to check signatures with: exit 2, not "intact".
    const none = await cli(['kms', 'audit', 'verify', '--data-dir', d]);
    expect(none.code).toBe(2);
    expect(none.out).toContain('ERR_AUDIT_NO_KEY');
  });

  test('another key than the one the log was written under → ERR_AUDIT_KEY (a log is not verified with a key it names itself)', async () => {
    const other = auditKeyId(generateKeyPairSync('ed25519').publicKey);
    expect(await problem(base, { publicKey: other })).toMatchObject({ code: 'ERR_AUDIT_KEY', segment: 1, line: 1 });
    expect(await problem(base, { publicKey: 'not a key' })).toMatchObject({ code: 'ERR_AUDIT_NO_KEY' });
    const corrupt = copy();
    writeFileSync(join(corrupt, 'master.key'), 'short');
    expect(await problem(corrupt)).toMatchObject({ code: 'ERR_AUDIT_NO_KEY', message: 'The master key file is corrupt.' });
    // Verifying never creates a master key.
    unlinkSync(join(corrupt, 'master.key'));
    expect(await problem(corrupt)).toMatchObject({ code: 'ERR_AUDIT_NO_KEY' });
    expect(existsSync(join(corrupt, 'master.key'))).toBe(false);
  });

  test('an edited record → ERR_AUDIT_EDITED at its line (library and CLI)', async () => {
    const d = tampered((l) => l.map((x, i) => (i === 2 ? x.replace('"Encrypt"', '"ListKeys"') : x)));
    expect(await problem(d)).toMatchObject({ code: 'ERR_AUDIT_EDITED', replica: 'local', segment: 1, line: 3 });
    const r = await cli(['kms', 'audit', 'verify', '--data-dir', d]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('ERR_AUDIT_EDITED in replica local, segment 1, line 3');
  });

  test('an edited last record → ERR_AUDIT_SIGNATURE', async () => {
    const d = tampered((l) => l.map((x, i) => (i === l.length - 1 ? x.replace('"DescribeKey"', '"ListKeys"') : x)));
    expect(await problem(d)).toMatchObject({ code: 'ERR_AUDIT_SIGNATURE', line: 6 });
  });

  test('a deleted record → ERR_AUDIT_SEQUENCE; reordered records → ERR_AUDIT_SEQUENCE', async () => {
    expect(await problem(tampered((l) => l.filter((_x, i) => i !== 2)))).toMatchObject({ code: 'ERR_AUDIT_SEQUENCE', line: 3 });
    expect(await problem(tampered((l) => [l[0] ?? '', l[2] ?? '', l[1] ?? '', ...l.slice(3)]))).toMatchObject({ code: 'ERR_AUDIT_SEQUENCE', line: 2 });
  });

  test('every record rewritten and the chain recomputed → ERR_AUDIT_SIGNATURE (the last signature no longer matches), with or without the head', async () => {
    const d = tampered((l) => rechain(l, (u) => u.replace('"Decrypt"', '"ListKeys"')));
    expect(await problem(d)).toMatchObject({ code: 'ERR_AUDIT_SIGNATURE', segment: 1, line: 6 });
    unlinkSync(join(d, HEAD));
    expect(await problem(d)).toMatchObject({ code: 'ERR_AUDIT_SIGNATURE', segment: 1, line: 6 });
  });

  test('… with the signatures removed → ERR_AUDIT_UNSIGNED', async () => {
    const d = tampered((l) => rechain(l, (u) => u.replace('"Decrypt"', '"ListKeys"'), (u) => u));
    expect(await problem(d)).toMatchObject({ code: 'ERR_AUDIT_UNSIGNED', line: 6 });
  });

  test('a log swapped for another genuinely signed history → ERR_AUDIT_HEAD (the head names a record the log holds with another hash)', async () => {
    // Two copies of one data directory, each run once more: same key, same first records,
    // different seventh. Copy A's log beside copy B's head.
    const runOnce = async () => {
      const d = copy();
      const f = await startFixture({ dataDir: d });
      await f.kms.send(new ListKeysCommand({}));
      await f.stop();
      return d;
    };
    const a = await runOnce();
    const b = await runOnce();
    expect(await verifyAuditLog(a)).toMatchObject({ ok: true, records: 7 });
    writeFileSync(join(a, HEAD), readFileSync(join(b, HEAD)));
    expect(await problem(a)).toMatchObject({ code: 'ERR_AUDIT_HEAD', segment: 1, line: 7 });
  });

  test('the tail cut at a signed record → ERR_AUDIT_TRUNCATED (the signed head names a later record)', async () => {
    expect(await problem(tampered((l) => l.slice(0, -2)))).toMatchObject({ code: 'ERR_AUDIT_TRUNCATED', line: 0 });
  });

  test('the tail cut and the head rewritten to match → ERR_AUDIT_SIGNATURE (the head is signed)', async () => {
    const d = tampered((l) => l.slice(0, -2));
    const h = JSON.parse(readFileSync(join(d, HEAD), 'utf8')) as Record<string, unknown>;
    const kept = lines(d);
    writeFileSync(join(d, HEAD), JSON.stringify({ ...h, sequence: kept.length, lineHash: lineHash(kept.at(-1) ?? '') }));
    expect(await problem(d)).toMatchObject({ code: 'ERR_AUDIT_SIGNATURE', line: 0 });
  });

  test('a deleted head → ERR_AUDIT_HEAD_MISSING; a head that is not a head → ERR_AUDIT_MALFORMED', async () => {
    const d = copy();
    unlinkSync(join(d, HEAD));
    expect(await problem(d)).toMatchObject({ code: 'ERR_AUDIT_HEAD_MISSING', line: 0 });
    for (const text of ['null', '{"sequence":', '[5]', '{}']) {
      writeFileSync(join(d, HEAD), text);
      expect(await problem(d), text).toMatchObject({ code: 'ERR_AUDIT_MALFORMED', line: 0 });
    }
  });

  test('records appended after the last signed one → ERR_AUDIT_UNSIGNED; garbage → ERR_AUDIT_MALFORMED; a line cut short → ERR_AUDIT_MALFORMED', async () => {
    const extra = (l: string[]) => {
      const last = l.at(-1) ?? '';
      return `{"sequence":${l.length + 1},"previousHash":"${lineHash(last)}","recordType":"AwsApiCall","eventName":"Decrypt"}`;
    };
    expect(await problem(tampered((l) => [...l, extra(l)]))).toMatchObject({ code: 'ERR_AUDIT_UNSIGNED', line: 7 });
    expect(await problem(tampered((l) => [...l.slice(0, 2), 'garbage', ...l.slice(2)]))).toMatchObject({ code: 'ERR_AUDIT_MALFORMED', line: 3 });
    const d = copy();
    const text = readFileSync(join(d, SEGMENT), 'utf8');
    writeFileSync(join(d, SEGMENT), text.slice(0, -40));
    expect(await problem(d)).toMatchObject({ code: 'ERR_AUDIT_MALFORMED', line: 6 });
  });

  test('a first record that does not start a chain → ERR_AUDIT_CHAIN', async () => {
    const d = tampered((l) => [l[0]?.replace(GENESIS, '1'.repeat(64)) ?? '', ...l.slice(1)]);
    expect(await problem(d)).toMatchObject({ code: 'ERR_AUDIT_CHAIN', line: 1 });
  });

  test('an older copy of the whole log put back with its own head verifies alone, and fails against a head saved later (--since-head) → ERR_AUDIT_ROLLED_BACK', async () => {
    const older = copy();
    const d = copy();
    const f = await startFixture({ dataDir: d });
    await f.kms.send(new ListKeysCommand({}));
    await f.stop();
    const saved = readFileSync(join(d, HEAD));
    writeFileSync(join(root, 'saved-head.json'), saved);
    // The attacker puts the older log and head back.
    rmSync(join(d, 'audit'), { recursive: true });
    cpSync(join(older, 'audit'), join(d, 'audit'), { recursive: true });
    expect(await verifyAuditLog(d)).toMatchObject({ ok: true });
    expect(await problem(d, { sinceHead: saved })).toMatchObject({ code: 'ERR_AUDIT_ROLLED_BACK', replica: 'local' });
    const r = await cli(['kms', 'audit', 'verify', '--data-dir', d, '--since-head', join(root, 'saved-head.json')]);
    expect([r.code, r.out]).toEqual([1, expect.stringContaining('ERR_AUDIT_ROLLED_BACK')]);
    // The log that holds the saved record passes; a saved head that is not genuine vouches for nothing.
    expect(await verifyAuditLog(base, { sinceHead: readFileSync(join(older, HEAD)) })).toMatchObject({ ok: true });
    const forged = Buffer.from(readFileSync(join(older, HEAD), 'utf8').replace('"sequence":6', '"sequence":5'));
    expect(await problem(base, { sinceHead: forged })).toMatchObject({ code: 'ERR_AUDIT_ROLLED_BACK', message: expect.stringContaining('does not verify') });
  });

  test('a directory without a log → ERR_AUDIT_MISSING; an unsigned audit.log of an earlier version → ERR_AUDIT_LEGACY', async () => {
    const d = copy();
    rmSync(join(d, 'audit'), { recursive: true });
    expect(await problem(d)).toMatchObject({ code: 'ERR_AUDIT_MISSING' });
    expect((await cli(['kms', 'audit', 'verify', '--data-dir', join(root, 'typo')])).code).toBe(2);
    const legacy = copy();
    writeFileSync(join(legacy, 'audit.log'), '{"sequence":1}\n');
    expect(await problem(legacy)).toMatchObject({ code: 'ERR_AUDIT_LEGACY' });
  });
});

describe('verifying a log a KMS is writing', () => {
  test('live: what follows the last signed record (a batch being written) is counted, not judged; strict, it fails', async () => {
    const torn = copy();
    const text = readFileSync(join(torn, SEGMENT), 'utf8');
    const next = `{"sequence":7,"previousHash":"${lineHash(lines(torn).at(-1) ?? '')}","recordType":"AwsApiCall","eventName":"Decrypt"}`;
    writeFileSync(join(torn, SEGMENT), `${text}${next.slice(0, 30)}`);
    expect(await problem(torn, { live: false })).toMatchObject({ code: 'ERR_AUDIT_MALFORMED', line: 7 });
    expect(await verifyAuditLog(torn, { live: true })).toMatchObject({ ok: true, live: true, records: 6, replicas: [{ pendingBytes: 30 }] });
    const unsigned = copy();
    writeFileSync(join(unsigned, SEGMENT), `${text}${next}\n${next.slice(0, 12)}`);
    expect(await problem(unsigned, { live: false })).toMatchObject({ code: 'ERR_AUDIT_MALFORMED' });
    expect(await verifyAuditLog(unsigned, { live: true })).toMatchObject({ ok: true, records: 6, replicas: [{ pendingBytes: next.length + 1 + 12 }] });
    // Signed records are judged as always: live is no excuse for an edit, nor for a cut.
    const edited = tampered((l) => l.map((x, i) => (i === 2 ? x.replace('"Encrypt"', '"ListKeys"') : x)));
    expect(await problem(edited, { live: true })).toMatchObject({ code: 'ERR_AUDIT_EDITED', line: 3 });
    expect(await problem(tampered((l) => l.slice(0, -2)), { live: true })).toMatchObject({ code: 'ERR_AUDIT_TRUNCATED' });
  });

  test('a running KMS under load: every verification (live, because the KMS holds the lock) finds the log intact', async () => {
    // Load, not a quota test: the List quota must not cut the loops short.
    const f = await startFixture({ quotas: { list: { rate: 1e6 } } });
    try {
      let stop = false;
      const workers = [0, 1, 2, 3].map(async () => {
        while (!stop) await f.kms.send(new ListKeysCommand({}));
      });
      const results: AuditVerification[] = [];
      for (let i = 0; i < 15; i++) {
        await f.kms.send(new ListKeysCommand({}));
        results.push(await verifyAuditLog(f.dir));
      }
      stop = true;
      await Promise.all(workers);
      expect(results.map((r) => [r.ok, r.live, r.problem?.code])).toEqual(results.map(() => [true, true, undefined]));
      expect(results.at(-1)?.records).toBeGreaterThan(results[0]?.records ?? 0);
    } finally {
      await f.stop();
    }
  });
});

describe('segments', () => {
  /** A data directory whose log has `n` ListKeys records in segments of at most `maxSegmentBytes`. */
  async function segmented(n: number, maxSegmentBytes = 4096): Promise<string> {
    const f = await startFixture({ dataDir: join(root, `seg-${Math.random().toString(36).slice(2)}`), audit: { maxSegmentBytes } });
    for (let i = 0; i < n; i++) {
      await f.kms.send(new ListKeysCommand({}));
      await f.server.flushAudit();
    }
    await f.stop();
    return f.dir;
  }

  test('settings are checked before the data directory is made: sizes, ages and intervals out of range, a replica id that is not one → ERR_KMS_VALIDATION', async () => {
    for (const audit of [{ maxSegmentBytes: 100 }, { maxSegmentBytes: 4096.5 }, { maxSegmentAgeMs: 0 }, { summaryIntervalMs: Number.NaN }, { replica: 'Local' }, { replica: '../x' }, { replica: '' }]) {
      const dataDir = join(root, `never-${Math.random().toString(36).slice(2)}`);
      await expect(createKmsApp({ dataDir, audit }), JSON.stringify(audit)).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION' });
      expect(existsSync(dataDir)).toBe(false);
    }
  });

  test('rotation by size: numbered segments, each opening with a SegmentStart (cause size), one chain across them', async () => {
    const d = await segmented(12);
    const names = readdirSync(join(d, 'audit', 'local')).filter((x) => x.endsWith('.log'));
    expect(names.length).toBeGreaterThan(2);
    expect(names).toEqual(names.map((_x, i) => `${String(i + 1).padStart(8, '0')}.log`));
    const starts = [];
    for await (const e of readAuditRecords(d, { types: ['SegmentStart'] })) starts.push(e.record);
    expect(starts.map((s) => [s.segment, s.cause])).toEqual(names.map((_x, i) => [i + 1, i === 0 ? 'new' : 'size']));
    expect(await verifyAuditLog(d)).toMatchObject({ ok: true, records: 12 + names.length, replicas: [{ segments: names.length }] });
  });

  test('rotation by age, on the KMS clock', async () => {
    let now = Date.UTC(2026, 5, 1);
    const f = await startFixture({ clock: () => now, audit: { maxSegmentAgeMs: 60_000 } });
    try {
      await f.kms.send(new ListKeysCommand({}));
      now += 61_000;
      await f.kms.send(new ListKeysCommand({}));
      await f.server.flushAudit();
      const starts = await auditRecords(undefined, f.dir, ['SegmentStart']);
      expect(starts.map((s) => [s.segment, s.cause, s.time])).toEqual([
        [1, 'new', new Date(Date.UTC(2026, 5, 1)).toISOString()],
        [2, 'age', new Date(now).toISOString()],
      ]);
    } finally {
      await f.stop();
    }
  });

  test('a deleted, renamed or swapped segment → ERR_AUDIT_SEGMENT', async () => {
    const d = await segmented(12);
    const first = copyOf(d);
    unlinkSync(join(first, 'audit', 'local', '00000001.log'));
    expect(await problem(first)).toMatchObject({ code: 'ERR_AUDIT_SEGMENT', segment: 1 });
    const middle = copyOf(d);
    unlinkSync(join(middle, 'audit', 'local', '00000002.log'));
    expect(await problem(middle)).toMatchObject({ code: 'ERR_AUDIT_SEGMENT', segment: 2 });
    const swapped = copyOf(d);
    const s = join(swapped, 'audit', 'local');
    const two = readFileSync(join(s, '00000002.log'));
    writeFileSync(join(s, '00000002.log'), readFileSync(join(s, '00000003.log')));
    writeFileSync(join(s, '00000003.log'), two);
    expect(await problem(swapped)).toMatchObject({ code: 'ERR_AUDIT_SEQUENCE', segment: 2, line: 1 });
  });

  test('a segment moved in from another replica → ERR_AUDIT_SEGMENT', async () => {
    const d = await segmented(3);
    const other = join(d, 'audit', 'other');
    mkdirSync(other);
    cpSync(join(d, 'audit', 'local', '00000001.log'), join(other, '00000001.log'));
    cpSync(join(d, 'audit', 'local', 'head.json'), join(other, 'head.json'));
    expect(await problem(d)).toMatchObject({ code: 'ERR_AUDIT_SEGMENT', replica: 'other', segment: 1, line: 1 });
    unlinkSync(join(other, 'head.json'));
    expect(await problem(d)).toMatchObject({ code: 'ERR_AUDIT_SEGMENT', replica: 'other', segment: 1, line: 1 });
  });

  test('restarting continues the last segment and the chain; an empty segment left by an interrupted rotation is resumed', async () => {
    const d = await segmented(3, 1 << 20);
    const f = await startFixture({ dataDir: d });
    await f.kms.send(new ListKeysCommand({}));
    await f.stop();
    expect(readdirSync(join(d, 'audit', 'local')).filter((x) => x.endsWith('.log'))).toEqual(['00000001.log']);
    expect(await verifyAuditLog(d)).toMatchObject({ ok: true, records: 5 });
    writeFileSync(join(d, 'audit', 'local', '00000002.log'), '');
    expect(await verifyAuditLog(d)).toMatchObject({ ok: true, records: 5 });
    const g = await startFixture({ dataDir: d });
    await g.kms.send(new ListKeysCommand({}));
    await g.stop();
    const starts = await auditRecords(undefined, d, ['SegmentStart']);
    expect(starts.map((s) => [s.segment, s.cause])).toEqual([[1, 'new'], [2, 'resume']]);
    expect(await verifyAuditLog(d)).toMatchObject({ ok: true, records: 7 });
  });
});

function copyOf(d: string): string {
  const c = join(root, `c-${Math.random().toString(36).slice(2)}`);
  cpSync(d, c, { recursive: true });
  return c;
}

describe('streaming', () => {
  test('a log many times larger than the read buffer verifies with a 4 KiB buffer; a line over the line limit is refused, not read whole', async () => {
    const d = join(root, 'stream');
    const key = auditSigningKey(new Uint8Array(32).fill(7));
    const log = await AuditLog.open({ dataDir: d, key, region: 'us-east-1', account: '111122223333' });
    const big = 'x'.repeat(6000); // longer than the read chunk: lines span reads
    for (let i = 0; i < 300; i++) {
      log.append({ eventTime: i, eventName: 'Encrypt', region: 'us-east-1', account: '111122223333', readOnly: true, requestParameters: { KeyId: `k${i}`, EncryptionContext: { pad: i % 7 === 0 ? big : 'p' } } });
      if (i % 10 === 9) log.flush();
    }
    log.close();
    const size = readFileSync(join(d, SEGMENT)).length;
    const limits = { chunkBytes: 4096, maxLineBytes: 8192, publicKey: key.publicKey };
    expect(size).toBeGreaterThan(20 * (limits.chunkBytes + limits.maxLineBytes));
    expect(await verifyAuditLog(d, limits)).toMatchObject({ ok: true, records: 301 });
    // A record longer than the reader's line limit is refused where it is, in bounded memory.
    expect(await problem(d, { ...limits, maxLineBytes: 4096 })).toMatchObject({ code: 'ERR_AUDIT_MALFORMED', line: 2 });
    // The default limit is far above what the writer produces: over-large members are omitted.
    const huge = join(root, 'huge');
    const h = await AuditLog.open({ dataDir: huge, key, region: 'us-east-1', account: '111122223333' });
    h.append({ eventTime: 0, eventName: 'PutKeyPolicy', region: 'us-east-1', account: '111122223333', readOnly: false, requestParameters: { Policy: 'p'.repeat(900_000) } });
    h.close();
    const rec = (await auditRecords(undefined, huge)).at(-1);
    expect(rec).toMatchObject({ eventName: 'PutKeyPolicy', requestParameters: null });
    expect(rec?.omitted).toContain('exceeded');
    expect(await verifyAuditLog(huge, { publicKey: key.publicKey })).toMatchObject({ ok: true });
  });
});

describe('the KMS refuses a broken log, and recovery', () => {
  const broken: [string, (d: string) => void][] = [
    ['tail cut', (d) => writeFileSync(join(d, SEGMENT), `${lines(d).slice(0, -1).join('\n')}\n`)],
    ['head deleted', (d) => unlinkSync(join(d, HEAD))],
    ['rewritten with a recomputed chain', (d) => writeFileSync(join(d, SEGMENT), `${rechain(lines(d), (u) => u.replace('"Decrypt"', '"ListKeys"')).join('\n')}\n`)],
    ['a record edited', (d) => writeFileSync(join(d, SEGMENT), `${lines(d).map((x, i) => (i === 1 ? x.replace('CreateKey', 'ListKeys') : x)).join('\n')}\n`)],
    ['an unsigned audit.log of an earlier version', (d) => writeFileSync(join(d, 'audit.log'), '{"sequence":1,"hash":"x"}\n')],
    // Not taken for a new directory: the replica's folder, or the store, says a log was written.
    ['every segment and the head deleted', (d) => {
      unlinkSync(join(d, SEGMENT));
      unlinkSync(join(d, HEAD));
    }],
    ['the whole audit folder deleted', (d) => rmSync(join(d, 'audit'), { recursive: true })],
  ];

  test.each(broken)('%s: start-up refused with the problem and the recovery command; nothing is written to the log', async (_what, breakIt) => {
    const d = copy();
    breakIt(d);
    const before = existsSync(join(d, SEGMENT)) ? readFileSync(join(d, SEGMENT)) : undefined;
    const e = await createKmsApp({ dataDir: d }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(AuditLogError);
    expect(e).toMatchObject({ code: 'ERR_KMS_INTERNAL' });
    expect((e as Error).message).toContain(`nitro-sandbox kms audit recover --data-dir ${d} --reason`);
    expect((e as AuditLogError).problem.code).toBe((await verifyAuditLog(d)).problem?.code);
    if (before) expect(readFileSync(join(d, SEGMENT))).toEqual(before);
    // The refusal released the directory: recovery can take it, and the KMS then starts.
    const r = await recoverAuditLog(d, { reason: `test: ${_what}`, operator: 'tester' });
    expect(r.problem.code).toBe((e as AuditLogError).problem.code);
    const k = await createKmsApp({ dataDir: d });
    await k.close();
    expect(await verifyAuditLog(d)).toMatchObject({ ok: true });
  });

  test('a write cut short (what kill -9 mid-write leaves): verify fails on the stopped KMS; the KMS sets the unsigned bytes aside itself, records it, and starts', async () => {
    for (const tail of ['partial', 'unsigned records'] as const) {
      const d = copy();
      const text = readFileSync(join(d, SEGMENT), 'utf8');
      const l = lines(d);
      const next = `{"sequence":7,"previousHash":"${lineHash(l.at(-1) ?? '')}","recordType":"AwsApiCall","eventName":"Decrypt"}`;
      const extra = tail === 'partial' ? next.slice(0, 50) : `${next}\n`;
      writeFileSync(join(d, SEGMENT), text + extra);
      expect(await problem(d), tail).toMatchObject({ code: tail === 'partial' ? 'ERR_AUDIT_MALFORMED' : 'ERR_AUDIT_UNSIGNED', line: 7 });
      const f = await startFixture({ dataDir: d });
      await f.kms.send(new ListKeysCommand({}));
      await f.stop();
      const v = await verifyAuditLog(d);
      expect(v, tail).toMatchObject({ ok: true, records: 8 });
      const [rec] = await auditRecords(undefined, d, ['Recovery']);
      const setAside = rec?.setAside as { dir: string; files: { name: string; bytes: number; sha256: string }[] };
      expect(rec).toMatchObject({ sequence: 7, automatic: true, operator: 'kms', verifiedRecords: 6, reason: expect.stringContaining(`the ${extra.length} bytes after the last signed record`) });
      expect(setAside.dir).toMatch(/^recovered\/\d{8}T\d{6}Z-interrupted-write$/);
      expect(readFileSync(join(d, 'audit', 'local', setAside.dir, '00000001.log'), 'utf8')).toBe(extra);
      expect(setAside.files).toEqual([{ name: '00000001.log', bytes: extra.length, sha256: lineHash(extra) }]);
    }
    // Only a tail: with anything else wrong as well, the KMS still refuses.
    const both = tampered((l) => [...l.map((x, i) => (i === 2 ? x.replace('"Encrypt"', '"ListKeys"') : x)), 'cut sho']);
    await expect(createKmsApp({ dataDir: both })).rejects.toBeInstanceOf(AuditLogError);
  });

  test('recover: the old files are kept with their digests, the new chain opens with a signed Recovery record, and the evidence cannot be edited afterwards', async () => {
    let now = Date.UTC(2026, 11, 1, 12, 0, 0);
    const d = copy();
    unlinkSync(join(d, HEAD));
    const oldSegment = readFileSync(join(d, SEGMENT));
    const { code, out } = await cli(['kms', 'audit', 'recover', '--data-dir', d, '--reason', 'head deleted during the 2026-12-01 incident; see ticket 42']);
    expect(code).toBe(0);
    expect(out).toMatch(/^audit log of replica local set aside \(ERR_AUDIT_HEAD_MISSING\): 1 file moved to audit\/local\/recovered\/\d{8}T\d{6}Z\//);
    const v = await verifyAuditLog(d);
    expect(v).toMatchObject({ ok: true, records: 2, replicas: [{ recoveries: [{ sequence: 2, reason: 'head deleted during the 2026-12-01 incident; see ticket 42' }] }] });
    const [start, recovery] = await auditRecords(undefined, d, ['SegmentStart', 'Recovery']);
    expect(start).toMatchObject({ sequence: 1, segment: 1, cause: 'recovery' });
    const setAside = (recovery?.setAside ?? {}) as { dir: string; files: { name: string; bytes: number; sha256: string }[] };
    expect(recovery).toMatchObject({ recordType: 'Recovery', problem: { code: 'ERR_AUDIT_HEAD_MISSING' }, verifiedRecords: 6 });
    expect(setAside.files).toEqual([{ name: '00000001.log', bytes: oldSegment.length, sha256: lineHash(oldSegment) }]);
    expect(readFileSync(join(d, 'audit', 'local', setAside.dir, '00000001.log'))).toEqual(oldSegment);
    const verified = await cli(['kms', 'audit', 'verify', '--data-dir', d]);
    expect(verified.out).toContain('recoveries: "head deleted during the 2026-12-01 incident; see ticket 42"');
    // Editing the evidence afterwards is found.
    writeFileSync(join(d, 'audit', 'local', setAside.dir, '00000001.log'), oldSegment.toString().replace('CreateKey', 'ListKeys'));
    expect(await problem(d)).toMatchObject({ code: 'ERR_AUDIT_EVIDENCE' });
    // A second recovery sets aside the first's chain (its recovered/ folder stays where it is).
    now += 1000;
    const again = await recoverAuditLog(d, { reason: 'evidence edited', now: () => now });
    expect(again.problem.code).toBe('ERR_AUDIT_EVIDENCE');
    expect(again.files.map((f) => f.name)).toEqual(['00000001.log', 'head.json']);
    // The new chain fixes the second chain's files; the first recovery's edited folder is what
    // the second Recovery record was about, and stays as it is.
    expect(await verifyAuditLog(d)).toMatchObject({ ok: true, replicas: [{ recoveries: [{ reason: 'evidence edited' }] }] });
  });

  test('recover moves stray files too, under names its record can hold, and the result verifies', async () => {
    const d = copy();
    unlinkSync(join(d, HEAD));
    writeFileSync(join(d, 'audit', 'local', 'notes from ops (1).txt'), 'who was here');
    mkdirSync(join(d, 'audit', 'local', 'a folder'));
    const r = await recoverAuditLog(d, { reason: 'stray files' });
    expect(r.files.map((f) => f.name)).toEqual(['00000001.log', 'notes_from_ops__1_.txt']);
    expect(existsSync(join(d, 'audit', 'local', r.setAsideDir, 'a_folder'))).toBe(true);
    expect(await verifyAuditLog(d)).toMatchObject({ ok: true });
  });

  test('recover refuses: an intact log, no reason, a KMS running on the directory, no master key; and then moves nothing', async () => {
    const d = copy();
    await expect(recoverAuditLog(d, { reason: 'nothing wrong' })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION', message: expect.stringContaining('verifies; there is nothing to recover') });
    expect((await cli(['kms', 'audit', 'recover', '--data-dir', d])).code).toBe(2);
    unlinkSync(join(d, HEAD));
    await expect(recoverAuditLog(d, { reason: '  ' })).rejects.toMatchObject({ code: 'ERR_KMS_VALIDATION' });
    // A live process holds the directory's lock, as a running KMS does.
    writeFileSync(join(d, 'kms.lock'), String(process.pid));
    await expect(recoverAuditLog(d, { reason: 'x' })).rejects.toMatchObject({ message: expect.stringContaining('is in use by another KMS') });
    unlinkSync(join(d, 'kms.lock'));
    unlinkSync(join(d, 'master.key'));
    await expect(recoverAuditLog(d, { reason: 'x' })).rejects.toMatchObject({ message: expect.stringContaining('master.key is missing') });
    expect(existsSync(join(d, SEGMENT))).toBe(true);
    expect(existsSync(join(d, 'audit', 'local', 'recovered'))).toBe(false);
  });
});

describe('summary records: calls refused before authentication or by the quota are counted, not recorded one by one', () => {
  test('a flood of unauthenticated calls adds one RequestSummary with counts per source and reason, and no AwsApiCall record', async () => {
    const f = await startFixture({ audit: { summaryIntervalMs: 3_600_000 } });
    try {
      const url = f.server.endpoint;
      const post = (headers: Record<string, string>) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.Decrypt', ...headers }, body: '{}' });
      for (let i = 0; i < 100; i++) expect((await post({})).status).toBe(400);
      for (let i = 0; i < 20; i++) await post({ authorization: `AWS4-HMAC-SHA256 Credential=AKIANOBODY/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}` });
      expect(await auditRecords(f.server, f.dir)).toEqual([]);
      const summaries = await auditRecords(undefined, f.dir, ['RequestSummary']);
      expect(summaries).toHaveLength(1);
      expect(summaries[0]).toMatchObject({ total: 120, unattributed: 0, awsRegion: 'us-east-1' });
      const counts = (summaries[0]?.counts ?? []) as Record<string, unknown>[];
      expect(counts).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ kind: 'unauthenticated', sourceIPAddress: '127.0.0.1', errorCode: 'MissingAuthenticationTokenException', eventName: 'Decrypt', count: 100 }),
          expect.objectContaining({ kind: 'unauthenticated', errorCode: 'UnrecognizedClientException', eventName: 'Decrypt', count: 20 }),
        ]),
      );
      expect(counts).toHaveLength(2);
      expect(readFileSync(join(f.dir, SEGMENT)).length).toBeLessThan(4096);
      expect(await verifyAuditLog(f.dir)).toMatchObject({ ok: true });
    } finally {
      await f.stop();
    }
  });

  test('the table is bounded: calls from sources past 1000 rows are counted as unattributed; a large table is split into parts of bounded size', () => {
    const summary = new RequestSummary();
    for (let i = 0; i < 1500; i++) summary.count({ kind: 'unauthenticated', time: i, sourceIp: `10.0.${i >> 8}.${i & 255}`, errorCode: 'InvalidSignatureException', eventName: 'Decrypt' });
    summary.count({ kind: 'unauthenticated', time: 2000, sourceIp: '10.0.0.0', errorCode: 'InvalidSignatureException', eventName: 'Decrypt' });
    const parts = summary.take('us-east-1', '111122223333');
    const rows = parts.flatMap((p) => p.counts as Record<string, unknown>[]);
    expect(rows).toHaveLength(MAX_SUMMARY_ROWS);
    expect(rows[0]).toMatchObject({ sourceIPAddress: '10.0.0.0', count: 2, firstTime: new Date(0).toISOString(), lastTime: new Date(2000).toISOString() });
    expect(parts.map((p) => [p.total, p.unattributed, p.parts])).toEqual(parts.map(() => [1501, 500, parts.length]));
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(JSON.stringify(p).length).toBeLessThan(128 * 1024);
    // The table starts afresh.
    expect(summary.take('us-east-1', '111122223333')).toEqual([]);
  });

  test('throttled calls are counted with their principal; an unknown operation name is counted as Unknown', async () => {
    const f = await startFixture({ quotas: { list: { rate: 1, burst: 1 } } });
    try {
      await f.kms.send(new ListKeysCommand({}));
      for (let i = 0; i < 5; i++) expect((await failure(() => f.kms.send(new ListKeysCommand({})))).name).toBe('ThrottlingException');
      await fetch(f.server.endpoint, { method: 'POST', headers: { 'x-amz-target': 'TrentService.ABCDEFGHIJKLMNOP' }, body: '{}' });
      expect((await auditRecords(f.server, f.dir)).map((r) => r.eventName)).toEqual(['ListKeys']);
      const counts = (await auditRecords(undefined, f.dir, ['RequestSummary'])).flatMap((s) => s.counts as Record<string, unknown>[]);
      expect(counts).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ kind: 'throttled', errorCode: 'ThrottlingException', eventName: 'ListKeys', principalArn: 'arn:aws:iam::111122223333:user/nitro-sandbox', count: 5 }),
          expect.objectContaining({ kind: 'unauthenticated', eventName: 'Unknown', count: 1 }),
        ]),
      );
    } finally {
      await f.stop();
    }
  });
});

describe('write failures: nothing dropped, nothing written twice, calls refused while the log cannot be written', () => {
  test('a full disk mid-batch (part written, then ENOSPC): the batch is rewritten whole once space returns, and the chain verifies', async () => {
    const d = join(root, 'enospc');
    const key = auditSigningKey(new Uint8Array(32).fill(9));
    const reported: unknown[] = [];
    let full = false;
    const { writeSync } = await import('node:fs');
    const write = (fd: number, buffer: Buffer, offset: number, length: number, position: number): number => {
      if (!full) return writeSync(fd, buffer, offset, length, position);
      if (length > 10) return writeSync(fd, buffer, offset, Math.floor(length / 2), position);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    const log = await AuditLog.open({ dataDir: d, key, region: 'r', account: 'a', write, onError: (e) => reported.push(e) });
    const ev = (i: number) => ({ eventTime: i, eventName: 'Encrypt', region: 'r', account: 'a', readOnly: true, requestParameters: { KeyId: `k${i}` } });
    log.append(ev(1));
    expect(log.flush()).toBe(true);
    full = true;
    log.append(ev(2));
    log.append(ev(3));
    expect(log.flush()).toBe(false);
    expect(log.available).toBe(false);
    // The half-written batch was cut off: the file ends at the last complete batch.
    expect(await verifyAuditLog(d, { publicKey: key.publicKey })).toMatchObject({ ok: true, records: 2 });
    log.append(ev(4));
    expect(log.flush()).toBe(false);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({ code: 'ERR_KMS_INTERNAL', message: expect.stringContaining('ENOSPC') });
    await expect(log.flushed()).rejects.toMatchObject({ code: 'ERR_KMS_INTERNAL' });
    full = false;
    expect(log.flush()).toBe(true);
    expect(log.available).toBe(true);
    log.close();
    const recs = await auditRecords(undefined, d);
    expect(recs.map((r) => r.requestParameters.keyId)).toEqual(['k1', 'k2', 'k3', 'k4']);
    expect(await verifyAuditLog(d, { publicKey: key.publicKey })).toMatchObject({ ok: true, records: 5 });
  });

  test('a KMS whose segment cannot be written (the kernel\'s /dev/full) refuses calls with KMSInternalException, reports once, and counts the refusals', async () => {
    const reported: unknown[] = [];
    const f = await startFixture({ audit: { maxSegmentBytes: 4096 }, onInternalError: (e) => reported.push(e) });
    try {
      // The next segment is the kernel's always-full device.
      symlinkSync('/dev/full', join(f.dir, 'audit', 'local', '00000002.log'));
      let refused: Error | undefined;
      for (let i = 0; i < 200 && !refused; i++) {
        await f.kms.send(new ListKeysCommand({})).catch((e: Error) => (refused = e));
        await f.server.flushAudit().catch(() => undefined);
      }
      expect(refused).toMatchObject({ name: 'KMSInternalException', $metadata: { httpStatusCode: 500 } });
      expect(reported).toHaveLength(1);
      expect(reported[0]).toMatchObject({ message: expect.stringContaining('ENOSPC') });
      expect((await failure(() => f.kms.send(new ListKeysCommand({})))).name).toBe('KMSInternalException');
      await expect(f.server.flushAudit()).rejects.toMatchObject({ code: 'ERR_KMS_INTERNAL' });
    } finally {
      await f.stop();
    }
    // The records that could not be written are reported as lost at close, not silently dropped.
    expect(reported.at(-1)).toMatchObject({ message: expect.stringMatching(/audit records could not be written before the KMS closed/) });
  });

  test('a head that cannot be written is reported and retried; calls go on (a lagging head is allowed)', async () => {
    const reported: unknown[] = [];
    const f = await startFixture({ onInternalError: (e) => reported.push(e) });
    try {
      mkdirSync(join(f.dir, HEAD + '.tmp'));
      await f.kms.send(new ListKeysCommand({}));
      await f.server.flushAudit();
      expect(reported).toHaveLength(1);
      expect(reported[0]).toMatchObject({ message: expect.stringContaining('head') });
      await f.kms.send(new ListKeysCommand({}));
      expect(await verifyAuditLog(f.dir)).toMatchObject({ ok: true });
      rmSync(join(f.dir, HEAD + '.tmp'), { recursive: true });
      await f.server.flushAudit();
      expect(JSON.parse(readFileSync(join(f.dir, HEAD), 'utf8'))).toMatchObject({ sequence: 3 });
    } finally {
      await f.stop();
    }
  });
});
