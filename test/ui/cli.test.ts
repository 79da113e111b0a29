// `nitro-sandbox ui` as a user runs it: it prints an address carrying the token, serves every view
// with it and none without it, refuses a bad port as a usage error, and stops cleanly on SIGINT
// (its data directory removed when it made one).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../host/cli/main.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'nitro-sandbox.js');

describe('nitro-sandbox ui', () => {
  it('prints its address with the token, serves every view with it, 401 without, and exits 0 on SIGINT', async () => {
    const child = spawn(process.execPath, [BIN, 'ui', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43})\n/.exec(out);
        if (m?.[1] && out.includes('Ctrl-C')) resolve(m[1]);
      });
      void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    try {
      expect(out).toMatch(/ready \d+\.\d\d s after start/);
      const dataDir = /data directory (\S+) \(removed at exit\)/.exec(out)?.[1] ?? '';
      expect(existsSync(dataDir)).toBe(true);
      const origin = new URL(url).origin;
      const first = await fetch(url, { redirect: 'manual' });
      expect(first.status).toBe(303);
      const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      for (const path of ['/enclaves', '/inspector', '/kms', '/demo', '/static/app.js', '/static/style.css']) {
        expect((await fetch(`${origin}${path}`)).status, path).toBe(401);
        expect((await fetch(`${origin}${path}`, { headers: { cookie } })).status, path).toBe(200);
      }
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(existsSync(dataDir)).toBe(false);
      expect(err).toBe('');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('a bad port or an unknown flag is a usage error (exit 2), before anything starts', async () => {
    let err = '';
    const io = { out: () => undefined, err: (t: string) => (err += t) };
    expect(await main(['ui', '--port', '70000'], io)).toBe(2);
    expect(err).toMatch(/--port must be between 0 and 65535/);
    expect(await main(['ui', '--verbose'], io)).toBe(2);
    let help = '';
    expect(await main(['ui', '--help'], { out: (t) => (help += t), err: () => undefined })).toBe(0);
    expect(help).toMatch(/Usage: nitro-sandbox ui \[--port 4100\] \[--host 127\.0\.0\.1\]/);
  });
});
