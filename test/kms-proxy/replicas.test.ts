// Several KMS replicas on one PostgreSQL, consistent as one KMS (issue 17): three replica processes
// (replica-child.ts, as `kms serve --store … --audit-dir … --replica …` runs them) on one database of
// the run's server, driven by the unmodified AWS SDK. Each check names what would break without
// the mechanism it tests: the unique index behind CreateAlias, the maintenance lock and conditional
// writes, the NOTIFY + read barrier that invalidates caches, the shared quota buckets, the audit
// registry. The faults (a replica SIGKILLed under write load, the database restarted under load)
// are in replica-faults.test.ts. Multi-Region keys (store schema 3) on two replicas close the file.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateAliasCommand, CreateKeyCommand, DecryptCommand, DescribeKeyCommand, DisableKeyCommand, EnableKeyCommand, EnableKeyRotationCommand, EncryptCommand,
  GenerateRandomCommand, type KMSClient, ListAliasesCommand, ListKeyRotationsCommand, ReplicateKeyCommand, RotateKeyOnDemandCommand, ScheduleKeyDeletionCommand,
  UpdatePrimaryRegionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { auditRegistry, auditSigningKeyOf, verifyAuditLog } from '../../kms-proxy/index.ts';
import { postgresDatabase } from '../support/pg-database.ts';
import { failure, tempDir } from './helpers.ts';
import { startReplica, stopReplica, type Replica } from './replica-helpers.ts';

const DAY = 86_400_000;

describe('three replicas on one PostgreSQL', () => {
  let dataDir = '';
  let auditDir = '';
  let url = '';
  const replicas: Replica[] = [];
  const at = (i: number) => replicas[i] as Replica;

  beforeAll(async () => {
    dataDir = tempDir('kms-replicas-data-');
    auditDir = tempDir('kms-replicas-audit-');
    url = await postgresDatabase();
    // The first creates the master key and credential (a fresh database); the others read them.
    // Random numbers get a tiny shared quota (10 calls, refilled one per 1000 s) for the quota test.
    const quotas = { write: { rate: 100_000 }, random: { rate: 0.001, burst: 10 } };
    replicas.push(await startReplica({ url, dataDir, auditDir, replica: 'a', quotas }));
    replicas.push(...(await Promise.all(['b', 'c'].map((replica) => startReplica({ url, dataDir, auditDir, replica, quotas })))));
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => stopReplica(r)));
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(auditDir, { recursive: true, force: true });
  });

  test('1,000 concurrent CreateAlias for 100 names over three replicas: exactly 100 aliases, 100 successes, 900 AlreadyExistsException', async () => {
    const clients = replicas.map((r) => r.client());
    // Two target keys: 50 aliases each is AWS's quota of aliases per key.
    const keys = [(await (clients[0] as KMSClient).send(new CreateKeyCommand({}))).KeyMetadata?.KeyId, (await (clients[1] as KMSClient).send(new CreateKeyCommand({}))).KeyMetadata?.KeyId];
    const results = await Promise.allSettled(
      Array.from({ length: 1000 }, (_v, i) => (clients[i % 3] as KMSClient).send(new CreateAliasCommand({ AliasName: `alias/race-${i % 100}`, TargetKeyId: keys[i % 2] }))),
    );
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(results.length - refused.length).toBe(100);
    expect(new Set(refused.map((r) => (r.reason as Error).name))).toEqual(new Set(['AlreadyExistsException']));
    const listed = await (clients[1] as KMSClient).send(new ListAliasesCommand({ Limit: 1000 }));
    expect(listed.Aliases?.map((a) => a.AliasName).filter((n) => n?.startsWith('alias/race-')).sort()).toEqual(Array.from({ length: 100 }, (_v, i) => `alias/race-${i}`).sort());
  });

  test('a key-state change on one replica is seen by the others at once: no replica serves a key from its cache after it was disabled elsewhere', async () => {
    const [a, b, c] = [at(0).client(), at(1).client(), at(2).client()];
    const keyId = (await a.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    const blob = (await b.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('secret') }))).CiphertextBlob;
    // Every replica has the key, its material and grants cached now.
    for (const k of [a, b, c]) expect(Buffer.from((await k.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext ?? []).toString()).toBe('secret');
    for (let round = 0; round < 5; round++) {
      await a.send(new DisableKeyCommand({ KeyId: keyId }));
      // Right after DisableKey was answered on a, b and c refuse: their caches were invalidated
      // before they served (the read barrier), not at some later time.
      for (const k of [b, c]) expect(await failure(() => k.send(new DecryptCommand({ CiphertextBlob: blob })))).toMatchObject({ name: 'DisabledException' });
      await c.send(new EnableKeyCommand({ KeyId: keyId }));
      for (const k of [a, b]) expect(Buffer.from((await k.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext ?? []).toString()).toBe('secret');
    }
  });

  test('automatic rotation and scheduled deletion run once across replicas, whichever replica runs maintenance', async () => {
    const [a, b] = [at(0).client(), at(1).client()];
    const rotating = (await a.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    await a.send(new EnableKeyRotationCommand({ KeyId: rotating, RotationPeriodInDays: 90 }));
    const doomed = (await b.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    await b.send(new ScheduleKeyDeletionCommand({ KeyId: doomed, PendingWindowInDays: 7 }));
    const errorsBefore = replicas.map((r) => r.errors.length);
    // Every replica's clock passes both dates; all three run maintenance at the same time, twice.
    await Promise.all(replicas.map((r) => r.ask({ advance: 91 * DAY })));
    for (let i = 0; i < 2; i++) await Promise.all(replicas.map((r) => r.ask({ tick: true })));
    const rotations = await b.send(new ListKeyRotationsCommand({ KeyId: rotating }));
    expect(rotations.Rotations?.map((r) => r.RotationType)).toEqual(['AUTOMATIC']);
    expect(await failure(() => a.send(new DescribeKeyCommand({ KeyId: doomed })))).toMatchObject({ name: 'NotFoundException' });
    // No replica ran into another's work (a duplicate material version, a key already deleted).
    expect(replicas.map((r) => r.errors.slice(errorsBefore[replicas.indexOf(r)]))).toEqual([[], [], []]);
  });

  test('request quotas are shared: 30 GenerateRandom calls over three replicas against a bucket of 10 pass exactly 10', async () => {
    const clients = replicas.map((r) => r.client());
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_v, i) => (clients[i % 3] as KMSClient).send(new GenerateRandomCommand({ NumberOfBytes: 8 }))));
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(results.length - refused.length).toBe(10);
    expect(new Set(refused.map((r) => (r.reason as Error).name))).toEqual(new Set(['ThrottlingException']));
  });

  test('one audit trail: every replica\'s chain verifies, the store names every replica, and a replica\'s chain removed from the audit directory is found', async () => {
    // A call per replica, so each has recent records.
    for (const r of replicas) await r.client().send(new CreateKeyCommand({}));
    const publicKey = auditSigningKeyOf(dataDir)?.publicKey;
    const registered = await auditRegistry(url);
    expect(registered.map((r) => r.replica)).toEqual(['a', 'b', 'c']);
    const v = await verifyAuditLog(auditDir, { registered, live: true, ...(publicKey ? { publicKey } : {}) });
    expect(v).toMatchObject({ ok: true, replicas: [{ replica: 'a', ok: true }, { replica: 'b', ok: true }, { replica: 'c', ok: true }] });
    expect(v.records).toBeGreaterThan(1000);
    // The same trail without replica b's folder: the store still knows b.
    const partial = tempDir('kms-replicas-partial-');
    try {
      const { cpSync } = await import('node:fs');
      for (const r of ['a', 'c']) cpSync(join(auditDir, 'audit', r), join(partial, 'audit', r), { recursive: true });
      expect((await verifyAuditLog(partial, { registered, live: true, ...(publicKey ? { publicKey } : {}) })).problem).toMatchObject({ code: 'ERR_AUDIT_MISSING' });
    } finally {
      rmSync(partial, { recursive: true, force: true });
    }
  });

  test('a second process with a live replica\'s audit id is refused at start-up (one writer per chain)', async () => {
    await expect(startReplica({ url, dataDir, auditDir, replica: 'b' })).rejects.toThrow(/exited/);
  });
});

describe('multi-Region keys on two replicas of one PostgreSQL (store schema 3)', () => {
  const EAST = 'us-east-1';
  const WEST = 'eu-west-1';
  let dataDir = '';
  let auditDir = '';
  const replicas: Replica[] = [];

  beforeAll(async () => {
    dataDir = tempDir('kms-replicas-mrk-data-');
    auditDir = tempDir('kms-replicas-mrk-audit-');
    const url = await postgresDatabase();
    replicas.push(await startReplica({ url, dataDir, auditDir, replica: 'm1', regions: [EAST, WEST] }));
    replicas.push(await startReplica({ url, dataDir, auditDir, replica: 'm2', regions: [EAST, WEST] }));
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => stopReplica(r)));
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(auditDir, { recursive: true, force: true });
  });

  test('a key replicated, rotated and moved to another Region on one replica is seen in every Region on the other at once (no cached record of either Region outlives the write)', async () => {
    const [m1, m2] = replicas as [Replica, Replica];
    const east1 = m1.client(1, EAST);
    const west1 = m1.client(1, WEST);
    const east2 = m2.client(1, EAST);
    const west2 = m2.client(1, WEST);
    const keyId = (await east1.send(new CreateKeyCommand({ MultiRegion: true }))).KeyMetadata?.KeyId;
    expect(keyId).toMatch(/^mrk-/);
    // Replicated through m2 (transient states last 0 ms here: maintenance settles them at once).
    await east2.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: WEST }));
    await Promise.all([m1.ask({ tick: true }), m2.ask({ tick: true })]);
    // m1 reads (and caches) both Regions' keys.
    const west = (await west1.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
    expect([west?.KeyState, west?.MultiRegionConfiguration?.MultiRegionKeyType]).toEqual(['Enabled', 'REPLICA']);
    expect((await east1.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.MultiRegionConfiguration?.MultiRegionKeyType).toBe('PRIMARY');
    // Rotated on m2 (new material in both Regions, one transaction): a ciphertext made with it in the
    // East decrypts in the West on m1.
    await east2.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const blob = (await east2.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('both Regions') }))).CiphertextBlob;
    expect(Buffer.from((await west1.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext ?? []).toString()).toBe('both Regions');
    // The primary moved to the West on m2: m1, which has both Regions' records cached, sees the swap.
    await east2.send(new UpdatePrimaryRegionCommand({ KeyId: keyId, PrimaryRegion: WEST }));
    expect((await west1.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.MultiRegionConfiguration?.MultiRegionKeyType).toBe('PRIMARY');
    expect((await east1.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.MultiRegionConfiguration?.MultiRegionKeyType).toBe('REPLICA');
    expect((await west2.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.MultiRegionConfiguration?.PrimaryKey?.Region).toBe(WEST);
    expect([...m1.errors, ...m2.errors]).toEqual([]);
  });
});
