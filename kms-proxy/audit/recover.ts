// `nitro-sandbox kms audit recover --reason "…"`: the explicit way out when the log fails
// verification and the KMS refuses to start. Nothing is deleted or repaired in place:
//
// 1. with the data directory locked (no KMS running on it) and its master key at hand (the new
//    chain must be signed),
// 2. the log is verified once more; an intact log is not "recovered" (ValidationException);
// 3. every file of the replica's folder (segments, head) and the legacy audit.log/audit.head are
//    moved to `audit/<replica>/recovered/<time>/`, each file's size and SHA-256 taken;
// 4. a new chain starts: segment 1 opens with a SegmentStart (cause `recovery`) followed by a
//    signed Recovery record holding the operator's reason, who ran it, the verification problem,
//    the last record that still verified, and the set-aside files with their digests.
//
// `verifyAuditLog` then checks the new chain and that every set-aside file still has the digest
// the Recovery record fixed, so the evidence of what went wrong cannot be edited afterwards either.
import { existsSync, renameSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { kmsError } from '../errors.ts';
import { lockDataDir } from '../lock.ts';
import { isoTime } from './format.ts';
import { checkReplicaId, DEFAULT_REPLICA, LEGACY_FILES, newRecoveredDir, replicaDir, replicaFiles, SET_ASIDE_NAME } from './layout.ts';
import { AuditLog } from './log.ts';
import type { AuditProblem } from './problem.ts';
import { auditSigningKeyOf } from './signing-key.ts';
import { fileDigest } from './files.ts';
import { emptyLogProblem, legacyProblem, verifyReplica } from './verify.ts';

export const MAX_REASON_CHARS = 1000;

export interface RecoverOptions {
  /** Why the log is set aside: what happened and who decided. Required, 1 … 1000 characters. */
  readonly reason: string;
  readonly replica?: string;
  /** Epoch milliseconds for the records and the folder name; default Date.now. */
  readonly now?: () => number;
  /** Who ran the recovery; default the OS user name. */
  readonly operator?: string;
}

export interface SetAsideFile {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface RecoveryResult {
  readonly replica: string;
  /** The problem that made the log fail verification. */
  readonly problem: AuditProblem;
  /** The folder the old files were moved to, relative to the replica's folder. */
  readonly setAsideDir: string;
  readonly files: readonly SetAsideFile[];
}

/** Sets a log that fails verification aside and starts a new chain that records why. */
export async function recoverAuditLog(dataDir: string, options: RecoverOptions): Promise<RecoveryResult> {
  const reason = options.reason.trim();
  if (reason.length === 0 || reason.length > MAX_REASON_CHARS) throw kmsError('ValidationException', `A recovery needs a reason of 1 to ${MAX_REASON_CHARS} characters.`);
  const replica = options.replica ?? DEFAULT_REPLICA;
  checkReplicaId(replica);
  const now = options.now ?? Date.now;
  const unlock = lockDataDir(dataDir);
  try {
    const key = auditSigningKeyOf(dataDir);
    if (!key) throw kmsError('ValidationException', `${join(dataDir, 'master.key')} is missing: the new log must be signed with the key derived from it. Restore the master key first.`);
    const legacy = legacyProblem(dataDir);
    const verified = legacy ? undefined : await verifyReplica(dataDir, replica, key.publicKey);
    const empty = verified?.result.ok && verified.result.segments === 0 ? emptyLogProblem(dataDir, replica, existsSync(join(dataDir, 'kms.sqlite'))) : undefined;
    const problem = legacy ?? verified?.result.problem ?? empty;
    if (!problem) throw kmsError('ValidationException', `The audit log of replica '${replica}' in ${dataDir} verifies; there is nothing to recover.`);
    const dir = replicaDir(dataDir, replica);
    const setAsideDir = newRecoveredDir(dir, now());
    const target = join(dir, setAsideDir);
    // Whatever else lies in the folder moves too, under a name a Recovery record may hold.
    const taken = new Set<string>();
    const safe = (name: string): string => {
      let n = SET_ASIDE_NAME.test(name) ? name : name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100).replace(/^\.*$/, 'file');
      for (let i = 2; taken.has(n); i++) n = `${n.slice(0, 100)}-${i}`;
      taken.add(n);
      return n;
    };
    const moves = [
      ...replicaFiles(dir).map((name) => ({ from: join(dir, name), name: safe(name) })),
      ...LEGACY_FILES.filter((f) => existsSync(join(dataDir, f))).map((f) => ({ from: join(dataDir, f), name: safe(`legacy-${f}`) })),
    ];
    const files: SetAsideFile[] = [];
    for (const m of moves) {
      renameSync(m.from, join(target, m.name));
      const d = await fileDigest(join(target, m.name));
      // Only files are recorded; anything else moved along is kept but not part of the evidence.
      if (d) files.push({ name: m.name, ...d });
    }
    const log = await AuditLog.open({
      dataDir,
      replica,
      key,
      now,
      recovery: {
        time: isoTime(now()),
        reason,
        operator: options.operator ?? safeUser(),
        problem: { ...problem },
        // Records 1 … verifiedRecords of the set-aside chain still verified.
        verifiedRecords: verified?.result.records ?? 0,
        setAside: { dir: setAsideDir, files },
      },
    });
    log.close();
    return { replica, problem, setAsideDir, files };
  } finally {
    unlock();
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}
