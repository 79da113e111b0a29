// Hostile CBOR and fair NSM service (issue 13), measured against the same path's normal work in
// the same run:
//   - the 4 KB shared-reference bomb refused as an NSM request, as a KMS Recipient document and as
//     an image's SIGNATURE section, against serving a valid input of that path (target: refusing
//     costs no more than serving, ratio >= 1 for NSM and KMS; the image is read whole either way,
//     so >= 0.8); the notes give the milliseconds per refusal (acceptance: < 50 ms) and the heap;
//   - two enclaves on one host: B's NSM Attestation requests (two in flight, so one always waits
//     at the host) while A keeps 16 in flight, against B alone. A flooding bombs (refused at once)
//     leaves B mostly unaffected (target >= 0.5); A flooding valid requests, each a P-384
//     signature on the host's loop, gets A its fair share and B the other half (round-robin: target
//     >= 0.35, the fair 0.5 less the enclave processes' own CPU on a 2-core machine). Without the
//     scheduler (each channel's backlog served in one run of microtasks) B got 0.12 here. The host
//     runs with a budget that admits every request (the per-enclave NSM gate would otherwise
//     refuse most of them, and refusals are not the service being shared); B's must all be served.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import {
  AttestationAuthority,
  encodeNsmRequest,
  measure,
  NSM_MAX_REQUEST,
} from '../attestation/index.ts';
import { buildImage, loadImage } from '../enclave/index.ts';
import { Host } from '../host/index.ts';
import { RecipientVerifier } from '../kms-proxy/index.ts';
import { sharedReferenceBomb, text } from '../test/attestation/hostile-cbor.ts';
import { fmt, interleaved, interleavedAsync, rate, rateSync, result, type Benchmark } from './harness.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PCRS = new Map(Array.from({ length: 16 }, (_, i) => [i, measure(new Uint8Array([i]))] as const));
const NSM_BOMB = sharedReferenceBomb({ size: NSM_MAX_REQUEST, wrap: (b) => [0xa1, ...text('Attestation'), 0xa1, ...text('user_data'), ...b] });
const BOMB = sharedReferenceBomb({ size: 4096 });
const ATTEST = encodeNsmRequest({ Attestation: { user_data: null, nonce: new Uint8Array(32), public_key: null } });

function heapMiB(): string {
  return (process.memoryUsage().heapUsed / 1048576).toFixed(1);
}

async function withAuthority<T>(fn: (a: AttestationAuthority) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'nsbx-bench-bounded-'));
  try {
    return await fn(await AttestationAuthority.open({ dataDir: dir }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Calls `f`, which must throw: the refusal is what is measured. */
function refused(f: () => unknown): () => void {
  return () => {
    try {
      f();
    } catch {
      return;
    }
    throw new Error('a hostile input was accepted');
  };
}

function refusalNotes(refusalsPerSecond: number, heapBefore: string): string {
  return `${(1000 / refusalsPerSecond).toFixed(3)} ms per refusal (acceptance < 50 ms); heap ${heapBefore} MiB before, ${heapMiB()} MiB after`;
}

export const benchmarks: Benchmark[] = [
  {
    name: 'bounded decoding: 4 KB shared-reference bomb as an NSM request vs a valid Attestation request',
    run: () =>
      withAuthority(async (authority) => {
        const device = await authority.createDevice({ moduleId: 'i-0bench0000000000-enc0bench00000000', measurements: PCRS });
        const heap = heapMiB();
        const { figure, baseline } = await interleavedAsync(
          () => rate(() => device.process(NSM_BOMB), 1000),
          () => rate(() => device.process(ATTEST), 1000),
        );
        return result(
          'bounded decoding: NSM request bomb (4096 bytes) refused',
          { rate: figure, unit: 'refusals/s' },
          { rate: baseline, unit: 'documents/s', name: 'device.process of a valid Attestation request' },
          1,
          refusalNotes(figure, heap),
        );
      }),
  },
  {
    name: 'bounded decoding: 4 KB shared-reference bomb as a KMS Recipient document vs a valid one',
    run: () =>
      withAuthority(async (authority) => {
        const device = await authority.createDevice({ moduleId: 'i-0bench0000000000-enc0bench00000001', measurements: PCRS });
        const { generateKeyPairSync } = await import('node:crypto');
        const spki = new Uint8Array(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' }));
        const valid = await device.attestation({ publicKey: spki });
        const verifier = new RecipientVerifier({ trustAnchors: [authority.rootCertificate] });
        verifier.verify(valid);
        const heap = heapMiB();
        const { figure, baseline } = interleaved(
          () => rateSync(refused(() => verifier.verify(BOMB)), 1000),
          () => rateSync(() => verifier.verify(valid), 1000),
        );
        return result(
          'bounded decoding: KMS Recipient bomb (4096 bytes) refused',
          { rate: figure, unit: 'refusals/s' },
          { rate: baseline, unit: 'documents/s', name: 'RecipientVerifier.verify of a valid document, chain cached' },
          1,
          refusalNotes(figure, heap),
        );
      }),
  },
  {
    name: 'bounded decoding: 4 KB shared-reference bomb as an image SIGNATURE section vs a valid signed image',
    async run() {
      const dir = mkdtempSync(join(tmpdir(), 'nsbx-bench-bounded-'));
      try {
        const { execFileSync } = await import('node:child_process');
        const { readFileSync } = await import('node:fs');
        execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-days', '1', '-subj', '/CN=bench', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
        const { image } = await buildImage({ entry: join(root, 'examples/hello/main.ts'), signing: { certificate: readFileSync(join(dir, 'c.pem'), 'utf8'), privateKey: readFileSync(join(dir, 'k.pem'), 'utf8') } });
        const bombed = replaceLastSection(image, BOMB);
        const heap = heapMiB();
        // refused with ERR_IMAGE_BAD_SIGNATURE, cause ERR_ATTESTATION_MALFORMED
        const { figure, baseline } = interleaved(
          () => rateSync(refused(() => loadImage(bombed)), 1000),
          () => rateSync(() => loadImage(image), 1000),
        );
        return result(
          'bounded decoding: image SIGNATURE section bomb (4096 bytes) refused',
          { rate: figure, unit: 'refusals/s' },
          { rate: baseline, unit: 'images/s', name: `loadImage of the valid signed image (${image.length} bytes)` },
          0.8,
          refusalNotes(figure, heap),
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'fair NSM service: enclave B under a flood from enclave A vs B alone',
    async run() {
      const dir = mkdtempSync(join(tmpdir(), 'nsbx-bench-fair-'));
      const { image } = await buildImage({ entry: join(root, 'bench/nsm-load-app.ts'), vsockPorts: [5005] });
      // A budget that admits every request: with the default one (256 tokens/s, an attestation
      // costing 4) nearly all of both enclaves' requests were refused by their gates at once, and
      // this measured refusals, not the service the scheduler shares.
      const host = await Host.start({ dataDir: dir, budget: { nsmPerSecond: 1 << 20, nsmBurst: 1 << 20 } });
      try {
        const opts = { memoryMiB: 256, cpuCount: 1, allowWeakerIsolation: true } as const;
        const a = await host.runEnclave(image, { ...opts, name: 'flooder' });
        const b = await host.runEnclave(image, { ...opts, name: 'prober' });
        const load = async (cid: number, requests: number, concurrency: number, bytes: Uint8Array): Promise<{ ms: number; errors: number }> =>
          JSON.parse((await host.request(cid, 5005, JSON.stringify({ requests, concurrency, base64: Buffer.from(bytes).toString('base64') }))).toString('utf8')) as { ms: number; errors: number };
        // B keeps two requests in flight: one is always waiting at the host while the other
        // travels, so B's rate measures the host's service, not B's own turnaround.
        const probe = async (): Promise<number> => {
          const r = await load(b.EnclaveCID, 200, 2, ATTEST);
          // Every one of B's requests must be served (signed), or this would time refusals.
          if (r.errors > 0) throw new Error(`${r.errors} of B's 200 Attestation requests were refused`);
          return (200 * 1000) / r.ms;
        };
        /** B's rate while A keeps 16 requests of `flood` in flight the whole time. */
        const underFlood = async (flood: Uint8Array): Promise<{ rate: number; floodMsPerRequest: number; floodErrors: number }> => {
          let stop = false;
          let floodMs = 0;
          let floodN = 0;
          let floodErrors = 0;
          const flooding = (async () => {
            while (!stop) {
              const r = await load(a.EnclaveCID, 400, 16, flood);
              floodMs += r.ms;
              floodN += 400;
              floodErrors += r.errors;
            }
          })();
          await new Promise((r) => setTimeout(r, 100)); // the flood is under way
          const rateB = await probe();
          stop = true;
          await flooding;
          return { rate: rateB, floodMsPerRequest: floodMs / floodN, floodErrors: floodErrors / floodN };
        };
        await probe(); // warm
        const alone = await probe();
        const bombs = await underFlood(NSM_BOMB);
        const valid = await underFlood(ATTEST);
        const aloneAgain = await probe();
        const baseline = Math.max(alone, aloneAgain);
        const heap = heapMiB();
        const bombRatio = bombs.rate / baseline;
        return {
          ...result(
            'fair NSM service: B under A flooding valid requests (16 in flight) vs B alone',
            { rate: valid.rate, unit: 'B requests/s' },
            { rate: baseline, unit: 'requests/s', name: 'B alone, Attestation requests, two in flight' },
            0.35,
            `under A flooding 4 KB bombs (16 in flight, ${(bombs.floodErrors * 100).toFixed(0)} % refused, ` +
              `${bombs.floodMsPerRequest.toFixed(3)} ms per bomb round trip): B at ${fmt(bombs.rate)}/s, ratio ${bombRatio.toFixed(3)} (target >= 0.5)` +
              `; A's valid requests ${valid.floodMsPerRequest.toFixed(2)} ms each under contention; host heap ${heap} MiB`,
          ),
          ...(bombRatio < 0.5 ? { pass: false } : {}),
        };
      } finally {
        await host.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];

/** The image with its last section's data replaced (and length and CRC fixed), per IMAGE_FORMAT.md. */
function replaceLastSection(image: Uint8Array, data: Uint8Array): Uint8Array {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  let off = 24;
  let last = 24;
  for (let i = 0; i < v.getUint16(12); i++) {
    last = off;
    off += 8 + v.getUint32(off + 4);
  }
  const out = new Uint8Array(last + 8 + data.length);
  out.set(image.subarray(0, last + 8));
  out.set(data, last + 8);
  const w = new DataView(out.buffer);
  w.setUint32(last + 4, data.length);
  w.setUint32(16, out.length);
  w.setUint32(20, crc32(out.subarray(24), crc32(out.subarray(0, 20))));
  return out;
}
