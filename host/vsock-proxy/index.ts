// The vsock-proxy (parent port → allowlisted TCP endpoint) and its allowlist file format.
export { checkRemoteAllowed, startVsockProxy, type VsockProxy, type VsockProxyOptions, type VsockProxyStats } from './proxy.ts';
export { defaultLookup, findAllowed, loadAllowlist, parseAllowlist, type AllowlistEntry, type Endpoint, type Lookup } from './allowlist.ts';
export * from './errors.ts';
