// Faults of replicas on PostgreSQL (issue 17): a replica SIGKILLed under write load loses no
// acknowledged write, nor the audit record of an acknowledged call; the database restarted under
// load makes replicas answer KMSInternalException (500, which the SDKs retry) and they recover by
// themselves, and while the database is gone no replica answers from its caches.
import { rmSync } from 'node:fs';
import { CreateKeyCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { expect, test } from 'vitest';
import { auditRegistry, auditSigningKeyOf, readAuditRecords, verifyAuditLog } from '../../kms-proxy/index.ts';
import { postgresDatabase } from '../support/pg-database.ts';
import { startPostgres } from '../support/postgres.ts';
import { failure, tempDir } from './helpers.ts';
import { startReplica, stopReplica, type Replica } from './replica-helpers.ts';

/** Write loops (CreateKey) on each client until `stop()`; the key ids each acknowledged call returned, per loop. */
function writeLoad(clients: readonly KMSClient[], perClient: number, onAck: (client: number) => void = () => undefined) {
  const acked: string[][] = [];
  let stop = false;
  let waiters: { n: number; resolve: () => void }[] = [];
  const total = () => acked.reduce((n, a) => n + a.length, 0);
  const loops = clients.flatMap((c, ci) =>
    Array.from({ length: perClient }, async (_v, li) => {
      const mine: string[] = [];
      acked.push(mine);
      for (let i = 0; !stop; i++) {
        try {
          const id = (await c.send(new CreateKeyCommand({ Description: `load ${ci}/${li}/${i}` }))).KeyMetadata?.KeyId;
          if (id) mine.push(id);
          onAck(ci);
          const n = total();
          waiters = waiters.filter((w) => (n >= w.n ? (w.resolve(), false) : true));
        } catch (e) {
          // Not acknowledged: nothing is promised about it. A killed replica's loops end.
          if (/ECONNREFUSED|ECONNRESET|socket hang up/.test(String((e as Error).message) + String((e as { code?: string }).code))) break;
          await new Promise((r) => setImmediate(r));
        }
      }
    }),
  );
  return {
    acked,
    /** Resolves once `n` more writes than now were acknowledged. */
    more(n: number): Promise<void> {
      const target = total() + n;
      return new Promise((resolve) => waiters.push({ n: target, resolve }));
    },
    async stop(): Promise<string[]> {
      stop = true;
      await Promise.all(loops);
      return acked.flat();
    },
  };
}

test('a replica SIGKILLed under write load: every acknowledged write survives, and the audit trail has the record of every call it acknowledged', async () => {
  const dataDir = tempDir('kms-faults-data-');
  const auditDir = tempDir('kms-faults-audit-');
  const url = await postgresDatabase();
  const quotas = { write: { rate: 100_000 } };
  const replicas: Replica[] = [];
  try {
    replicas.push(await startReplica({ url, dataDir, auditDir, replica: 'a', quotas }));
    replicas.push(...(await Promise.all(['b', 'c'].map((replica) => startReplica({ url, dataDir, auditDir, replica, quotas })))));
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    // b is killed the moment its 30th answer reaches the client (the kill is sent before anything
    // else runs here): the call just answered has its record in b's log, or the log lost it.
    let fromB = 0;
    const killed = new Promise((resolve) => b.proc.once('exit', resolve));
    const load = writeLoad([a.client(), b.client(), c.client()], 2, (ci) => {
      if (ci === 1 && ++fromB === 30) b.proc.kill('SIGKILL');
    });
    await killed;
    await load.more(30);
    const acked = await load.stop();
    const onB = load.acked.slice(2, 4).flat();
    expect(onB.length).toBeGreaterThan(0);
    // Every acknowledged key is there, read through a surviving replica.
    const reader = a.client();
    for (const id of acked) expect((await reader.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata?.Description).toMatch(/^load /);
    // b's chain holds a record of each CreateKey it answered (read as written, before any restart).
    const recorded = new Set<string>();
    for await (const e of readAuditRecords(auditDir, { replica: 'b', types: ['AwsApiCall'] })) {
      const id = (e.record.responseElements as { keyMetadata?: { keyId?: string } } | null)?.keyMetadata?.keyId;
      if (id) recorded.add(id);
    }
    expect(onB.filter((id) => !recorded.has(id))).toEqual([]);
    // b comes back under its own id: a batch its kill cut short is set aside, and the whole trail verifies.
    replicas[1] = await startReplica({ url, dataDir, auditDir, replica: 'b', quotas });
    await (replicas[1] as Replica).client().send(new CreateKeyCommand({}));
    const publicKey = auditSigningKeyOf(dataDir)?.publicKey;
    expect(await verifyAuditLog(auditDir, { registered: await auditRegistry(url), live: true, ...(publicKey ? { publicKey } : {}) })).toMatchObject({ ok: true });
  } finally {
    await Promise.all(replicas.map((r) => stopReplica(r)));
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(auditDir, { recursive: true, force: true });
  }
});

test('the database restarted under load: replicas answer KMSInternalException meanwhile (never a cached key), recover by themselves, and lose no acknowledged write', async () => {
  // A server of its own: stopping the run's shared one would disturb the other test files.
  const server = await startPostgres();
  const dataDir = tempDir('kms-faults-data-');
  const auditDir = tempDir('kms-faults-audit-');
  const replicas: Replica[] = [];
  try {
    const url = await server.database();
    const quotas = { write: { rate: 100_000 } };
    replicas.push(await startReplica({ url, dataDir, auditDir, replica: 'a', quotas }));
    replicas.push(await startReplica({ url, dataDir, auditDir, replica: 'b', quotas }));
    const [a, b] = replicas as [Replica, Replica];
    const once = b.client(1);
    const keyId = (await once.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId;
    const blob = (await once.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('cached') }))).CiphertextBlob;
    // The key, its material and grants are now in b's caches.
    expect(Buffer.from((await once.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext ?? []).toString()).toBe('cached');
    // The SDK's own retries (500s are retried) carry the load's calls over the restart.
    const load = writeLoad([a.client(10), b.client(10)], 2);
    await load.more(20);
    await server.stop();
    // With the database gone, a call the cache alone could answer is refused as an internal error.
    expect(await failure(() => once.send(new DecryptCommand({ CiphertextBlob: blob })))).toMatchObject({ name: 'KMSInternalException', $metadata: { httpStatusCode: 500 } });
    await server.start();
    // No restart of the replicas: their pools and listeners reconnect, and the load goes on.
    await load.more(20);
    const acked = await load.stop();
    const reader = b.client(5);
    for (const id of acked) expect((await reader.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata?.KeyId).toBe(id);
    expect(Buffer.from((await reader.send(new DecryptCommand({ CiphertextBlob: blob }))).Plaintext ?? []).toString()).toBe('cached');
  } finally {
    await Promise.all(replicas.map((r) => stopReplica(r)));
    await server.destroy();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(auditDir, { recursive: true, force: true });
  }
});
