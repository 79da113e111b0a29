// `nitro-sandbox kms audit recover`: sets a log that fails verification aside and starts a new one.
import { recoverAuditLog } from '../../../kms-proxy/index.ts';
import { flagOpt, json, requiredOpt, stringOpt, type Command } from '../command.ts';
import { kmsDataDir } from './kms-options.ts';

export const kmsAuditRecover: Command = {
  help: `Usage: nitro-sandbox kms audit recover --reason TEXT [--data-dir DIR] [--replica ID] [--json]

A KMS refuses to start on an audit log that fails 'kms audit verify' (edited, truncated, rewritten,
head deleted, cut short by a full disk, or the unsigned audit.log of an earlier version). After you
have looked at what 'kms audit verify' reports, this command, with the KMS stopped:

  1. verifies the log again (an intact log is left alone: exit 1);
  2. moves every file of DIR/audit/<replica>/ (segments, head.json) and a legacy audit.log/audit.head
     to DIR/audit/<replica>/recovered/<UTC time>/, keeping them as evidence;
  3. starts a new chain whose segment 1 opens with a signed Recovery record: your reason, the OS
     user who ran it, the verification problem, how many records still verified, and the size and
     SHA-256 of every file set aside.

'kms audit verify' then checks the new chain and that the set-aside files still match the digests
the Recovery record holds. The master key must be present (the new chain is signed with the key
derived from it).

Options:
  --reason TEXT    why the log is set aside (required, at most 1000 characters)
  --data-dir DIR   the KMS data directory (default $NITRO_SANDBOX_HOME/kms or ~/.nitro-sandbox/kms)
  --replica ID     the replica whose chain is recovered (default local)
  --json           print the result as JSON`,
  options: { reason: { type: 'string' }, 'data-dir': { type: 'string' }, replica: { type: 'string' }, json: { type: 'boolean' } },
  async run(args, io) {
    const dir = kmsDataDir(args);
    const reason = requiredOpt(args, 'reason');
    const replica = stringOpt(args, 'replica');
    const r = await recoverAuditLog(dir, { reason, ...(replica !== undefined ? { replica } : {}) });
    if (flagOpt(args, 'json')) io.out(json(r));
    else {
      io.out(
        `audit log of replica ${r.replica} set aside (${r.problem.code}): ${r.files.length} file${r.files.length === 1 ? '' : 's'} moved to ` +
          `audit/${r.replica}/${r.setAsideDir}/\nnew chain started; its Recovery record holds the reason and the files' SHA-256\n`,
      );
    }
    return 0;
  },
};
