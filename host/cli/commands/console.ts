// `nitro-sandbox console`: streams a debug-mode enclave's console (history, then live) until the
// enclave ends, like nitro-cli's console; refused (ERR_CONSOLE_NOT_DEBUG_MODE) otherwise.
import { defaultRuntimeDir } from '../../index.ts';
import { findDaemon, type DaemonClient, type Target } from '../../daemon/index.ts';
import { intOpt, type CliIo, type Command } from '../command.ts';
import { enclaveTarget, noDaemonNoEnclave } from './terminate-enclave.ts';

/** Streams an enclave's console to `io.out` until the enclave ends (or the stream closes). */
export async function streamConsole(client: DaemonClient, target: Target, io: CliIo, disconnectAfterMs?: number, onConnected?: () => void): Promise<void> {
  const socket = await client.console(target);
  onConnected?.();
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
  name: 'console',
  nitroCli: true,
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
    if (!client) throw noDaemonNoEnclave(target);
    const disconnectMs = timeout === undefined ? undefined : timeout * 1000;
    await streamConsole(client, target, io, disconnectMs, () => io.out('Successfully connected to the console.\n'));
    return 0;
  },
};
