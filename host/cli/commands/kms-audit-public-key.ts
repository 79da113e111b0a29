// `nitro-sandbox kms audit public-key`: the key that verifies the audit log, for operators to pin.
import { auditKeyPem, auditSigningKeyOf } from '../../../kms-proxy/index.ts';
import { flagOpt, UsageError, type Command } from '../command.ts';
import { kmsDataDir } from './kms-options.ts';

export const kmsAuditPublicKey: Command = {
  help: `Usage: nitro-sandbox kms audit public-key [--data-dir DIR] [--pem]

Prints the Ed25519 public key the KMS in DIR signs its audit log with, as ed25519:<base64url> (or,
with --pem, as a PEM SubjectPublicKeyInfo that openssl reads). The key is derived from
DIR/master.key, so this needs read access to it; give the output to whoever verifies the log with
'kms audit verify --public-key', who then needs only read access to the log. 'kms serve' prints
the same key at start-up.

Options:
  --data-dir DIR   the KMS data directory (default $NITRO_SANDBOX_HOME/kms or ~/.nitro-sandbox/kms)
  --pem            print the key as PEM`,
  options: { 'data-dir': { type: 'string' }, pem: { type: 'boolean' } },
  async run(args, io) {
    const dir = kmsDataDir(args);
    const key = auditSigningKeyOf(dir);
    if (!key) throw new UsageError(`there is no master.key in ${dir}`);
    io.out(flagOpt(args, 'pem') ? auditKeyPem(key.publicKey) : `${key.id}\n`);
    return 0;
  },
};
