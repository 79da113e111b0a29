// What the unmodified AWS SDK needs from its environment inside an enclave. Import it before the SDK.
//
// 1. The SDK ships CommonJS that `require()`s Node builtins (node:https, node:http2, …). Bundled into
//    the enclave's single ES module, those calls go through esbuild's `__require`, which needs a
//    global `require`; an ES module loaded from memory has none. `createRequire` with a base path
//    that is never read serves builtins (they need no file system, and the enclave has no
//    file-system permission anyway).
// 2. The SDK looks for optional settings in ~/.aws/config. The enclave's environment is empty, so it
//    falls back to os.homedir(), which throws (uv_os_homedir ENOENT) when the process's user has no
//    passwd entry, as in a user namespace. A HOME that does not exist makes the lookup find nothing,
//    which the SDK treats as "no shared config", as it would on Nitro.
import { createRequire } from 'node:module';

const g = globalThis as { require?: NodeJS.Require };
g.require ??= createRequire('/enclave/app.js');
process.env.HOME ??= '/nonexistent';
