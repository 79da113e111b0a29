// `nitro-sandbox attest`: a document from a mock NSM, signed by the sandbox PKI, for tests and demos
// outside an enclave. The CA keys are unsealed only by the process that signs, so the document is
// issued by the host daemon (started if none runs), never by this command itself.
import { randomBytes, createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MAX_OPTIONAL_FIELD } from '../../../attestation/index.ts';
import { ensureDaemon } from '../../daemon/index.ts';
import { defaultRuntimeDir } from '../../index.ts';
import { UsageError, flagOpt, hexOpt, pcrListOpt, readOptionFile, stringOpt, type Command } from '../command.ts';

function randomEnclaveId(): string {
  return `i-${randomBytes(8).toString('hex')}-enc${randomBytes(8).toString('hex')}`;
}

function readPublicKey(path: string): Uint8Array {
  let der = readOptionFile('public-key', path);
  if (der.includes('-----BEGIN')) {
    try {
      der = createPublicKey(der.toString('utf8')).export({ type: 'spki', format: 'der' });
    } catch {
      throw new UsageError('--public-key: the PEM file holds no readable public key');
    }
  }
  if (der.length > MAX_OPTIONAL_FIELD) throw new UsageError(`--public-key must be at most ${MAX_OPTIONAL_FIELD} bytes of DER`);
  return new Uint8Array(der);
}

export const attest: Command = {
  help: `Usage: nitro-sandbox attest [--data-dir DIR] [--pcr N=HEX ...] [--debug-mode] [--nonce HEX]
                          [--user-data HEX] [--public-key DER_OR_PEM_FILE] [--module-id ID] [--out FILE]

Issues an AWS-Nitro-shaped attestation document (untagged COSE_Sign1, ES384) from a mock Nitro
Security Module whose PCR0–15 hold the given values (unnamed ones are zero: without PCR0–2 the
document reads as debug mode, as on AWS), signed by a fresh
3-hour leaf certificate of the sandbox PKI in DIR (created on first use; default
$NITRO_SANDBOX_HOME or ~/.nitro-sandbox). Verify it with
'nitro-sandbox verify-attestation --root sandbox'.

The document is issued by the host daemon, which alone unseals the CA keys (it is started, as by
run-enclave, when none answers; a running daemon must use the same --data-dir).

WARNING: whoever can reach the daemon's socket, or read the custody key (DIR/custody/seal.key)
with the sealed CA keys, can mint documents with any PCRs: such documents prove nothing about what
code runs; they are for tests and demos. Enclaves can do neither.

Options:
  --data-dir DIR        PKI data directory (of the daemon)
  --pcr N=HEX           PCR N (0–15) as 48 bytes of hex; repeatable
  --debug-mode          a debug-mode document: PCR0, PCR1, PCR2 read as zero
  --nonce HEX           nonce field (≤ 1024 bytes)
  --user-data HEX       user_data field (≤ 1024 bytes)
  --public-key FILE     public_key field: a DER file, or a PEM public key (stored as SPKI DER)
  --module-id ID        enclave id (default: a random i-<16 hex>-enc<16 hex>)
  --out FILE            write the raw document to FILE (default: base64 on standard output)
`,
  options: {
    'data-dir': { type: 'string' },
    pcr: { type: 'string', multiple: true },
    'debug-mode': { type: 'boolean' },
    nonce: { type: 'string' },
    'user-data': { type: 'string' },
    'public-key': { type: 'string' },
    'module-id': { type: 'string' },
    out: { type: 'string' },
  },
  async run(args, io) {
    const measurements = pcrListOpt(args, 'pcr', 15);
    const nonce = hexOpt(args, 'nonce', MAX_OPTIONAL_FIELD);
    const userData = hexOpt(args, 'user-data', MAX_OPTIONAL_FIELD);
    const pkPath = stringOpt(args, 'public-key');
    const publicKey = pkPath === undefined ? undefined : readPublicKey(pkPath);
    const moduleId = stringOpt(args, 'module-id') ?? randomEnclaveId();
    if (!/^[A-Za-z0-9-]{1,64}$/.test(moduleId)) throw new UsageError('--module-id must be 1–64 of [A-Za-z0-9-]');
    const dataDir = stringOpt(args, 'data-dir');
    const client = await ensureDaemon({ runtimeDir: defaultRuntimeDir(), ...(dataDir !== undefined ? { dataDir: resolve(dataDir) } : {}) });
    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
    const { document } = await client.attest({
      pcrs: Object.fromEntries([...measurements].map(([i, v]) => [String(i), hex(v)])),
      moduleId,
      debugMode: flagOpt(args, 'debug-mode'),
      ...(nonce !== undefined ? { nonce: hex(nonce) } : {}),
      ...(userData !== undefined ? { userData: hex(userData) } : {}),
      ...(publicKey !== undefined ? { publicKey: hex(publicKey) } : {}),
    });
    const out = stringOpt(args, 'out');
    if (out !== undefined) {
      writeFileSync(out, document);
      io.err(`wrote ${document.length}-byte attestation document for ${moduleId} to ${out}\n`);
    } else {
      io.out(`${Buffer.from(document).toString('base64')}\n`);
    }
    return 0;
  },
};
