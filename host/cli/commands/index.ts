// Every CLI command, one per file in this folder. Add a command by importing it here.
import type { Command } from '../command.ts';
import { attest } from './attest.ts';
import { buildEnclave } from './build-enclave.ts';
import { consoleCommand } from './console.ts';
import { demo } from './demo.ts';
import { describeEif } from './describe-eif.ts';
import { describeEnclaves } from './describe-enclaves.ts';
import { kmsAuditVerify } from './kms-audit-verify.ts';
import { kmsExplain } from './kms-explain.ts';
import { kmsServe } from './kms-serve.ts';
import { pcr } from './pcr.ts';
import { pkiExportRoot } from './pki-export-root.ts';
import { runEnclave } from './run-enclave.ts';
import { signEif } from './sign-eif.ts';
import { terminateEnclave } from './terminate-enclave.ts';
import { uiCommand } from './ui.ts';
import { verifyAttestationCommand } from './verify-attestation.ts';
import { vsockProxy } from './vsock-proxy.ts';

export const commands: readonly Command[] = [
  demo,
  attest,
  verifyAttestationCommand,
  pkiExportRoot,
  buildEnclave,
  describeEif,
  signEif,
  runEnclave,
  describeEnclaves,
  terminateEnclave,
  consoleCommand,
  vsockProxy,
  pcr,
  kmsServe,
  kmsAuditVerify,
  kmsExplain,
  uiCommand,
];
