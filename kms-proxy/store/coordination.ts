// What several KMS replicas sharing one store (PostgreSQL) coordinate through it, beyond the
// records themselves (kms-proxy/README.md, "Replicas on PostgreSQL"):
//
// - `sync`: a read barrier. Resolves once every change committed (by any replica) before the call
//   was received (`receivedAt`, performance.now(); absent: now) has invalidated this replica's
//   caches; rejects (KMSInternalException) when the store
//   cannot prove that within its bound, so a replica that lost the database serves nothing from
//   its caches.
// - `exclusive`: runs work (maintenance: rotation, scheduled deletion, expiry) in one replica at a
//   time; the others skip it.
// - `leaseTokens`: takes request-quota tokens from a bucket per account and group that every
//   replica draws from, so a quota holds across replicas as it holds in one.
// - the audit trail's registry: which replicas write a chain, and each one's last signed head, so
//   `kms audit verify` can tell a replica's folder missing or rolled back.
import type { Quota } from '../throttle.ts';

export interface Coordination {
  sync(receivedAt?: number): Promise<void>;
  /** `fn`'s result, or undefined without running it when another replica is running it. */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T | undefined>;
  /** Up to `want` tokens (0 … want) from the shared bucket of (account, group). */
  leaseTokens(account: string, group: string, want: number, quota: Quota): Promise<number>;
  /**
   * Registers this process as the writer of audit replica `replica` for as long as it lives;
   * refuses (KMSInternalException) while another live process writes it.
   */
  claimAuditReplica(replica: string): Promise<void>;
  /** Records `head` (head.json's text) as the replica's last head. */
  putAuditHead(replica: string, head: string): Promise<void>;
  /** Every replica that has written an audit chain, with its last recorded head. */
  auditReplicas(): Promise<readonly { readonly replica: string; readonly head?: string }[]>;
}
