// Sensitive-payload processing: clients open an attested session on vsock port 5007 (they verify
// this enclave's PCRs before sending anything), send a record of text, and get back the text with
// every e-mail address and card-like number redacted, plus counts. The host relays ciphertext only.
// Import the *server* half of the session library: the client half carries the verifier.
import type { AppContext } from '../../enclave/sdk/index.ts';
import { serveAttestedSessions } from '../../enclave/session/server.ts';

export const SESSION_PORT = 5007;

export function redact(text: string): { text: string; emails: number; numbers: number } {
  let emails = 0;
  let numbers = 0;
  const out = text
    .replace(/[\w.+-]+@[\w-]+\.[\w.-]+/g, () => (emails++, '[email]'))
    .replace(/\b(?:\d[ -]?){12,18}\d\b/g, () => (numbers++, '[number]'));
  return { text: out, emails, numbers };
}

export default async function main(ctx: AppContext): Promise<void> {
  serveAttestedSessions(ctx, SESSION_PORT, (request) => {
    const result = redact(new TextDecoder().decode(request));
    return new TextEncoder().encode(JSON.stringify(result));
  });
  ctx.log.info(`attested sessions on vsock port ${SESSION_PORT}`);
}
