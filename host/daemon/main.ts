// Entry of the daemon process, started detached by `ensureDaemon` (client.ts):
//   node --disable-sigusr1 host/daemon/main.ts --runtime-dir DIR [--data-dir DIR] [--lock-held-by PID] [--idle-exit-ms MS]
// stdout/stderr go to <runtime dir>/daemon.log. SIGTERM/SIGINT/SIGHUP terminate the enclaves and
// exit cleanly; an unexpected exception is logged and the daemon keeps serving, so one bad
// connection never takes the enclaves down with it. SIGUSR1 opens no inspector (the flag).
import { parseArgs } from 'node:util';
import { closeInheritedDescriptors } from '../sandbox/descriptors.ts';
import { Daemon } from './server.ts';

// Descriptors whoever started us left open (without O_CLOEXEC) would pass on to every enclave's
// launcher; it closes them again, but the daemon holds none of its starter's files either.
const closed = closeInheritedDescriptors();

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} daemon[${process.pid}]: ${line}\n`);
}

const { values } = parseArgs({
  options: {
    'runtime-dir': { type: 'string' },
    'data-dir': { type: 'string' },
    'lock-held-by': { type: 'string' },
    'idle-exit-ms': { type: 'string' },
  },
  strict: true,
});
const runtimeDir = values['runtime-dir'];
if (!runtimeDir) {
  log('--runtime-dir is required');
  process.exit(2);
}
const heldBy = values['lock-held-by'] !== undefined ? Number(values['lock-held-by']) : undefined;
const idle = values['idle-exit-ms'] !== undefined ? Number(values['idle-exit-ms']) : 0;

if (closed.length) log(`closed descriptors inherited from the starter: ${closed.join(', ')}`);
process.on('uncaughtException', (e) => log(`uncaught exception: ${e.stack ?? e.message}`));
process.on('unhandledRejection', (e) => log(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));

let daemon: Daemon;
try {
  daemon = await Daemon.start({
    runtimeDir,
    ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
    ...(heldBy !== undefined && Number.isInteger(heldBy) ? { lockHeldBy: heldBy } : {}),
    idleExitMs: Number.isFinite(idle) ? idle : 0,
    log,
  });
} catch (e) {
  log(`cannot start: ${(e as Error).message}`);
  process.exit(1);
}
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(sig, () => {
    log(`${sig}: terminating enclaves and exiting`);
    void daemon.close();
  });
}
await daemon.closed;
process.exit(0);
