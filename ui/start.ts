// `nitro-sandbox ui`: starts the console — an in-process host for enclaves, a KMS on loopback that
// trusts that host's attestation root, the client assets — and serves it with a fresh token.
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import { awsNitroRoot, sandboxRootPath } from '../attestation/index.ts';
import { Host } from '../host/index.ts';
import { startKmsServer, type KmsServer } from '../kms-proxy/index.ts';
import { createUiApp } from './app.ts';
import { bundleAssets } from './bundle.ts';
import type { AnchorChoice } from './context.ts';
import { DemoRunner } from './demo.ts';
import { EnclaveDesk } from './enclaves.ts';
import { UiListenError } from './errors.ts';
import { KmsDesk } from './kms.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_PORT = 4100;

export interface UiOptions {
  /** Default 4100; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1 (loopback). */
  readonly host?: string;
  /** Where the host's PKI and the KMS's store live; default a temporary directory removed at close. */
  readonly dataDir?: string;
  /** Default: 32 random bytes, base64url. */
  readonly token?: string;
  /** The sandbox root of the CLI's PKI, offered as a trust anchor when it exists; null: not offered. */
  readonly defaultPkiRoot?: string | null;
  readonly clock?: () => number;
  readonly pollMs?: number;
  readonly fetchTimeoutMs?: number;
  readonly onInternalError?: (error: unknown) => void;
}

export interface UiServer {
  /** The address to open: it carries the token. */
  readonly url: string;
  readonly origin: string;
  readonly token: string;
  readonly dataDir: string;
  readonly host: Host;
  readonly kms: KmsServer;
  /** The hono app (tests call `app.request()` and read `app.routes`). */
  readonly app: Hono;
  close(): Promise<void>;
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost';
}

function listen(fetch: (r: Request, env: unknown) => Response | Promise<Response>, port: number, hostname: string): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const s = serve({ fetch, port, hostname }, () => resolve(s));
    s.once('error', (e: NodeJS.ErrnoException) => reject(new UiListenError(`cannot listen on ${hostname}:${port} (${e.code ?? e.message})`, { cause: e })));
  });
}

export async function startUi(options: UiOptions = {}): Promise<UiServer> {
  const hostname = options.host ?? '127.0.0.1';
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UiListenError(`port must be 0–65535, got ${port}`);
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'nitro-sandbox-ui-'));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = options.token ?? randomBytes(32).toString('base64url');
  let host: Host | undefined;
  let kms: KmsServer | undefined;
  let server: ServerType | undefined;
  try {
    const assets = bundleAssets();
    assets.catch(() => undefined);
    host = await Host.start({ dataDir: join(dataDir, 'host'), ...(options.clock ? { clock: options.clock } : {}) });
    const consoleRoot = host.authority.rootCertificate;
    kms = await startKmsServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: join(dataDir, 'kms'),
      recipient: { trustAnchors: [consoleRoot] },
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.onInternalError ? { onInternalError: options.onInternalError } : {}),
    });

    const anchors: AnchorChoice[] = [
      { id: 'aws', name: 'AWS Nitro Enclaves Root-G1', der: awsNitroRoot() },
      { id: 'console', name: "this console's sandbox root", der: consoleRoot },
    ];
    const home = options.defaultPkiRoot === undefined ? sandboxRootPath() : options.defaultPkiRoot;
    if (home !== null && existsSync(home)) {
      // Only the certificate: the root key next to it is never read.
      const der = new Uint8Array(new X509Certificate(readFileSync(home)).raw);
      if (!Buffer.from(der).equals(Buffer.from(consoleRoot))) anchors.push({ id: 'home', name: `the CLI's sandbox root (${home})`, der });
    }
    // Listening first: the port is part of the cookie's name (cookies are not scoped by port, so
    // two consoles on one machine keep one each) and of the Host values the guard accepts.
    let app: Hono | undefined;
    server = await listen((r, env) => (app ? app.fetch(r, env) : new Response('starting', { status: 503 })), port, hostname);
    const actual = (server.address() as AddressInfo).port;
    const named = hostname.includes(':') ? `[${hostname}]` : hostname;
    const hosts = new Set(isLoopback(hostname) ? ['127.0.0.1', 'localhost', '[::1]'].map((h) => `${h}:${actual}`) : [`${named}:${actual}`]);
    const demo = new DemoRunner(host, kms, dataDir);
    const ui = createUiApp({
      enclaves: new EnclaveDesk(host, { root: ROOT, ...(options.fetchTimeoutMs !== undefined ? { fetchTimeoutMs: options.fetchTimeoutMs } : {}) }),
      kms: new KmsDesk(kms.service, join(dataDir, 'kms')),
      kmsEndpoint: kms.endpoint,
      demo,
      anchors,
      assets: await assets,
      guard: { token, cookieName: `nitro_sandbox_ui_${actual}`, hosts },
      ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.onInternalError ? { onInternalError: options.onInternalError } : {}),
    });
    app = ui.app;
    const streams = ui.streams;
    const origin = `http://${named}:${actual}`;
    const running = { host, kms, server };
    let closing: Promise<void> | undefined;
    return {
      url: `${origin}/?token=${token}`,
      origin,
      token,
      dataDir,
      host,
      kms,
      app: ui.app,
      close() {
        closing ??= (async () => {
          streams.closeAll();
          await new Promise<void>((resolve) => {
            running.server.close(() => resolve());
            if ('closeAllConnections' in running.server) running.server.closeAllConnections();
          });
          // A play under way fails once its enclaves are gone; its own clean-up runs before the
          // KMS it talks to closes.
          await running.host.stop();
          await demo.settled();
          await running.kms.close();
          if (ownDir) rmSync(dataDir, { recursive: true, force: true });
        })();
        return closing;
      },
    };
  } catch (e) {
    server?.close();
    await host?.stop();
    await kms?.close();
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
}
