// Child process for the replica tests: one KMS replica on a shared PostgreSQL store, as
// `kms serve --store URL --data-dir D --audit-dir A --replica ID` runs it. argv[2] is a JSON object
// {url, dataDir, auditDir, replica, quotas?, regions?}; with regions, transient states (a replica
// key Creating, keys Updating) end at the next maintenance. It prints one JSON line with its endpoint and
// credential, then answers IPC messages: {advance: ms} moves its lifecycle clock forward (so
// rotation and deletion dates can be reached), {tick: true} runs its maintenance turn now, and
// every internal error it reports is sent to the parent as {error: message}. Killed with SIGKILL
// or SIGTERM.
import { startKmsServer, type KmsOptions } from '../../kms-proxy/index.ts';

const o = JSON.parse(process.argv[2] ?? '{}') as { url: string; dataDir: string; auditDir: string; replica: string; quotas?: KmsOptions['quotas']; regions?: string[] };
let offset = 0;
const send = (m: unknown) => process.send?.(m);
const server = await startKmsServer({
  port: 0,
  host: '127.0.0.1',
  dataDir: o.dataDir,
  storeUrl: o.url,
  auditDir: o.auditDir,
  audit: { replica: o.replica },
  clock: () => Date.now() + offset,
  // Maintenance runs when a test says so (tick), besides the idle timer.
  maintenanceIntervalMs: 60_000,
  onInternalError: (e) => send({ error: e instanceof Error ? e.message : String(e) }),
  ...(o.quotas ? { quotas: o.quotas } : {}),
  ...(o.regions ? { regions: o.regions, transientStateMs: 0 } : {}),
});
process.on('message', (m: { advance?: number; tick?: boolean; id?: number }) => {
  if (m.advance !== undefined) {
    offset += m.advance;
    send({ id: m.id, done: true });
  } else if (m.tick) {
    server.service.tick().then(
      () => send({ id: m.id, done: true }),
      (e: unknown) => send({ id: m.id, done: true, failed: String(e) }),
    );
  }
});
process.on('SIGTERM', () => {
  server.close().then(() => process.exit(0));
});
process.stdout.write(`${JSON.stringify({ endpoint: server.endpoint, credential: server.credential })}\n`);
