// `nitro-sandbox pcr`: as `nitro-cli pcr` (aws-nitro-enclaves-cli src/lib.rs, `get_file_pcr`):
// `--input F` prints {"PCR": extend(0⁴⁸, SHA384(F))}, `--signing-certificate C` prints
// {"PCR8": extend(0⁴⁸, SHA384(DER of C))}, the PCR8 an image signed with C gets.
import { measure, toHex } from '../../../attestation/index.ts';
import { pcr8FromCertificate } from '../../../enclave/index.ts';
import { UsageError, json, readOptionFile, stringOpt, type Command } from '../command.ts';

export const pcr: Command = {
  nitroCli: true,
  help: `Usage: nitro-sandbox pcr (--input FILE | --signing-certificate PEM)

  --input FILE                 prints {"PCR": SHA384(48 zero bytes ‖ SHA384(FILE))}
  --signing-certificate PEM    prints {"PCR8": …}: the PCR8 of an image signed with this
                               certificate (SHA384 over the certificate's DER, extended from zero)
`,
  options: { input: { type: 'string' }, 'signing-certificate': { type: 'string' } },
  async run(args, io) {
    const input = stringOpt(args, 'input');
    const cert = stringOpt(args, 'signing-certificate');
    if ((input === undefined) === (cert === undefined)) throw new UsageError('give exactly one of --input or --signing-certificate');
    if (input !== undefined) {
      io.out(json({ PCR: toHex(measure(new Uint8Array(readOptionFile('input', input)))) }));
    } else {
      const raw = readOptionFile('signing-certificate', cert as string);
      // nitro-cli reads PEM; DER is accepted too.
      const text = raw.toString('latin1');
      io.out(json({ PCR8: toHex(pcr8FromCertificate(text.includes('-----BEGIN') ? text : new Uint8Array(raw))) }));
    }
    return 0;
  },
};
