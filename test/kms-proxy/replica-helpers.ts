// Replica processes for the replica tests (replica-child.ts): start one on a shared PostgreSQL
// store, talk to it over HTTP (the AWS SDK) and IPC (clock, maintenance), stop or kill it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { KMSClient } from '@aws-sdk/client-kms';
import type { Credential, KmsOptions } from '../../kms-proxy/index.ts';

const CHILD = fileURLToPath(new URL('./replica-child.ts', import.meta.url));

export interface Replica {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly endpoint: string;
  readonly credential: Credential;
  /** Internal errors the replica reported. */
  readonly errors: string[];
  /** An SDK client of this replica, signing for `region` (default us-east-1). */
  client(maxAttempts?: number, region?: string): KMSClient;
  /** Sends an IPC message and waits for its answer. */
  ask(m: { advance?: number; tick?: boolean }): Promise<{ failed?: string }>;
}

let asked = 0;

export async function startReplica(o: { url: string; dataDir: string; auditDir: string; replica: string; quotas?: KmsOptions['quotas']; regions?: string[] }): Promise<Replica> {
  const proc = spawn(process.execPath, [CHILD, JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const errors: string[] = [];
  const waiting = new Map<number, (m: { failed?: string }) => void>();
  proc.on('message', (m: { error?: string; id?: number; failed?: string }) => {
    if (m.error !== undefined) errors.push(m.error);
    if (m.id !== undefined) waiting.get(m.id)?.(m);
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).once('line', resolve);
    proc.once('exit', (c) => reject(new Error(`replica ${o.replica} exited (${c}) before it served`)));
  });
  const { endpoint, credential } = JSON.parse(line) as { endpoint: string; credential: Credential };
  const clients: KMSClient[] = [];
  proc.once('exit', () => {
    for (const c of clients) c.destroy();
  });
  return {
    name: o.replica,
    proc,
    endpoint,
    credential,
    errors,
    client(maxAttempts = 1, region = 'us-east-1') {
      const c = new KMSClient({ endpoint, region, credentials: { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey }, maxAttempts });
      clients.push(c);
      return c;
    },
    ask(m) {
      const id = ++asked;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        proc.send({ ...m, id });
      });
    },
  };
}

export async function stopReplica(r: Replica, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (r.proc.exitCode !== null || r.proc.signalCode !== null) return;
  const exited = new Promise((resolve) => r.proc.once('exit', resolve));
  r.proc.kill(signal);
  await exited;
}

