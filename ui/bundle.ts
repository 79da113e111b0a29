// The page's assets, made when the console starts: the client code (ui/client/main.ts) bundled by
// esbuild in memory (no build step, nothing written, nothing fetched), and the stylesheet as is.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { UiAssets } from './app.ts';

const CLIENT = join(dirname(fileURLToPath(import.meta.url)), 'client');

export async function bundleAssets(): Promise<UiAssets> {
  const [js, css] = await Promise.all([
    build({
      entryPoints: [join(CLIENT, 'main.ts')],
      bundle: true,
      write: false,
      format: 'esm',
      target: 'es2022',
      minify: true,
      legalComments: 'none',
      logLevel: 'silent',
    }),
    readFile(join(CLIENT, 'style.css'), 'utf8'),
  ]);
  const out = js.outputFiles[0];
  if (!out) throw new Error('esbuild produced no client bundle');
  return { js: out.text, css };
}
