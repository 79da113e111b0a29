// The audit log: CloudTrail-shaped records, no secrets, and a hash chain that detects edits,
// deletions, reordering and truncation (`nitro-sandbox kms audit verify`).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { main } from '../../host/cli/main.ts';
import { verifyAuditLog } from '../../kms-proxy/index.ts';
import { AuditLog } from '../../kms-proxy/audit.ts';
import { failure, startFixture, tempDir } from './helpers.ts';

const dir = tempDir('kms-audit-');
let log = '';
let head = '';
let keyArn = '';
let secretB64 = '';
let dataKeyB64 = '';

beforeAll(async () => {
  const f = await startFixture({ dataDir: dir });
  const m = (await f.kms.send(new CreateKeyCommand({ Description: 'audited' }))).KeyMetadata;
  keyArn = m?.Arn ?? '';
  const secret = Buffer.from('top secret plaintext 0123456789');
  secretB64 = secret.toString('base64');
  const e = await f.kms.send(new EncryptCommand({ KeyId: m?.KeyId, Plaintext: secret, EncryptionContext: { Who: 'test' } }));
  await f.kms.send(new DecryptCommand({ CiphertextBlob: e.CiphertextBlob, EncryptionContext: { Who: 'test' } }));
  const dk = await f.kms.send(new GenerateDataKeyCommand({ KeyId: m?.KeyId, NumberOfBytes: 32 }));
  dataKeyB64 = Buffer.from(dk.Plaintext ?? []).toString('base64');
  await failure(() => f.kms.send(new DescribeKeyCommand({ KeyId: 'alias/missing' })));
  await f.stop();
  log = readFileSync(join(dir, 'audit.log'), 'utf8');
  head = readFileSync(join(dir, 'audit.head'), 'utf8');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function records(): Record<string, unknown>[] {
  return log.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A copy of the log with `edit` applied to its lines, in a fresh directory. */
function tampered(edit: (lines: string[]) => string[]): string {
  const d = join(dir, `copy-${Math.random().toString(36).slice(2)}`);
  mkdirSync(d);
  writeFileSync(join(d, 'audit.log'), `${edit(log.trim().split('\n')).join('\n')}\n`);
  writeFileSync(join(d, 'audit.head'), head);
  return d;
}

describe('records', () => {
  test('one CloudTrail-shaped record per call, successes and failures', () => {
    const r = records();
    expect(r.map((x) => x.eventName)).toEqual(['CreateKey', 'Encrypt', 'Decrypt', 'GenerateDataKey', 'DescribeKey']);
    const enc = r[1] ?? {};
    expect(enc).toMatchObject({
      eventVersion: '1.08',
      eventSource: 'kms.amazonaws.com',
      eventName: 'Encrypt',
      awsRegion: 'us-east-1',
      userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/nitro-sandbox', accountId: '111122223333' },
      // Member names in lowerCamelCase as CloudTrail writes them; the caller's context keys verbatim.
      requestParameters: { encryptionContext: { Who: 'test' } },
      resources: [{ accountId: '111122223333', type: 'AWS::KMS::Key', ARN: keyArn }],
      eventType: 'AwsApiCall',
      readOnly: true,
      sequence: 2,
    });
    expect(enc.eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(r[2]?.additionalEventData).toMatchObject({ authorization: { effect: 'Allow', decidedBy: { kind: 'statement', index: 0 } } });
    expect(r[4]).toMatchObject({ errorCode: 'NotFoundException', responseElements: null });
    expect((r[0]?.responseElements as { keyMetadata: { arn: string } }).keyMetadata.arn).toBe(keyArn);
  });

  test('no plaintext, data key or ciphertext is ever written', () => {
    expect(log).not.toContain(secretB64);
    expect(log).not.toContain(dataKeyB64);
    expect(log).not.toMatch(/"plaintext"|"ciphertextBlob"/i);
  });
});

describe('reopening the log', () => {
  test('a KMS restarted on the log continues its chain', () => {
    const d = tampered((l) => l);
    const audit = new AuditLog(d);
    audit.append({ eventTime: 0, eventName: 'ListKeys', region: 'us-east-1', account: '111122223333', readOnly: true });
    audit.close();
    expect(verifyAuditLog(d)).toEqual({ ok: true, records: 6 });
  });

  test('a log that does not end with a record is refused (ERR_KMS_INTERNAL), not continued with sequence null', () => {
    const lines = log.trim().split('\n');
    const cut = lines.at(-1)?.slice(0, 40) ?? '';
    for (const last of [cut, 'null', '{"sequence":"5","hash":"x"}', (lines.at(-1) ?? '').replace(/,"hash":"[0-9a-f]{64}"\}$/, '}')]) {
      const d = tampered((l) => [...l.slice(0, -1), last]);
      expect(() => new AuditLog(d), last).toThrow(expect.objectContaining({ code: 'ERR_KMS_INTERNAL', message: `${join(d, 'audit.log')} does not end with an audit record; 'nitro-sandbox kms audit verify' shows where it breaks` }));
    }
  });
});

describe('hash chain', () => {
  test('the untouched log verifies, via the library and the CLI', async () => {
    expect(verifyAuditLog(dir)).toEqual({ ok: true, records: 5 });
    let out = '';
    const code = await main(['kms', 'audit', 'verify', '--data-dir', dir], { out: (t) => (out += t), err: () => undefined });
    expect([code, out]).toEqual([0, 'audit log intact: 5 records\n']);
  });

  test('an edited record → ERR_AUDIT_EDITED at its line', async () => {
    const d = tampered((l) => l.map((x, i) => (i === 2 ? x.replace('"Decrypt"', '"Encrypt"') : x)));
    expect(verifyAuditLog(d).problem).toMatchObject({ code: 'ERR_AUDIT_EDITED', line: 3 });
    let out = '';
    expect(await main(['kms', 'audit', 'verify', '--data-dir', d], { out: (t) => (out += t), err: () => undefined })).toBe(1);
    expect(out).toContain('ERR_AUDIT_EDITED at line 3');
  });

  test('a deleted record → ERR_AUDIT_SEQUENCE', () => {
    expect(verifyAuditLog(tampered((l) => l.filter((_x, i) => i !== 1))).problem).toMatchObject({ code: 'ERR_AUDIT_SEQUENCE', line: 2 });
  });

  test('reordered records → ERR_AUDIT_SEQUENCE', () => {
    const d = tampered((l) => [l[0] ?? '', l[2] ?? '', l[1] ?? '', ...l.slice(3)]);
    expect(verifyAuditLog(d).problem?.code).toBe('ERR_AUDIT_SEQUENCE');
  });

  test('a re-hashed forgery that keeps sequence numbers still breaks the chain → ERR_AUDIT_CHAIN', () => {
    // Replace record 2 by a self-consistent record with a wrong previousHash.
    const d = tampered((l) => l.map((x, i) => {
      if (i !== 1) return x;
      const body = x.replace(/,"hash":"[0-9a-f]{64}"\}$/, '}').replace(/"previousHash":"[0-9a-f]{64}"/, `"previousHash":"${'1'.repeat(64)}"`);
      const hash = createHash('sha256').update(body).digest('hex');
      return `${body.slice(0, -1)},"hash":"${hash}"}`;
    }));
    expect(verifyAuditLog(d).problem).toMatchObject({ code: 'ERR_AUDIT_CHAIN', line: 2 });
  });

  test('records cut off the end → ERR_AUDIT_TRUNCATED (audit.head remembers the last record)', () => {
    expect(verifyAuditLog(tampered((l) => l.slice(0, -1))).problem?.code).toBe('ERR_AUDIT_TRUNCATED');
  });

  test('an audit.head that is not a JSON object → ERR_AUDIT_MALFORMED at line 0, not a TypeError', () => {
    for (const text of ['null', '{"sequence":', '[5]']) {
      const d = tampered((l) => l);
      writeFileSync(join(d, 'audit.head'), text);
      expect(verifyAuditLog(d).problem, text).toMatchObject({ code: 'ERR_AUDIT_MALFORMED', line: 0 });
    }
  });

  test('a directory without audit.log → ERR_AUDIT_MISSING, exit 1 (a wrong --data-dir is not an intact log)', async () => {
    const d = join(dir, 'no-log');
    mkdirSync(d);
    expect(verifyAuditLog(d)).toEqual({ ok: false, records: 0, problem: { code: 'ERR_AUDIT_MISSING', line: 0, message: `there is no audit.log in ${d}` } });
    let out = '';
    expect(await main(['kms', 'audit', 'verify', '--data-dir', join(dir, 'typo')], { out: (t) => (out += t), err: () => undefined })).toBe(1);
    expect(out).toContain('ERR_AUDIT_MISSING');
  });

  test('a line that is not a record → ERR_AUDIT_MALFORMED', () => {
    expect(verifyAuditLog(tampered((l) => [...l.slice(0, 2), 'garbage', ...l.slice(2)])).problem).toMatchObject({ code: 'ERR_AUDIT_MALFORMED', line: 3 });
  });
});
