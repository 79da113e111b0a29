// The demo's "enclave B": examples/demo with one character of measured code changed ('demo-A' →
// 'demo-B'), so its PCR2 and PCR0 differ and the KMS refuses to release the key to it. A file of
// the repository rather than a copy written at run time: a build reads only its own project.
import { demoApp } from './main.ts';

export default demoApp('demo-B');
