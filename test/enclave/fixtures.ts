// Shared helpers for the enclave tests. The image readers here are written independently of
// enclave/image/format.ts (a plain DataView walk and a table-driven CRC-32), so tests check the
// format against its specification in IMAGE_FORMAT.md, not against the code under test.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const examplesDir = join(repoRoot, 'examples');

/** Temp dirs made by a test file; remove with `cleanup()` in afterAll. */
const made: string[] = [];
export function tempDir(prefix = 'nsbx-enclave-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
export function cleanup(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Copies examples/<name> to <dir>/<...sub>/<name> and returns the copy's entry path. */
export function copyExample(name: string, dir: string, ...sub: string[]): string {
  const dest = join(dir, ...sub, name);
  cpSync(join(examplesDir, name), dest, { recursive: true });
  return join(dest, 'main.ts');
}

// CRC-32/ISO-HDLC (reflected polynomial 0xEDB88320), table-driven, independent of node:zlib.
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
export function crc32(...chunks: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const b of chunks) for (const x of b) c = (TABLE[(c ^ x) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Recomputes the header CRC (bytes 20..24) per IMAGE_FORMAT.md, in place. */
export function fixCrc(image: Uint8Array): Uint8Array {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  v.setUint32(20, crc32(image.subarray(0, 20), image.subarray(24)));
  return image;
}

export interface RawSection {
  type: number;
  flags: number;
  /** Offset of the section header. */
  start: number;
  end: number;
  dataStart: number;
}

/** Walks the section table per IMAGE_FORMAT.md (header 24 bytes; section header type u16, flags u16, length u32, BE). */
export function sections(image: Uint8Array): RawSection[] {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const count = v.getUint16(12);
  const out: RawSection[] = [];
  let off = 24;
  for (let i = 0; i < count; i++) {
    const len = v.getUint32(off + 4);
    out.push({ type: v.getUint16(off), flags: v.getUint16(off + 2), start: off, dataStart: off + 8, end: off + 8 + len });
    off += 8 + len;
  }
  return out;
}

export function sectionData(image: Uint8Array, type: number): Uint8Array {
  const s = sections(image).find((x) => x.type === type);
  if (!s) throw new Error(`no section ${type}`);
  return image.subarray(s.dataStart, s.end);
}

/** extend(0⁴⁸, SHA384(data)) with node:crypto directly. */
export function pcrOf(data: Uint8Array): string {
  const inner = createHash('sha384').update(data).digest();
  return createHash('sha384').update(Buffer.alloc(48)).update(inner).digest('hex');
}

/** The same with the openssl binary: `openssl dgst -sha384 -binary`, prefixed with 48 zero bytes, hashed again. */
export function pcrWithOpenssl(data: Uint8Array): string {
  const inner = execFileSync('openssl', ['dgst', '-sha384', '-binary'], { input: data });
  const outer = execFileSync('openssl', ['dgst', '-sha384', '-r'], { input: Buffer.concat([Buffer.alloc(48), inner]) }).toString();
  return outer.split(' ')[0] as string;
}

/**
 * The expected PCRs of an image computed from IMAGE_FORMAT.md (EIF's rules): section data only,
 * PCR0 = RUNTIME ‖ BOOTSTRAP ‖ APPLICATION, PCR1 = RUNTIME ‖ BOOTSTRAP, PCR2 = APPLICATION; the
 * MANIFEST and SIGNATURE sections are outside every PCR.
 */
export function expectedPcrs(image: Uint8Array): { pcr0: string; pcr1: string; pcr2: string } {
  const s = sections(image);
  const [rt, bs, app] = s as [RawSection, RawSection, RawSection];
  const data = (x: RawSection): Uint8Array => image.subarray(x.dataStart, x.end);
  return {
    pcr0: pcrOf(Buffer.concat([data(rt), data(bs), data(app)])),
    pcr1: pcrOf(Buffer.concat([data(rt), data(bs)])),
    pcr2: pcrOf(data(app)),
  };
}

export interface SigningPair {
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
}

/** A throwaway self-signed certificate made by the openssl binary (P-384 unless told otherwise). */
export function opensslCert(dir: string, name: string, curve = 'P-384'): SigningPair {
  const certPath = join(dir, `${name}.cert.pem`);
  const keyPath = join(dir, `${name}.key.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-sha384', '-nodes', '-days', '30',
      '-subj', `/C=US/O=Enclave Tests/CN=${name}`, '-keyout', keyPath, '-out', certPath],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  return { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8'), certPath, keyPath };
}

/** The `code` of what `f` throws ('untyped …' for an error without one), or 'no error'. */
export function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code ?? `untyped ${String(e)}`;
  }
  return 'no error';
}

/** A capturing CliIo for `main([...])`. */
export function capture(): { io: { out: (t: string) => void; err: (t: string) => void }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { out: (t) => void (out += t), err: (t) => void (err += t) }, out: () => out, err: () => err };
}

export function writeFile(dir: string, name: string, content: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

/** Sorted-key, whitespace-free JSON (the canonical form IMAGE_FORMAT.md prescribes), written independently. */
export function sortedJson(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(sortedJson).join(',')}]`;
  if (typeof x === 'object' && x !== null) {
    return `{${Object.keys(x).sort().map((k) => `${JSON.stringify(k)}:${sortedJson((x as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(x);
}
