// Public surface of the host domain: the in-process host (run, describe, terminate, console,
// connect, warm pool), its isolation probe and errors. The CLI (host/cli) is built on it.
export * from './errors.ts';
export { ENCLAVE_ID, INSTANCE_ID, Host, defaultRuntimeDir, type EnclaveDescription, type EndedEnclaveDescription, type HostOptions, type RunOptions, type RunResult } from './host.ts';
export { probeIsolation, planLaunch, type IsolationReport, type LaunchPlan, type MachineIsolation } from './isolation.ts';
export type { EnclaveState } from './enclave-process.ts';
export {
  InvalidCidError,
  MAX_ENCLAVE_CID,
  MIN_ENCLAVE_CID,
  VMADDR_CID_PARENT,
  parseEnclaveCid,
  validateEnclaveCid,
  VsockRegistry,
} from './vsock/index.ts';
// The host daemon that owns the CLI's enclaves (daemon/PROTOCOL.md), its client, and the
// vsock-proxy (parent port → allowlisted TCP endpoint) usable with a Host or through the daemon.
export {
  Daemon,
  DaemonClient,
  ensureDaemon,
  findDaemon,
  DaemonBadRequestError,
  DaemonListenerError,
  DaemonRemoteError,
  DaemonVersionError,
  RunConfigError,
  type DaemonOptions,
  type DaemonParentListener,
  type EnsureDaemonOptions,
  type ParentConnectionInfo,
  type TerminateResult,
} from './daemon/index.ts';
export * from './vsock-proxy/index.ts';
