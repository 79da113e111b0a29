// The vsock channel against a raw socket pair between the same two kinds of processes: the child
// runs under `node --permission` on fd 3 in both cases, so the only difference is the multiplexer.
//   - round trip of a 64-byte message (target: channel rate ≥ 0.5 × raw, i.e. RTT ≤ 2×);
//   - one-way throughput of 64 KiB writes (target ≥ 0.7 × raw).
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { VsockConnection } from '../enclave/vsock/index.ts';
import { openHostChannel } from '../host/vsock/index.ts';
import { interleavedAsync, rate, result, type Benchmark, type BenchResult } from './harness.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const MSG = 64;
const BULK = 16 << 20; // bytes per throughput operation
const WRITE = 64 * 1024;

// Each child echoes on one stream and counts on another, acknowledging every BULK bytes with one byte.
const RAW_CHILD = `
import net from 'node:net';
const echo = new net.Socket({ fd: 3 }); echo.on('data', (d) => echo.write(d));
const sink = new net.Socket({ fd: 4 }); let n = 0;
sink.on('data', (d) => { n += d.length; while (n >= ${BULK}) { n -= ${BULK}; sink.write('k'); } });
`;
const CHANNEL_CHILD = `
import { openEnclaveChannel } from './enclave/vsock/index.ts';
const ch = openEnclaveChannel();
ch.listen(1, (c) => { c.on('error', () => {}); c.on('data', (d) => c.write(d)); });
ch.listen(2, (c) => { c.on('error', () => {}); let n = 0; c.on('data', (d) => { n += d.length; while (n >= ${BULK}) { n -= ${BULK}; c.write('k'); } }); });
`;

async function bundle(code: string): Promise<string> {
  const r = await build({
    stdin: { contents: code, resolveDir: root, loader: 'ts' },
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    logLevel: 'silent',
  });
  return r.outputFiles[0]!.text;
}

function start(code: string, fds: number): ChildProcess {
  return spawn(process.execPath, ['--permission', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'ignore', 'inherit', ...Array<'pipe'>(fds).fill('pipe')],
    env: {},
  });
}

type Stream = Socket | VsockConnection;

/** One 64-byte message there and back. */
function pinger(s: Stream): () => Promise<void> {
  const msg = Buffer.alloc(MSG, 0x5a);
  let got = 0;
  let done: (() => void) | null = null;
  s.on('data', (d: Buffer) => {
    got += d.length;
    if (got >= MSG && done) {
      got -= MSG;
      const f = done;
      done = null;
      f();
    }
  });
  return () =>
    new Promise<void>((resolve) => {
      done = resolve;
      s.write(msg);
    });
}

/** BULK bytes one way in WRITE-sized writes, honouring backpressure, until the child acknowledges. */
function bulk(s: Stream): () => Promise<void> {
  const chunk = Buffer.alloc(WRITE, 0xa5);
  let ack: (() => void) | null = null;
  s.on('data', () => {
    const f = ack;
    ack = null;
    f?.();
  });
  return () =>
    new Promise<void>((resolve) => {
      ack = resolve;
      let sent = 0;
      const pump = (): void => {
        while (sent < BULK) {
          sent += WRITE;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
      };
      pump();
    });
}

interface Pair {
  raw: () => Promise<void>;
  channel: () => Promise<void>;
  stop(): void;
}

async function setup(kind: 'rtt' | 'bulk'): Promise<Pair> {
  const rawChild = start(RAW_CHILD, 2);
  const chChild = start(await bundle(CHANNEL_CHILD), 1);
  const host = openHostChannel(chChild.stdio[3] as Socket);
  const conn = await host.connect(kind === 'rtt' ? 1 : 2);
  conn.on('error', () => {}); // stop() tears the channel down under it
  const rawSock = rawChild.stdio[kind === 'rtt' ? 3 : 4] as Socket;
  const make = kind === 'rtt' ? pinger : bulk;
  return {
    raw: make(rawSock),
    channel: make(conn),
    stop: () => {
      host.destroy();
      rawChild.kill('SIGKILL');
      chChild.kill('SIGKILL');
    },
  };
}

export const benchmarks: Benchmark[] = [
  {
    name: 'vsock channel: 64-byte round trip vs raw socket pair',
    async run(): Promise<BenchResult> {
      const p = await setup('rtt');
      try {
        // Five short rounds: on a shared 2-core machine the other processes' load moves the
        // absolute numbers by 2×, and best-of-rounds lets each side have its quiet moment.
        const r = await interleavedAsync(
          () => rate(p.channel, 600),
          () => rate(p.raw, 600),
          5,
        );
        const us = (x: number): string => (1e6 / x).toFixed(1);
        return result(
          'vsock channel: 64-byte round trip vs raw socket pair',
          { rate: r.figure, unit: 'round trips/s' },
          { rate: r.baseline, unit: 'round trips/s', name: 'raw Unix socket pair, same processes setup' },
          0.5,
          `RTT ${us(r.figure)} µs over the channel vs ${us(r.baseline)} µs raw (real Nitro vsock ≈ 124 µs)`,
        );
      } finally {
        p.stop();
      }
    },
  },
  {
    name: 'vsock channel: throughput vs raw socket pair',
    async run(): Promise<BenchResult> {
      const p = await setup('bulk');
      try {
        const r = await interleavedAsync(
          async () => (await rate(p.channel, 800)) * BULK,
          async () => (await rate(p.raw, 800)) * BULK,
          5,
        );
        const mib = (x: number): string => (x / (1 << 20)).toFixed(0);
        return result(
          'vsock channel: throughput vs raw socket pair',
          { rate: r.figure, unit: 'B/s' },
          { rate: r.baseline, unit: 'B/s', name: 'raw Unix socket pair, 64 KiB writes' },
          0.7,
          `${mib(r.figure)} MiB/s over the channel vs ${mib(r.baseline)} MiB/s raw, one stream, 64 KiB writes`,
        );
      } finally {
        p.stop();
      }
    },
  },
];
