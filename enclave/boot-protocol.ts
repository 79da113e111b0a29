// How the host and the bootstrap meet on a fresh channel. The bootstrap connects to the host's
// BOOT_PORT; the host writes the image bytes and half-closes; the bootstrap answers with status
// lines (JSON, one per line) on the same connection: {"status":"ready"} once the app's entry point
// has returned (or called ctx.ready()), {"status":"failed"|"crashed","code":…} (plus "message" in
// debug mode) when the image is refused or the app throws, and {"status":"alive"} every
// HEARTBEAT_MS while the event loop turns. Status lines are reports, never trusted for security.

/** The highest port a vsock stream can name (VMADDR_PORT_ANY − 1), reserved for booting. */
export const BOOT_PORT = 0xffff_fffe;

/** How often the bootstrap reports `alive`; a host that hears nothing for a while calls it hung. */
export const HEARTBEAT_MS = 500;

export type BootStatus =
  | { readonly status: 'ready' }
  | { readonly status: 'alive' }
  /** `message` in debug mode only: outside it nothing the app wrote leaves the enclave. */
  | { readonly status: 'failed' | 'crashed'; readonly code: string; readonly message?: string };

export function encodeStatus(s: BootStatus): string {
  return `${JSON.stringify(s)}\n`;
}
