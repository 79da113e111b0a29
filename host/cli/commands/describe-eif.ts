// `nitro-sandbox describe-eif`: nitro-cli's describe-eif output (`DescribeEifInfo`) for an image.
import { describeImage, readImageFile } from '../../../enclave/index.ts';
import { UsageError, json, requiredOpt, type Command } from '../command.ts';

export const describeEif: Command = {
  name: 'describe-eif',
  summary: 'print an enclave image\'s version, measurements, signature and metadata',
  help: `Usage: nitro-sandbox describe-eif --eif-path FILE

Prints, as nitro-cli does:
  {EifVersion, Measurements, IsSigned, SigningCertificate?, CheckCRC, SignatureCheck?,
   ImageName, ImageVersion, Metadata}
SigningCertificate and SignatureCheck appear for signed images only. A checksum mismatch is
reported as "CheckCRC": false; any other defect (bad magic, truncation, unknown section, …) is an
error with its code.

Options:
  --eif-path FILE   the image to describe
`,
  options: { 'eif-path': { type: 'string' } },
  async run(args, io) {
    const path = requiredOpt(args, 'eif-path');
    let bytes: Uint8Array;
    try {
      bytes = readImageFile(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw new UsageError(`--eif-path: cannot read ${path} (${code})`);
      throw e;
    }
    io.out(json(describeImage(bytes)));
    return 0;
  },
};
