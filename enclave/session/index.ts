// Attested sessions for sensitive payloads: `serveAttestedSessions` inside the enclave,
// `AttestedSession.open` in the client. See protocol.ts for the wire format.
export { serveAttestedSessions, type SessionHandler } from './server.ts';
export { AttestedSession, type SessionOptions } from './client.ts';
export { SessionError, type SessionErrorCode } from '../errors.ts';
