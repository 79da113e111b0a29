// `nitro-sandbox describe-eif`: nitro-cli's describe-eif output (`EifDescribeInfo`) for one of our
// images or a real EIF file (told apart by the magic number).
import { describeImageFile } from '../../../enclave/index.ts';
import { UsageError, json, requiredOpt, type Command } from '../command.ts';

export const describeEif: Command = {
  nitroCli: true,
  help: `Usage: nitro-sandbox describe-eif --eif-path FILE

Prints, as nitro-cli does:
  {EifVersion, Measurements, IsSigned, SigningCertificate?, CheckCRC, SignatureCheck?,
   ImageName, ImageVersion, Metadata}
FILE is an image made by build-enclave or a real EIF (made by nitro-cli build-enclave on EC2):
an EIF is measured by EIF's rules (PCR0 = kernel, cmdline and ramdisks; PCR1 = kernel, cmdline
and the first ramdisk; PCR2 = the other ramdisks; PCR8 = the signing certificate) and printed
exactly as nitro-cli prints it (EifVersion 4 for a current EIF; ImageName, ImageVersion and
Metadata only when the EIF has a metadata section). For our images EifVersion is our format
version and Metadata's BuildTime, OperatingSystem, KernelVersion and DockerInfo hold fixed,
reproducible values (see enclave/IMAGE_FORMAT.md).
SigningCertificate and SignatureCheck appear for signed images only. A checksum mismatch is
reported as "CheckCRC": false; any other defect (bad magic, truncation, unknown section, …) is an
error with its code.

Options:
  --eif-path FILE   the image or EIF to describe
`,
  options: { 'eif-path': { type: 'string' } },
  async run(args, io) {
    const path = requiredOpt(args, 'eif-path');
    try {
      io.out(json(describeImageFile(path)));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw new UsageError(`--eif-path: cannot read ${path} (${code})`);
      throw e;
    }
    return 0;
  },
};
