// `nitro-sandbox pki export-root`: the sandbox root certificate, for verifiers that must trust it.
import { SandboxPki } from '../../../attestation/index.ts';
import { stringOpt, type Command } from '../command.ts';

export const pkiExportRoot: Command = {
  help: `Usage: nitro-sandbox pki export-root [--data-dir DIR]

Prints the sandbox root certificate as PEM, creating the PKI in DIR on first use (default
$NITRO_SANDBOX_HOME or ~/.nitro-sandbox). Give it to verifiers as their trust anchor, the way real
verifiers are given the AWS Nitro Enclaves Root-G1 certificate. An existing PKI is read without
opening its private keys, which stay sealed under DIR/custody/seal.key (see README, "CA keys").
`,
  options: { 'data-dir': { type: 'string' } },
  async run(args, io) {
    const dataDir = stringOpt(args, 'data-dir');
    io.out(await SandboxPki.rootPem(dataDir === undefined ? {} : { dataDir }));
    return 0;
  },
};
