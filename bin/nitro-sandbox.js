#!/usr/bin/env node
// Entry point of the `nitro-sandbox` command. Plain JavaScript so that it starts on any Node; the
// project itself runs on the Node 26 pinned in devDependencies (type stripping, permission model,
// node:sqlite), so an older runtime re-executes this file with the pinned one.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const major = Number(process.versions.node.split('.')[0]);
if (major < 26) {
  const pinned = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(pinned)) {
    process.stderr.write(`nitro-sandbox needs Node 26 (found ${process.version}); run npm install first\n`);
    process.exit(1);
  }
  const r = spawnSync(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
// SIGUSR1 would open an inspector on the loopback, where any local user could then run code in this
// process (a server, a proxy, a console: some run for long) and read the PKI's root key. A
// listener of its own takes the signal from Node's inspector (libuv replaces the handler), the
// equivalent of --disable-sigusr1, which the daemon and `npm start` get as a flag.
process.on('SIGUSR1', () => undefined);
const { main } = await import('../host/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
