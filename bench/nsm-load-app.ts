// Enclave app for bench/bounded-decoding.bench.ts: on vsock port 5005, one JSON request
// `{requests, concurrency, base64}` sends the NSM request `base64` `requests` times, at most
// `concurrency` in flight, and answers how long that took and how the device answered.
import { serveJsonRequests, type AppContext } from '../enclave/sdk/index.ts';

interface Load {
  readonly requests: number;
  readonly concurrency: number;
  readonly base64: string;
}

export default function main(ctx: AppContext): void {
  serveJsonRequests(ctx, 5005, async (request) => {
    const { requests, concurrency, base64 } = request as Load;
    const bytes = new Uint8Array(Buffer.from(base64, 'base64'));
    let sent = 0;
    let errors = 0;
    const start = performance.now();
    const worker = async (): Promise<void> => {
      while (sent < requests) {
        sent++;
        const response = await ctx.nsm.request(bytes);
        // {"Error": …} answers start with a1 65 "Error"; anything else is a served request.
        if (response[0] === 0xa1 && response[2] === 0x45) errors++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { ok: true, ms: performance.now() - start, errors };
  });
}
