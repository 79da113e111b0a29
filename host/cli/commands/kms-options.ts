// Options the `kms` commands share: where the KMS data directory is, and the Recipient trust
// settings (`kms serve` verifies attestation documents with them, `kms explain` the same way).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultDataDir } from '../../../attestation/index.ts';
import type { RecipientOptions } from '../../../kms-proxy/index.ts';
import { flagOpt, intOpt, listOpt, stringOpt, UsageError, type ParsedArgs } from '../command.ts';

/** `--data-dir`, else `kms/` in the sandbox data directory ($NITRO_SANDBOX_HOME or ~/.nitro-sandbox). */
export function kmsDataDir(args: ParsedArgs): string {
  return stringOpt(args, 'data-dir') ?? join(defaultDataDir(), 'kms');
}

/** `--trust-anchor`, `--sandbox-dir`, `--aws-nitro-root` and `--attestation-max-age` (where offered). */
export function recipientOptions(args: ParsedArgs): RecipientOptions {
  const anchors = listOpt(args, 'trust-anchor').map((f) => {
    try {
      return readFileSync(f, 'utf8');
    } catch (e) {
      throw new UsageError(`--trust-anchor ${f}: ${(e as Error).message}`);
    }
  });
  const sandboxDir = stringOpt(args, 'sandbox-dir');
  const maxAge = intOpt(args, 'attestation-max-age', 1, 86_400);
  return {
    ...(anchors.length > 0 ? { trustAnchors: anchors } : {}),
    ...(sandboxDir ? { sandboxDataDir: sandboxDir } : {}),
    ...(flagOpt(args, 'aws-nitro-root') ? { awsNitroRoot: true } : {}),
    ...(maxAge !== undefined ? { maxAgeMs: maxAge * 1000 } : {}),
  };
}
