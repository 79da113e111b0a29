// `nitro-sandbox console`: streams a debug-mode enclave's console (history, then live) until the
// enclave ends, like nitro-cli's console; refused (ERR_CONSOLE_NOT_DEBUG_MODE) otherwise.
import { defaultRuntimeDir, EnclaveNotFoundError } from '../../index.ts';
import { findDaemon, type Target } from '../../daemon/index.ts';
import { intOpt, type Command } from '../command.ts';
import { streamConsole } from './run-enclave.ts';
import { enclaveTarget } from './terminate-enclave.ts';

export const consoleCommand: Command = {
  name: 'console',
  summary: 'stream the console of a debug-mode enclave',
  help: `Usage: nitro-sandbox console (--enclave-id ID | --enclave-name NAME) [--disconnect-timeout SECONDS]

Prints "Successfully connected to the console." and then the enclave's console output (what it
wrote so far, then live) until the enclave ends, Ctrl-C, or the disconnect timeout. As on AWS, the
console is readable only for enclaves started with --debug-mode; others are refused with
ERR_CONSOLE_NOT_DEBUG_MODE (exit 1).

Options:
  --enclave-id ID              the enclave
  --enclave-name NAME          or its name
  --disconnect-timeout SECONDS stop reading after this many seconds
`,
  options: { 'enclave-id': { type: 'string' }, 'enclave-name': { type: 'string' }, 'disconnect-timeout': { type: 'string' } },
  async run(args, io) {
    const target = enclaveTarget(args, false) as Target;
    const timeout = intOpt(args, 'disconnect-timeout', 1, 2_000_000);
    const client = await findDaemon(defaultRuntimeDir());
    if (!client) throw new EnclaveNotFoundError(`no running enclave with ${'id' in target ? `id ${target.id}` : `name ${target.name}`} (no host daemon is running)`);
    const disconnectMs = timeout === undefined ? undefined : timeout * 1000;
    await streamConsole(client, target, io, disconnectMs, () => io.out('Successfully connected to the console.\n'));
    return 0;
  },
};
