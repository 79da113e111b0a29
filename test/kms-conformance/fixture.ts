// The conformance suite's world: a KMS on 127.0.0.1 with an injected clock, the unmodified SDK
// client pointed at it with a middleware that keeps each response's bytes as the server sent them
// (the SDK cannot tell an absent `message` from an empty one, AWS can send either), keys of every
// kind and state made on first use, and a second KMS whose store fails on demand
// (KMSInternalException).
import { rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import * as sdk from '@aws-sdk/client-kms';
import { KMSClient } from '@aws-sdk/client-kms';
import { startKmsServer, SqliteKeyStore, type KeyStore, type KmsServer } from '../../kms-proxy/index.ts';
import { tempDir } from '../kms-proxy/helpers.ts';

export const ACCOUNT = '111122223333';
export const REGION = 'us-east-1';
/** The second Region the KMS serves (ReplicateKey, UpdatePrimaryRegion). */
export const REPLICA_REGION = 'us-west-2';
export const arnOf = (keyId: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`;
/** A well-formed key id no key has. */
export const MISSING_KEY = '0b6a5a3e-2b8e-4a0e-9f55-2f1a4c1f7e99';

export interface Exchange {
  readonly operation: string;
  readonly status: number;
  readonly body: unknown;
}

/** An SDK client whose responses are also kept as the server sent them. */
export function recordingClient(server: KmsServer, seen: Exchange[]): KMSClient {
  const kms = new KMSClient({
    endpoint: server.endpoint,
    region: REGION,
    credentials: { accessKeyId: server.credential.accessKeyId, secretAccessKey: server.credential.secretAccessKey },
    maxAttempts: 1,
  });
  // Innermost in the deserialize step: the raw response, before the SDK deserializes it.
  kms.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const response = out.response as { statusCode: number; body: AsyncIterable<Uint8Array> };
      const chunks: Buffer[] = [];
      for await (const c of response.body) chunks.push(Buffer.from(c));
      const text = Buffer.concat(chunks).toString('utf8');
      const target = (args.request as { headers: Record<string, string> }).headers['x-amz-target'] ?? '';
      seen.push({ operation: target.replace(/^TrentService\./, ''), status: response.statusCode, body: text === '' ? undefined : JSON.parse(text) });
      response.body = Readable.from([Buffer.from(text)]);
      return out;
    },
    { step: 'deserialize', name: 'conformanceWire', priority: 'low' },
  );
  return kms;
}

type Command = new (input: unknown) => Parameters<KMSClient['send']>[0];

/** Sends operation `op` of the SDK with `input`. */
export function send(kms: KMSClient, op: string, input: object): Promise<unknown> {
  const C = (sdk as unknown as Record<string, Command>)[`${op}Command`];
  if (!C) throw new Error(`the SDK has no ${op}Command`);
  return kms.send(new C(input));
}

export type KeyKind = 'sym' | 'rsaEnc' | 'ecSign' | 'ecAgree' | 'hmac' | 'external' | 'mrk';
export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

const CREATE: Record<KeyKind, sdk.CreateKeyCommandInput> = {
  sym: {},
  rsaEnc: { KeySpec: 'RSA_2048', KeyUsage: 'ENCRYPT_DECRYPT' },
  ecSign: { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' },
  ecAgree: { KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' },
  hmac: { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' },
  external: { Origin: 'EXTERNAL' },
  mrk: { MultiRegion: true },
};

export interface Key {
  readonly keyId: string;
  readonly arn: string;
  /** The state the suite put it in (Enabled: as created, PendingImport for EXTERNAL keys). */
  readonly state: KeyState | 'PendingImport';
}

/** The well-formed key id no key has, as a Key. */
export const MISSING: Key = { keyId: MISSING_KEY, arn: arnOf(MISSING_KEY), state: 'Enabled' };

/** The KMS clock the suite starts at (epoch ms); `World.now` moves it. */
const START = Date.UTC(2026, 5, 1);

interface Parts {
  readonly server: KmsServer;
  readonly kms: KMSClient;
  readonly broken: KmsServer;
  readonly brokenKms: KMSClient;
  readonly seen: Exchange[];
  readonly dirs: readonly string[];
  readonly clock: { now: number };
  readonly state: { failing: boolean };
}

export class World {
  readonly server: KmsServer;
  readonly kms: KMSClient;
  /** A KMS whose store throws while `failStore` runs; at most one key per account (LimitExceededException). */
  readonly broken: KmsServer;
  readonly brokenKms: KMSClient;
  /** Every response either client received, as the server sent it. */
  readonly seen: Exchange[];
  readonly #parts: Parts;
  readonly #shared = new Map<string, Promise<Key>>();

  private constructor(parts: Parts) {
    this.#parts = parts;
    this.server = parts.server;
    this.kms = parts.kms;
    this.broken = parts.broken;
    this.brokenKms = parts.brokenKms;
    this.seen = parts.seen;
  }

  static async start(): Promise<World> {
    const dirs = [tempDir('kms-conformance-'), tempDir('kms-conformance-broken-')];
    const clock = { now: START };
    const state = { failing: false };
    // Small resource quotas, so that LimitExceededException takes a few calls.
    const server = await startKmsServer({ port: 0, dataDir: dirs[0] ?? '', account: ACCOUNT, region: REGION, clock: () => clock.now, limits: { aliasesPerKey: 2, grantsPerKey: 2 }, regions: [REGION, REPLICA_REGION], transientStateMs: 0 });
    const real = new SqliteKeyStore({ dataDir: dirs[1] ?? '' });
    const store = new Proxy(real, {
      get(target, p, receiver) {
        const v: unknown = Reflect.get(target, p, receiver);
        if (typeof v !== 'function') return v;
        if (p === 'close') return v.bind(target);
        return (...args: unknown[]) => {
          if (state.failing) throw new Error('store failure injected by the conformance suite');
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as KeyStore;
    const broken = await startKmsServer({ port: 0, dataDir: dirs[1] ?? '', account: ACCOUNT, region: REGION, store, limits: { keysPerAccount: 1 }, onInternalError: () => undefined });
    const seen: Exchange[] = [];
    return new World({ server, kms: recordingClient(server, seen), broken, brokenKms: recordingClient(broken, seen), seen, dirs, clock, state });
  }

  /** The KMS clock (epoch ms). */
  get now(): number {
    return this.#parts.clock.now;
  }

  set now(t: number) {
    this.#parts.clock.now = t;
  }

  async stop(): Promise<void> {
    this.kms.destroy();
    this.brokenKms.destroy();
    await this.server.close();
    await this.broken.close();
    for (const d of this.#parts.dirs) rmSync(d, { recursive: true, force: true });
  }

  /** Runs `fn` with the broken KMS's store failing every call. */
  async failStore<T>(fn: () => Promise<T>): Promise<T> {
    this.#parts.state.failing = true;
    try {
      return await fn();
    } finally {
      this.#parts.state.failing = false;
    }
  }

  /** The last exchange of operation `op`. */
  last(op: string): Exchange {
    const e = this.seen.findLast((x) => x.operation === op);
    if (!e) throw new Error(`no ${op} response recorded`);
    return e;
  }

  /** A new key of `kind`, in `state`. */
  async fresh(kind: KeyKind, state: KeyState = 'Enabled', extra: sdk.CreateKeyCommandInput = {}): Promise<Key> {
    const m = (await this.kms.send(new sdk.CreateKeyCommand({ ...CREATE[kind], ...extra }))).KeyMetadata;
    const created = { keyId: m?.KeyId ?? '', arn: m?.Arn ?? '' };
    const key: Key = { ...created, state: state === 'Enabled' && m?.KeyState === 'PendingImport' ? 'PendingImport' : state };
    if (state === 'Disabled') await this.kms.send(new sdk.DisableKeyCommand({ KeyId: key.keyId }));
    if (state === 'PendingDeletion') await this.kms.send(new sdk.ScheduleKeyDeletionCommand({ KeyId: key.keyId, PendingWindowInDays: 30 }));
    return key;
  }

  /** A key of `kind` in `state` shared by the rows that only read it. */
  key(kind: KeyKind, state: KeyState = 'Enabled'): Promise<Key> {
    const id = `${kind}/${state}`;
    let k = this.#shared.get(id);
    if (!k) {
      k = this.fresh(kind, state);
      this.#shared.set(id, k);
    }
    return k;
  }
}
