// Shared fixtures: a KMS on 127.0.0.1 in a temporary data directory, and an unmodified AWS SDK
// client pointed at it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { readAuditRecords, startKmsServer, type KmsOptions, type KmsServer, type RecordType } from '../../kms-proxy/index.ts';

export interface Fixture {
  readonly server: KmsServer;
  readonly kms: KMSClient;
  readonly dir: string;
  stop(): Promise<void>;
}

export function tempDir(prefix = 'kms-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startFixture(options: Partial<KmsOptions> = {}): Promise<Fixture> {
  const dir = options.dataDir ?? tempDir();
  const server = await startKmsServer({ port: 0, host: '127.0.0.1', ...options, dataDir: dir });
  const kms = client(server);
  return {
    server,
    kms,
    dir,
    async stop() {
      kms.destroy();
      await server.close();
      if (options.dataDir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function client(server: KmsServer, credential = server.credential, maxAttempts = 1): KMSClient {
  return new KMSClient({
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey },
    maxAttempts,
  });
}

/** Runs `fn` and returns the error it throws (fails the test when it does not throw). */
export async function failure(fn: () => Promise<unknown>): Promise<Error & { name: string; $metadata?: { httpStatusCode?: number } }> {
  try {
    await fn();
  } catch (e) {
    return e as Error & { name: string };
  }
  throw new Error('expected a failure, got success');
}

/**
 * The audit log's records of the default replica, oldest first (the CloudTrail events unless
 * `types` says otherwise), after the server wrote what it holds in memory: waits on its flush, not
 * on a timer.
 */
export async function auditRecords(server: { flushAudit(): Promise<void> } | undefined, dir: string, types: readonly RecordType[] = ['AwsApiCall']): Promise<Record<string, any>[]> {
  await server?.flushAudit();
  const out: Record<string, any>[] = [];
  for await (const e of readAuditRecords(dir, { types })) out.push(e.record);
  return out;
}
