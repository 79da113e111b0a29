// Every CLI command, one per file in this folder. Add a command by importing it here.
import type { Command } from '../command.ts';
import { attest } from './attest.ts';
import { buildEnclave } from './build-enclave.ts';
import { demo } from './demo.ts';
import { describeEif } from './describe-eif.ts';
import { kmsAuditVerify } from './kms-audit-verify.ts';
import { kmsServe } from './kms-serve.ts';
import { pcr } from './pcr.ts';
import { pkiExportRoot } from './pki-export-root.ts';
import { verifyAttestationCommand } from './verify-attestation.ts';

export const commands: readonly Command[] = [
  demo,
  attest,
  verifyAttestationCommand,
  pkiExportRoot,
  buildEnclave,
  describeEif,
  pcr,
  kmsServe,
  kmsAuditVerify,
];
