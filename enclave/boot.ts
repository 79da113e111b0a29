// The enclave process entry: what the host runs as `node <measured flags> --input-type=module
// --eval <this bundle>`. It is bundled into the image's BOOTSTRAP section, so PCR1 measures exactly
// the code that runs first. It opens the channel on the inherited descriptor, receives the image
// over it (never from disk; framed as boot-protocol.ts says), verifies it, runs the app and
// reports status; then the process lives as long as the channel does.
import { prepareEnclave, runPrepared, type PreparedEnclave } from './bootstrap.ts';
import { BOOT_PORT, HEARTBEAT_MS, ImageFrames, encodeStatus, type BootStatus } from './boot-protocol.ts';
import { MAX_IMAGE_SIZE } from './image/format.ts';
import { ConnectionResetError, openEnclaveChannel } from './vsock/index.ts';
import { warmUp } from './warm-up.ts';
import type { Channel, VsockConnection } from './vsock/index.ts';
import type { EnclaveServices } from './services.ts';

function codeOf(e: unknown): string {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : 'ERR_APP_FAILED';
}

function ignore(): void {}

function services(channel: Channel, ready: () => void, debug: boolean): EnclaveServices {
  const log = (level: string) => (...args: unknown[]): void => {
    // Standard output reaches the host's console buffer in debug mode only (the host does not
    // even open the descriptors otherwise), as an enclave's console is readable only in debug mode.
    console.error(`[${level}]`, ...args);
  };
  return Object.freeze({
    vsock: Object.freeze({
      // Every stream gets a listener for 'error' before the app sees it: a reset that arrives in
      // the same turn as the accept must not become an uncaught exception (and kill the enclave)
      // before the app had a chance to attach its own. The app's listeners still get the error.
      listen: (port: number, handler: (c: VsockConnection) => void) =>
        channel.listen(port, (c) => {
          c.on('error', ignore);
          handler(c);
        }),
      // Channel.connect leaves the same kind of listener on the stream it resolves with.
      connect: (port: number) => channel.connect(port),
    }),
    nsm: Object.freeze({ request: (bytes: Uint8Array) => channel.nsmRequest(bytes) }),
    log: Object.freeze({ info: log('info'), warn: log('warn'), error: log('error') }),
    debug,
    ready,
  });
}

/**
 * How long the boot stream stays open (a warm-pool process, its image staged or not yet sent)
 * before the process warms up its start path (warm-up.ts). A cold start's stream ends within a
 * few milliseconds of the connection, and then the warm-up never runs.
 */
const WARM_UP_AFTER_MS = 20;

/**
 * Reads the boot stream: checks each image as its frame completes (a warm process's staged image
 * is checked while it waits for the run), and resolves with the last one once the host ends the
 * stream. Whatever comes after a refused frame is discarded, and the stream kept open, so the
 * failure's status line can still go out.
 */
function receiveImage(conn: VsockConnection): Promise<PreparedEnclave> {
  return new Promise((resolve, reject) => {
    let prepared: PreparedEnclave | undefined;
    const frames = new ImageFrames(MAX_IMAGE_SIZE, (image) => (prepared = prepareEnclave(image)));
    let ended = false;
    conn.on('data', (chunk: Buffer) => {
      try {
        frames.push(chunk);
      } catch (e) {
        reject(e);
      }
    });
    conn.once('end', () => {
      ended = true;
      try {
        frames.end();
        if (prepared) resolve(prepared);
      } catch (e) {
        reject(e);
      }
    });
    conn.once('error', reject);
    // After 'end' this is a no-op; before it, the host went away mid-boot.
    conn.once('close', () => reject(new ConnectionResetError()));
    setTimeout(() => {
      if (!ended) void warmUp().catch(ignore);
    }, WARM_UP_AFTER_MS).unref();
  });
}

async function boot(): Promise<void> {
  const channel = openEnclaveChannel();
  // The host is our only world: when the channel goes (host exit, terminate), so do we.
  let exitCode = 0;
  void channel.closed.then(() => process.exit(exitCode));
  /** Reports a final status, lets the channel flush it, then exits with `code`. */
  const die = (s: BootStatus, code: number): void => {
    if (exitCode !== 0) return;
    exitCode = code;
    send(s);
    void channel.close();
    setTimeout(() => process.exit(code), 1000).unref();
  };
  const conn = await channel.connect(BOOT_PORT);
  const send = (s: BootStatus): void => {
    if (!conn.destroyed && conn.writable) conn.write(encodeStatus(s));
  };
  let readySent = false;
  const ready = (): void => {
    if (!readySent) {
      readySent = true;
      send({ status: 'ready' });
    }
  };
  const debug = process.argv.includes('--nitro-sandbox-debug');
  // Outside debug mode nothing the app produced leaves the enclave: a failure is reported by its
  // code alone, as an error message can hold payload text (the host drops it too).
  const failure = (status: 'failed' | 'crashed', e: unknown): BootStatus => ({ status, code: codeOf(e), ...(debug ? { message: e instanceof Error ? e.message : String(e) } : {}) });
  const crashed = (e: unknown): void => die(failure('crashed', e), 70);
  process.on('uncaughtException', crashed);
  process.on('unhandledRejection', crashed);
  setInterval(() => send({ status: 'alive' }), HEARTBEAT_MS);
  try {
    // Inside the try: an oversized, cut-off or refused image is a failed launch the host hears about.
    const prepared = await receiveImage(conn);
    await runPrepared(prepared, services(channel, ready, debug));
    ready();
  } catch (e) {
    die(failure(readySent ? 'crashed' : 'failed', e), readySent ? 70 : 78);
  }
}

await boot();
