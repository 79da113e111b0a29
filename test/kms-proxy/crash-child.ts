// Child process for the crash test: serves the KMS on a free port in the data directory given as
// argv[2] and prints one JSON line with its endpoint and credential. It is killed with SIGKILL.
import { startKmsServer } from '../../kms-proxy/index.ts';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: crash-child.ts DATA_DIR');
const server = await startKmsServer({ port: 0, host: '127.0.0.1', dataDir });
process.stdout.write(`${JSON.stringify({ endpoint: server.endpoint, credential: server.credential })}\n`);
