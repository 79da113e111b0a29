// The AWS SDK ships CommonJS that `require()`s Node builtins (node:https, node:http2, …). Bundled
// into the enclave's single ES module, those calls go through esbuild's `__require`, which needs a
// global `require`; an ES module loaded from memory has none. This gives it one for builtins only:
// `createRequire` with a base path that is never read (builtins need no file system, and the
// enclave has no file-system permission anyway). Import it before the SDK.
import { createRequire } from 'node:module';

const g = globalThis as { require?: NodeJS.Require };
g.require ??= createRequire('/enclave/app.js');
