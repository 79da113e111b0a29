// Every CLI command, one per file in this folder: its words and the line the command list shows
// here, the rest in its file, which is imported only when the command runs (or its --help is
// asked for). `nitro-sandbox --help` then loads no command, and a command loads only what it uses:
// with every command imported up front, each call paid about 0.7 s of module loading.
// Add a command by adding its entry here.
import type { Command } from '../command.ts';

export interface CommandEntry {
  /** Words that select the command, e.g. `verify-attestation` or `pki export-root`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  load(): Promise<Command>;
}

export const commands: readonly CommandEntry[] = [
  { name: 'demo', summary: 'run the end-to-end demo (what npm start runs)', load: async () => (await import('./demo.ts')).demo },
  { name: 'attest', summary: 'issue an attestation document from a mock NSM, signed by the sandbox PKI', load: async () => (await import('./attest.ts')).attest },
  { name: 'verify-attestation', summary: 'verify an attestation document (AWS or sandbox) and print it', load: async () => (await import('./verify-attestation.ts')).verifyAttestationCommand },
  { name: 'pki export-root', summary: 'print the sandbox root CA certificate (PEM)', load: async () => (await import('./pki-export-root.ts')).pkiExportRoot },
  { name: 'build-enclave', summary: 'bundle a JS/TS app into a measured enclave image (EIF-like) and print its PCRs', load: async () => (await import('./build-enclave.ts')).buildEnclave },
  { name: 'describe-eif', summary: 'print an image\'s or a real EIF\'s version, measurements, signature and metadata', load: async () => (await import('./describe-eif.ts')).describeEif },
  { name: 'sign-eif', summary: 'sign an image or a real EIF in place (or replace its signature) and print its PCRs', load: async () => (await import('./sign-eif.ts')).signEif },
  { name: 'run-enclave', summary: 'start an enclave from an image (owned by the host daemon) and print nitro-cli\'s JSON', load: async () => (await import('./run-enclave.ts')).runEnclave },
  { name: 'describe-enclaves', summary: 'list the enclaves the host daemon runs (nitro-cli\'s JSON plus isolation layers)', load: async () => (await import('./describe-enclaves.ts')).describeEnclaves },
  { name: 'terminate-enclave', summary: 'terminate one enclave (by id or name) or all of them', load: async () => (await import('./terminate-enclave.ts')).terminateEnclave },
  { name: 'console', summary: 'stream the console of a debug-mode enclave', load: async () => (await import('./console.ts')).consoleCommand },
  { name: 'vsock-proxy', summary: 'forward enclave connections on a parent vsock port to an allowlisted TCP endpoint', load: async () => (await import('./vsock-proxy.ts')).vsockProxy },
  { name: 'pcr', summary: 'print the PCR value of a file, or the PCR8 of a signing certificate', load: async () => (await import('./pcr.ts')).pcr },
  { name: 'kms serve', summary: 'Run the AWS-KMS-compatible key service (SigV4, durable store, key policies, audit log)', load: async () => (await import('./kms-serve.ts')).kmsServe },
  { name: 'kms audit verify', summary: "Check the KMS audit log's signed hash chain for edits, deletions, truncation and rewriting", load: async () => (await import('./kms-audit-verify.ts')).kmsAuditVerify },
  { name: 'kms audit recover', summary: 'Set aside an audit log that fails verification and start a new one that records why', load: async () => (await import('./kms-audit-recover.ts')).kmsAuditRecover },
  { name: 'kms audit public-key', summary: "Print the public key that verifies the KMS audit log's signatures", load: async () => (await import('./kms-audit-public-key.ts')).kmsAuditPublicKey },
  { name: 'kms explain', summary: 'Explain which key-policy statement or grant allows or denies a request, and which condition failed', load: async () => (await import('./kms-explain.ts')).kmsExplain },
  { name: 'ui', summary: 'serve the web console: enclaves, document inspector, KMS, demo story', load: async () => (await import('./ui.ts')).uiCommand },
];
