// An enclave app in three files: it describes itself and fingerprints a message with SHA-384.
// Everything it imports is bundled into the image's APPLICATION section (PCR2); `node:` builtins
// come from the measured runtime. Build it with
//   nitro-sandbox build-enclave --entry examples/echo/main.ts --output-file echo.eif --vsock-port 5005
import type { AppContext } from '../../enclave/index.ts';
import { fingerprint } from './lib/fingerprint.ts';
import { describeSelf } from './lib/describe.ts';

export interface EchoServices {
  /** The message to echo; issue 5's host passes requests from the channel instead. */
  readonly message?: string;
}

export default async function main(ctx: AppContext<EchoServices>): Promise<{ self: string; echo: string; sha384: string }> {
  const message = ctx.message ?? '';
  return { self: describeSelf(ctx.image), echo: message, sha384: fingerprint(message) };
}
