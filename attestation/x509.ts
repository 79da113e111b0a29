// @peculiar/x509 set up once for the whole folder: it needs the reflect-metadata polyfill loaded
// before it (tsyringe), and a WebCrypto provider, which Node's is.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
