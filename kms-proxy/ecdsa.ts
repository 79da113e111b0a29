// ECDSA over a caller-supplied digest (KMS Sign/Verify with MessageType DIGEST). node:crypto
// always hashes the message it signs, and DIGEST must never be hashed again, so this file does
// the ECDSA arithmetic itself (SEC 1 v2 §4.1.3 signing, §4.1.4 verification) with BigInt, on the
// four curves KMS offers. Not constant-time: acceptable for a local sandbox, stated in README.
// RAW messages keep using node:crypto.
import { randomBytes, type KeyObject } from 'node:crypto';

interface Curve {
  readonly p: bigint;
  readonly a: bigint;
  readonly n: bigint;
  readonly gx: bigint;
  readonly gy: bigint;
  readonly bytes: number;
}

// Curve parameters: SEC 2 v2 (secp256k1) and FIPS 186-4 D.1.2 (P-256, P-384, P-521).
export const CURVES: Readonly<Record<string, Curve>> = {
  prime256v1: {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    bytes: 32,
  },
  secp384r1: {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    a: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffcn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    bytes: 48,
  },
  secp521r1: {
    p: (1n << 521n) - 1n,
    a: (1n << 521n) - 4n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    gx: 0x00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66n,
    gy: 0x011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650n,
    bytes: 66,
  },
  secp256k1: {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn,
    a: 0n,
    n: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
    gx: 0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n,
    gy: 0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n,
    bytes: 32,
  },
};

type Jacobian = readonly [bigint, bigint, bigint];

function mod(x: bigint, m: bigint): bigint {
  const r = x % m;
  return r < 0n ? r + m : r;
}

function inv(x: bigint, m: bigint): bigint {
  let [a, b, u, v] = [mod(x, m), m, 1n, 0n];
  while (a !== 0n) {
    const q = b / a;
    [a, b] = [b - q * a, a];
    [u, v] = [v - q * u, u];
  }
  return mod(v, m);
}

function double(c: Curve, [x, y, z]: Jacobian): Jacobian {
  if (y === 0n || z === 0n) return [0n, 1n, 0n];
  const { p } = c;
  const yy = mod(y * y, p);
  const s = mod(4n * x * yy, p);
  const zz = mod(z * z, p);
  const m = mod(3n * x * x + c.a * zz * zz, p);
  const x3 = mod(m * m - 2n * s, p);
  const y3 = mod(m * (s - x3) - 8n * yy * yy, p);
  return [x3, y3, mod(2n * y * z, p)];
}

function add(c: Curve, P: Jacobian, Q: Jacobian): Jacobian {
  if (P[2] === 0n) return Q;
  if (Q[2] === 0n) return P;
  const { p } = c;
  const z1z1 = mod(P[2] * P[2], p);
  const z2z2 = mod(Q[2] * Q[2], p);
  const u1 = mod(P[0] * z2z2, p);
  const u2 = mod(Q[0] * z1z1, p);
  const s1 = mod(P[1] * Q[2] * z2z2, p);
  const s2 = mod(Q[1] * P[2] * z1z1, p);
  if (u1 === u2) return s1 === s2 ? double(c, P) : [0n, 1n, 0n];
  const h = mod(u2 - u1, p);
  const r = mod(s2 - s1, p);
  const hh = mod(h * h, p);
  const hhh = mod(h * hh, p);
  const v = mod(u1 * hh, p);
  const x3 = mod(r * r - hhh - 2n * v, p);
  const y3 = mod(r * (v - x3) - s1 * hhh, p);
  return [x3, y3, mod(P[2] * Q[2] * h, p)];
}

function multiply(c: Curve, k: bigint, P: Jacobian): Jacobian {
  let R: Jacobian = [0n, 1n, 0n];
  let A = P;
  while (k > 0n) {
    if (k & 1n) R = add(c, R, A);
    A = double(c, A);
    k >>= 1n;
  }
  return R;
}

function affineX(c: Curve, P: Jacobian): bigint | undefined {
  if (P[2] === 0n) return undefined;
  const zi = inv(P[2], c.p);
  return mod(P[0] * zi * zi, c.p);
}

function toInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`);
}

/** SEC 1 §4.1.3 step 5: the leftmost bitlen(n) bits of the digest. */
function digestToInt(c: Curve, digest: Uint8Array): bigint {
  const e = toInt(digest);
  const excess = digest.length * 8 - c.n.toString(2).length;
  return excess > 0 ? e >> BigInt(excess) : e;
}

function b64uToInt(s: string): bigint {
  return toInt(Buffer.from(s, 'base64url'));
}

function derInt(x: bigint): Buffer {
  let h = x.toString(16);
  if (h.length % 2) h = `0${h}`;
  let b = Buffer.from(h, 'hex');
  if ((b[0] ?? 0) & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return Buffer.concat([Buffer.from([0x02]), derLen(b.length), b]);
}

function derLen(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  return n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
}

/** DER ECDSA-Sig-Value (RFC 3279 §2.2.3), the format KMS returns. */
export function encodeSignature(r: bigint, s: bigint): Uint8Array {
  const body = Buffer.concat([derInt(r), derInt(s)]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x30]), derLen(body.length), body]));
}

export function decodeSignature(sig: Uint8Array): { r: bigint; s: bigint } | undefined {
  const b = Buffer.from(sig);
  let i = 0;
  const len = (): number | undefined => {
    const first = b[i++];
    if (first === undefined) return undefined;
    if (first < 0x80) return first;
    const n = first & 0x7f;
    if (n < 1 || n > 2) return undefined;
    let v = 0;
    for (let j = 0; j < n; j++) v = (v << 8) | (b[i++] ?? 0);
    return v;
  };
  if (b[i++] !== 0x30) return undefined;
  const total = len();
  if (total === undefined || i + total !== b.length) return undefined;
  const ints: bigint[] = [];
  for (let k = 0; k < 2; k++) {
    if (b[i++] !== 0x02) return undefined;
    const l = len();
    if (l === undefined || l === 0 || i + l > b.length) return undefined;
    ints.push(toInt(b.subarray(i, i + l)));
    i += l;
  }
  if (i !== b.length) return undefined;
  const [r = 0n, s = 0n] = ints;
  return { r, s };
}

export function signDigest(curveName: string, privateKey: KeyObject, digest: Uint8Array): Uint8Array {
  const c = CURVES[curveName];
  if (!c) throw new Error(`unsupported curve ${curveName}`);
  const d = b64uToInt(privateKey.export({ format: 'jwk' }).d ?? '');
  const e = digestToInt(c, digest);
  const G: Jacobian = [c.gx, c.gy, 1n];
  for (;;) {
    const k = mod(toInt(randomBytes(c.bytes + 8)), c.n - 1n) + 1n;
    const r = mod(affineX(c, multiply(c, k, G)) ?? 0n, c.n);
    if (r === 0n) continue;
    const s = mod(inv(k, c.n) * (e + r * d), c.n);
    if (s === 0n) continue;
    return encodeSignature(r, s);
  }
}

export function verifyDigest(curveName: string, publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const c = CURVES[curveName];
  if (!c) return false;
  const rs = decodeSignature(signature);
  if (!rs) return false;
  const { r, s } = rs;
  if (r <= 0n || r >= c.n || s <= 0n || s >= c.n) return false;
  const jwk = publicKey.export({ format: 'jwk' });
  const Q: Jacobian = [b64uToInt(jwk.x ?? ''), b64uToInt(jwk.y ?? ''), 1n];
  const w = inv(s, c.n);
  const e = digestToInt(c, digest);
  const X = add(c, multiply(c, mod(e * w, c.n), [c.gx, c.gy, 1n]), multiply(c, mod(r * w, c.n), Q));
  const x = affineX(c, X);
  return x !== undefined && mod(x, c.n) === r;
}
