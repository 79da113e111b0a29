// Test helpers: a real socket pair in-process, and a real enclave-like child process (Node's
// permission model with no grants, empty environment, channel on fd 3) running fixtures/agent.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { readAll, type Channel } from '../../enclave/vsock/index.ts';
import { openHostChannel, type HostChannelOptions } from '../../host/vsock/index.ts';
import { PORTS } from './fixtures/shared.ts';

/** Reads a connection to its end: the library's own helper, so these tests exercise it too. */
export { readAll };

const here = dirname(fileURLToPath(import.meta.url));

let bundled: Promise<string> | undefined;
/** The agent as one ESM string: the child never reads a file. */
export function agentCode(): Promise<string> {
  bundled ??= build({
    entryPoints: [join(here, 'fixtures/agent.ts')],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    logLevel: 'silent',
  }).then((r) => r.outputFiles[0]!.text);
  return bundled;
}

export interface EnclaveProcess {
  readonly child: ChildProcess;
  readonly channel: Channel;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts the agent the way the host starts an enclave. `mode` as in fixtures/agent.ts. */
export async function spawnAgent(mode = 'agent', options: HostChannelOptions = {}): Promise<EnclaveProcess> {
  const code = `globalThis.__AGENT_MODE = ${JSON.stringify(mode)};\n${await agentCode()}`;
  const child = spawn(process.execPath, ['--permission', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    env: {},
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const channel = openHostChannel(child.stdio[3] as net.Socket, options);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    channel,
    stderr: () => err,
    stop: async () => {
      channel.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Two connected Unix sockets in this process (what spawn's stdio 'pipe' gives host and child). */
export async function socketPair(): Promise<{ a: net.Socket; b: net.Socket; close(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'vsock-test-'));
  const path = join(dir, 'sock');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(path, r));
  const [a, b] = await Promise.all([
    new Promise<net.Socket>((r) => server.once('connection', r)),
    new Promise<net.Socket>((r) => {
      const s = net.connect(path, () => r(s));
    }),
  ]);
  server.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    a,
    b,
    close: () => {
      a.destroy();
      b.destroy();
    },
  };
}

/** Sends one JSON request to the agent's control port and returns its JSON reply. */
export async function control<T = unknown>(channel: Channel, req: Record<string, unknown>): Promise<T> {
  const c = await channel.connect(PORTS.control);
  const reply = readAll(c);
  c.end(JSON.stringify(req));
  return JSON.parse((await reply).toString()) as T;
}

/** Resolves once `cond()` holds, checking on every turn of the event loop (no timing involved). */
export async function until(cond: () => boolean, what: string, maxTurns = 200_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, i < 100 ? 0 : 5));
  }
  throw new Error(`condition never held: ${what}`);
}
