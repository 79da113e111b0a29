// The host daemon (owns the CLI's enclaves; PROTOCOL.md) and its client.
export { Daemon, type DaemonOptions } from './server.ts';
export { DaemonClient, ensureDaemon, findDaemon, type DaemonParentListener, type EnsureDaemonOptions, type ParentConnectionInfo, type TerminateResult } from './client.ts';
export { PROTOCOL_VERSION, parseRequest, type ConnectionEvent, type PingResult, type Request, type Target } from './protocol.ts';
export { runtimePaths, type RuntimePaths } from './paths.ts';
export * from './errors.ts';
