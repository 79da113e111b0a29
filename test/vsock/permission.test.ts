// The experiment the transport is built on (Node 26, permission model, no grants at all, empty
// environment, code passed with -e so nothing is read from disk): which ways of using the inherited
// descriptor work. Kept as a test so a Node upgrade that changes the answer is noticed.
import { spawn, type StdioOptions } from 'node:child_process';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';

function run(code: string, stdio: StdioOptions, extra: string[] = []) {
  const child = spawn(process.execPath, ['--permission', ...extra, '-e', code], { stdio, env: {} });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { child, exit, stderr: () => stderr };
}

/** Writes `ping` to the child's fd 3 and resolves with what comes back. */
function echoOverFd3(child: ReturnType<typeof run>['child']): Promise<string> {
  const s = child.stdio[3] as Socket;
  return new Promise((resolve) => {
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.length >= 9) resolve(got);
    });
    s.write('ping');
  });
}

describe('Node permission model with no grants: reaching the host over an inherited descriptor', () => {
  it('new net.Socket({ fd: 3 }) works (the transport used), ESM code given with --input-type=module -e', async () => {
    const r = run(
      `import net from 'node:net'; const s = new net.Socket({ fd: 3 }); s.on('data', (d) => s.end('echo:' + d));`,
      ['ignore', 'ignore', 'pipe', 'pipe'],
      ['--input-type=module'],
    );
    expect(await echoOverFd3(r.child)).toBe('echo:ping');
    expect(await r.exit).toBe(0);
  });

  it('fs streams on the descriptor also work', async () => {
    const r = run(
      `const fs = require('node:fs'); const w = fs.createWriteStream(null, { fd: 3 });
       fs.createReadStream(null, { fd: 3 }).once('data', (d) => { w.write('echo:' + d); process.exit(0); });`,
      ['ignore', 'ignore', 'pipe', 'pipe'],
    );
    expect(await echoOverFd3(r.child)).toBe('echo:ping');
  });

  it("the 'ipc' channel with advanced serialization also works", async () => {
    const child = spawn(process.execPath, ['--permission', '-e', `process.once('message', (m) => process.send({ echo: m }, () => process.exit(0)))`], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
      env: {},
    });
    const reply = new Promise((r) => child.once('message', r));
    child.send(Uint8Array.of(1, 2));
    expect(await reply).toEqual({ echo: Uint8Array.of(1, 2) });
  });

  it('while the network and the file system are denied with ERR_ACCESS_DENIED', async () => {
    const r = run(
      `const out = [];
       try { require('node:fs').readFileSync('/etc/hostname'); out.push('read'); } catch (e) { out.push(e.code); }
       try { require('node:net').createServer().listen(0); out.push('listen'); } catch (e) { out.push(e.code); }
       const c = require('node:net').connect(9, '127.0.0.1');
       c.on('error', (e) => { out.push(e.code); process.stderr.write(JSON.stringify(out)); });`,
      ['ignore', 'ignore', 'pipe'],
    );
    await r.exit;
    expect(JSON.parse(r.stderr())).toEqual(['ERR_ACCESS_DENIED', 'ERR_ACCESS_DENIED', 'ERR_ACCESS_DENIED']);
  });
});
