// The enclave's root directory: the Node binary (/node), the shared libraries `ldd` lists for it
// and a one-line /etc/passwd, nothing else; not even /proc. Native code inside Node reads files
// without asking the permission model (OpenSSL the system CA store, getpwuid(3) /etc/passwd,
// node:sqlite its databases; test/host/escape.test.ts), so the enclave's file system must hold
// nothing to read. The launcher mounts it read-only (launcher.c, --root).
//
// It is built once per Node binary inside the host's private directory (private-dir.ts), where no
// other user can plant a library, and published by an atomic rename. Its own modes are 0755/0644:
// the enclave runs as an unprivileged uid that must read Node and its libraries, and the private
// directory around it keeps everyone else out.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { systemTool } from './launcher.ts';

/** The uid and gid an enclave runs as inside its user namespace, named in the root's passwd. */
export const ENCLAVE_ID = 65534;

export type EmptyRoot = { readonly dir: string } | { readonly dir: null; readonly reason: string };

/** The root for the running Node binary in `base` (a private directory), built first if needed. */
export function buildEmptyRoot(base: string): EmptyRoot {
  const ldd = systemTool('ldd');
  if (!ldd) return { dir: null, reason: 'ldd(1) not found' };
  const node = statSync(process.execPath);
  const dir = join(base, `root4-node-${process.version}-${node.dev}-${node.ino}-${node.size}-${Math.trunc(node.mtimeMs)}`);
  if (existsSync(join(dir, 'node'))) return { dir };
  const r = spawnSync(ldd, [process.execPath], { encoding: 'utf8', env: {}, timeout: 10_000 });
  if (r.status !== 0) return { dir: null, reason: `ldd failed on ${process.execPath}` };
  // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" and "/lib64/ld-linux-x86-64.so.2 (0x…)"
  const libs = [...r.stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/g)].map((m) => m[1]!);
  const tmp = mkdtempSync(join(base, '.building-'));
  try {
    try {
      linkSync(process.execPath, join(tmp, 'node'));
    } catch {
      copyFileSync(process.execPath, join(tmp, 'node'));
      chmodSync(join(tmp, 'node'), 0o755);
    }
    for (const lib of libs) {
      mkdirSync(join(tmp, dirname(lib)), { recursive: true, mode: 0o755 });
      copyFileSync(lib, join(tmp, lib));
      // 0755: the kernel opens the dynamic loader (PT_INTERP) with exec permission.
      chmodSync(join(tmp, lib), 0o755);
    }
    // The enclave's own passwd database, as a VM has: os.homedir() and os.userInfo() work (the
    // AWS SDK asks for a home directory) and say nothing about the host's users.
    mkdirSync(join(tmp, 'etc'), { mode: 0o755 });
    writeFileSync(join(tmp, 'etc/passwd'), `enclave:x:${ENCLAVE_ID}:${ENCLAVE_ID}:enclave:/:/sbin/nologin\n`, { mode: 0o644 });
    for (const d of libs.flatMap((l) => ancestors(dirname(l)))) chmodSync(join(tmp, d), 0o755);
    chmodSync(tmp, 0o755);
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(dir, 'node'))) return { dir: null, reason: `could not build the empty root: ${(e as Error).message}` };
    // else another process built it meanwhile
  }
  return { dir };
}

/** '/a/b/c' → ['/a', '/a/b', '/a/b/c']. */
function ancestors(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
}
