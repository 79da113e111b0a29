// `nitro-sandbox ui`: the web console (ui/), served until SIGINT/SIGTERM. It sits above the host, so
// it is loaded only when this command runs.
import { intOpt, stringOpt, type Command } from '../command.ts';

export const uiCommand: Command = {
  help: `Usage: nitro-sandbox ui [--port 4100] [--host 127.0.0.1] [--data-dir DIR]

Serves a local web console for attestation demos, and prints its address with a fresh token:
  Enclaves            start an example, the live describe-enclaves list with every isolation
                      layer, terminate, a debug-mode enclave's console
  Document inspector  paste, drop or fetch a document; its fields, certificate chain and each
                      verification step; expected PCRs compared byte by byte
  KMS                 keys, aliases, policies, grants, rotation; 'kms explain'; the audit trail
  Demo story          the steps of 'npm start', played on the console's own host and KMS

The console runs its own host (enclaves end when it stops) and its own KMS on loopback, which
trusts that host's attestation root. Every page and API needs the token (kept in a cookie after
the first visit); state-changing requests also need the page's CSRF token and the same origin.

Options:
  --port N       port to listen on (default 4100; 0 picks a free one)
  --host ADDR    address to listen on (default 127.0.0.1). Anything else exposes the console,
                 over plain HTTP, to whoever can reach that address and learns the token
  --data-dir DIR keep the host's PKI and the KMS's store in DIR (default: a temporary directory,
                 removed when the console stops)
`,
  options: { port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' } },
  async run(args, io) {
    const port = intOpt(args, 'port', 0, 65535) ?? 4100;
    const hostname = stringOpt(args, 'host') ?? '127.0.0.1';
    const dataDir = stringOpt(args, 'data-dir');
    const { startUi } = await import('../../../ui/index.ts');
    const ui = await startUi({ port, host: hostname, ...(dataDir !== undefined ? { dataDir } : {}) });
    const c = ui.kms.credential;
    io.out(
      [
        `nitro-sandbox ui: open ${ui.url}`,
        `  the token in that address is required (the page keeps it in a cookie); ready ${(performance.now() / 1000).toFixed(2)} s after start`,
        `  KMS ${ui.kms.endpoint}  AWS_ACCESS_KEY_ID=${c.accessKeyId} AWS_SECRET_ACCESS_KEY=${c.secretAccessKey}`,
        `  data directory ${ui.dataDir}${dataDir === undefined ? ' (removed at exit)' : ''}`,
        hostname === '127.0.0.1' || hostname === '::1' || hostname === 'localhost' ? '' : `  WARNING: listening on ${hostname}: plain HTTP, reachable beyond this machine`,
        '  Ctrl-C stops the console and every enclave it started',
        '',
      ]
        .filter((l, i, a) => l !== '' || i === a.length - 1)
        .join('\n'),
    );
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await ui.close();
    return 0;
  },
};
