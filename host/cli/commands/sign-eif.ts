// `nitro-sandbox sign-eif`: as `nitro-cli sign-eif` (src/lib.rs `sign_eif`, commands_parser.rs
// `SignEifArgs`): signs an image or a real EIF in place (replacing a signature it has), prints
// "Enclave Image successfully signed." on stderr and the measurements, PCR8 included, on stdout.
import { nitroMeasurements, signImageFile } from '../../../enclave/index.ts';
import { UsageError, json, readOptionFile, requiredOpt, type Command } from '../command.ts';

export const signEif: Command = {
  nitroCli: true,
  help: `Usage: nitro-sandbox sign-eif --eif-path FILE --signing-certificate PEM --private-key PEM

Signs FILE in place, as nitro-cli sign-eif does: PCR0 is signed with the key (a COSE_Sign1 in the
SIGNATURE section) and the certificate is stored next to it, replacing any signature the file had.
PCR0, PCR1 and PCR2 do not change; PCR8 becomes the certificate's (pcr --signing-certificate).
FILE is an image made by build-enclave (signed in our format, enclave/IMAGE_FORMAT.md) or a real
EIF (signed in nitro-cli's format, so nitro-cli describe-eif and run-enclave accept it). A damaged
file (bad checksum or structure) is refused and left as it was. Prints on stderr
"Enclave Image successfully signed." and on stdout:
  {"Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": …, "PCR1": …, "PCR2": …, "PCR8": …}}

Options:
  --eif-path FILE              the image or EIF to sign (rewritten in place)
  --signing-certificate PEM    X.509 certificate with an ECDSA P-384 key
  --private-key PEM            its private key (a local PEM file; KMS key ARNs are not supported)
`,
  options: { 'eif-path': { type: 'string' }, 'signing-certificate': { type: 'string' }, 'private-key': { type: 'string' } },
  async run(args, io) {
    const path = requiredOpt(args, 'eif-path');
    const certificate = readOptionFile('signing-certificate', requiredOpt(args, 'signing-certificate')).toString('utf8');
    const privateKey = readOptionFile('private-key', requiredOpt(args, 'private-key')).toString('utf8');
    let measurements;
    try {
      measurements = signImageFile(path, { certificate, privateKey });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw new UsageError(`--eif-path: cannot read ${path} (${code})`);
      throw e;
    }
    io.err('Enclave Image successfully signed.\n');
    io.out(json({ Measurements: nitroMeasurements(measurements) }));
    return 0;
  },
};
