// `nitro-sandbox console`: streams a debug-mode enclave's console (history, then live) until the
// enclave ends, like nitro-cli's console; refused (ERR_CONSOLE_NOT_DEBUG_MODE) otherwise.
import { defaultRuntimeDir } from '../../index.ts';
import { findDaemon, type DaemonClient, type Target } from '../../daemon/index.ts';
import { intOpt, type CliIo, type Command } from '../command.ts';
import { enclaveTarget, noDaemonNoEnclave } from './terminate-enclave.ts';

/**
 * Streams an enclave's console to `io.out` until the enclave ends (or the stream closes), after
 * nitro-cli's two lines (src/lib.rs `console_enclaves`, `enclave_console`): "Connecting to the
 * console for enclave CID..." and "Successfully connected to the console.". Both are printed once
 * the daemon has accepted, so a refused console prints nothing on stdout, as nitro-cli's (it checks
 * the debug flag before connecting).
 */
export async function streamConsole(client: DaemonClient, target: Target, io: CliIo, cid: number | undefined, disconnectAfterMs?: number): Promise<void> {
  const socket = await client.console(target);
  if (cid !== undefined) io.out(`Connecting to the console for enclave ${cid}...\n`);
  io.out('Successfully connected to the console.\n');
  const timer = disconnectAfterMs === undefined ? undefined : setTimeout(() => socket.destroy(), disconnectAfterMs);
  const stop = (): void => {
    socket.destroy();
  };
  process.once('SIGINT', stop);
  try {
    for await (const chunk of socket) io.out((chunk as Buffer).toString('utf8'));
  } catch {
    // destroyed by the timeout or SIGINT: the console simply ends
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', stop);
  }
}

export const consoleCommand: Command = {
  nitroCli: true,
  help: `Usage: nitro-sandbox console (--enclave-id ID | --enclave-name NAME) [--disconnect-timeout SECONDS]

Prints, as nitro-cli, "Connecting to the console for enclave CID..." and "Successfully connected to
the console." and then the enclave's console output (what it wrote so far, then live) until the enclave ends, Ctrl-C, or the disconnect timeout. As on AWS, the
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
    if (!client) throw noDaemonNoEnclave(target);
    const disconnectMs = timeout === undefined ? undefined : timeout * 1000;
    const cid = (await client.describeEnclaves()).find((e) => ('id' in target ? e.EnclaveID === target.id : e.EnclaveName === target.name))?.EnclaveCID;
    await streamConsole(client, target, io, cid, disconnectMs);
    return 0;
  },
};
