// The smallest enclave app: `main` receives its context and returns a greeting built from what it
// knows about its own image. Build it with
//   nitro-sandbox build-enclave --entry examples/hello/main.ts --output-file hello.eif
import type { AppContext } from '../../enclave/index.ts';
import { greeting } from './greeting.ts';

export default async function main(ctx: AppContext): Promise<string> {
  return greeting(ctx.image.name, ctx.image.version);
}
