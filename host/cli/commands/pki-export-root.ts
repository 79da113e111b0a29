// `nitro-sandbox pki export-root`: the sandbox root certificate, for verifiers that must trust it.
import { SandboxPki } from '../../../attestation/index.ts';
import { stringOpt, type Command } from '../command.ts';

export const pkiExportRoot: Command = {
  name: 'pki export-root',
  summary: 'print the sandbox root CA certificate (PEM)',
  help: `Usage: nitro-sandbox pki export-root [--data-dir DIR]

Prints the sandbox root certificate as PEM, creating the PKI in DIR on first use (default
$NITRO_SANDBOX_HOME or ~/.nitro-sandbox). Give it to verifiers as their trust anchor, the way real
verifiers are given the AWS Nitro Enclaves Root-G1 certificate. The private key stays in
DIR/pki/root.key (mode 0600).
`,
  options: { 'data-dir': { type: 'string' } },
  async run(args, io) {
    const dataDir = stringOpt(args, 'data-dir');
    const pki = await SandboxPki.open(dataDir === undefined ? {} : { dataDir });
    io.out(pki.rootPem());
    return 0;
  },
};
