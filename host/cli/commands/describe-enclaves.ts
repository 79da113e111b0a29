// `nitro-sandbox describe-enclaves`: nitro-cli's describe-enclaves array, from the host daemon.
import { defaultRuntimeDir } from '../../index.ts';
import { findDaemon } from '../../daemon/index.ts';
import { UsageError, flagOpt, json, type Command } from '../command.ts';

export const describeEnclaves: Command = {
  nitroCli: true,
  help: `Usage: nitro-sandbox describe-enclaves [--metadata]
       nitro-sandbox describe-enclaves --ended

Prints, as nitro-cli does, an array with one entry per enclave that exists (State RUNNING, or
TERMINATING while it is destroyed; an ended enclave is gone, so after terminate-enclave --all this
prints []):
  {EnclaveName, EnclaveID, ProcessID, EnclaveCID, NumberOfCPUs, CPUIDs, MemoryMiB,
   State, Flags, Measurements}
then this sandbox's extension, Isolation (every isolation layer and whether it is active).
Measurements are the image's PCRs, also in debug mode (its attestation documents carry zeros).
With no host daemon running, prints [] (no enclaves); this command never starts the daemon.

Options:
  --metadata   add the image's ImageName, ImageVersion and Metadata after Measurements, as
               nitro-cli's --metadata does
  --ended      instead, the last 32 enclaves that ended, oldest first, each with State TERMINATED
               and ExitReason ("terminated", "crashed: …", "out of memory: …", "hung: …"); not a
               nitro-cli option
`,
  options: { metadata: { type: 'boolean' }, ended: { type: 'boolean' } },
  async run(args, io) {
    const metadata = flagOpt(args, 'metadata');
    const ended = flagOpt(args, 'ended');
    if (metadata && ended) throw new UsageError('--metadata and --ended cannot be used together');
    const client = await findDaemon(defaultRuntimeDir());
    if (!client) io.out(json([]));
    else io.out(json(ended ? await client.describeEndedEnclaves() : await client.describeEnclaves({ metadata })));
    return 0;
  },
};
