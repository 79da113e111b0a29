// Re-export of @peculiar/x509 with its polyfill loaded, for tests that need its enums.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
export { x509 };
