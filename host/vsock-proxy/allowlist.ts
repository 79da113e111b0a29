// The vsock-proxy allowlist, in AWS's file format (vsock_proxy/configs/vsock-proxy.yaml in
// aws/aws-nitro-enclaves-cli):
//   allowlist:
//   - {address: kms.us-east-1.amazonaws.com, port: 443}
// and AWS's matching rule (proxy.rs check_allowlist): an entry matches when its port equals the
// remote port and either its address is the remote host name as given, or one of the addresses it
// resolves to is the remote's resolved address. No file, an empty file or an empty list allow
// nothing. Unlike AWS, which ignores what it does not read, unknown keys and mistyped values are
// refused, so a typo cannot silently widen or empty the list.
import { readFileSync } from 'node:fs';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parseDocument } from 'yaml';
import { AllowlistConfigError } from './errors.ts';

export interface AllowlistEntry {
  readonly address: string;
  readonly port: number;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** Resolves a host name (or IP literal) to its addresses. Injectable for tests. */
export type Lookup = (host: string) => Promise<string[]>;

export const defaultLookup: Lookup = async (host) => {
  if (isIP(host)) return [host];
  const r = await dnsLookup(host, { all: true });
  return r.map((a) => a.address);
};

const MAX_ADDRESS = 253; // longest DNS name

export function validAddress(a: unknown): a is string {
  return typeof a === 'string' && a.length > 0 && a.length <= MAX_ADDRESS && !/[\s/@]/.test(a);
}

export function validPort(p: unknown): p is number {
  return typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535;
}

/** Parses the YAML text of an allowlist file. */
export function parseAllowlist(text: string, source = 'allowlist'): AllowlistEntry[] {
  let doc: unknown;
  try {
    const parsed = parseDocument(text, { uniqueKeys: true, logLevel: 'silent' });
    // Warnings (unknown tags, …) are refused too: the file must mean exactly what it says.
    const problem = parsed.errors[0] ?? parsed.warnings[0];
    if (problem) throw problem;
    doc = parsed.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new AllowlistConfigError(`${source}: not valid YAML: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new AllowlistConfigError(`${source}: expected a mapping with an 'allowlist' key`);
  const top = doc as Record<string, unknown>;
  for (const k of Object.keys(top)) if (k !== 'allowlist') throw new AllowlistConfigError(`${source}: unknown key '${k}' (only 'allowlist' is read)`);
  const list = top.allowlist;
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list)) throw new AllowlistConfigError(`${source}: 'allowlist' must be a list of {address, port}`);
  return list.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new AllowlistConfigError(`${source}: allowlist[${i}] must be a mapping {address, port}`);
    const e = item as Record<string, unknown>;
    for (const k of Object.keys(e)) if (k !== 'address' && k !== 'port') throw new AllowlistConfigError(`${source}: allowlist[${i}]: unknown key '${k}'`);
    if (!validAddress(e.address)) throw new AllowlistConfigError(`${source}: allowlist[${i}].address must be a host name or IP address`);
    if (!validPort(e.port)) throw new AllowlistConfigError(`${source}: allowlist[${i}].port must be an integer in 1–65535`);
    return Object.freeze({ address: e.address, port: e.port });
  });
}

/** Reads an allowlist file; a missing file is an empty allowlist (everything refused), as AWS's proxy refuses without one. */
export function loadAllowlist(path: string): AllowlistEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new AllowlistConfigError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  return parseAllowlist(text, path);
}

function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
}

function sameIp(a: string, b: string): boolean {
  const norm = (x: string): string => x.toLowerCase().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
  return norm(a) === norm(b);
}

/**
 * Which allowlist entry admits `remote` (whose resolved address is `remoteIp`), or undefined.
 * AWS's order: port first, then the name as written, then the entry's resolved addresses.
 */
export async function findAllowed(allowlist: readonly AllowlistEntry[], remote: Endpoint, remoteIp: string, lookup: Lookup): Promise<AllowlistEntry | undefined> {
  for (const entry of allowlist) {
    if (entry.port !== remote.port) continue;
    if (sameName(entry.address, remote.address)) return entry;
    let addrs: string[];
    try {
      addrs = await lookup(entry.address);
    } catch {
      continue; // an entry that does not resolve admits nothing
    }
    if (addrs.some((a) => sameIp(a, remoteIp))) return entry;
  }
  return undefined;
}
