// `nitro-sandbox describe-enclaves`: nitro-cli's describe-enclaves array, from the host daemon.
import { defaultRuntimeDir } from '../../index.ts';
import { findDaemon } from '../../daemon/index.ts';
import { json, type Command } from '../command.ts';

export const describeEnclaves: Command = {
  name: 'describe-enclaves',
  summary: 'list the enclaves the host daemon runs (nitro-cli\'s JSON plus isolation layers)',
  help: `Usage: nitro-sandbox describe-enclaves

Prints, as nitro-cli does, an array with one entry per enclave:
  {EnclaveName, EnclaveID, ProcessID, EnclaveCID, NumberOfCPUs, CPUIDs, MemoryMiB,
   State, Flags, Measurements}
plus Isolation (every isolation layer and whether it is active) and, for enclaves that ended
recently (State TERMINATED), ExitReason ("terminated", "crashed: …", "out of memory: …", "hung: …").
With no host daemon running, prints [] (no enclaves); this command never starts the daemon.
`,
  options: {},
  async run(_args, io) {
    const client = await findDaemon(defaultRuntimeDir());
    io.out(json(client ? await client.describeEnclaves() : []));
    return 0;
  },
};
