// `nitro-sandbox kms audit verify`: re-derives the audit log's hash chain.
import { verifyAuditLog } from '../../../kms-proxy/index.ts';
import { flagOpt, json, type Command } from '../command.ts';
import { kmsDataDir } from './kms-options.ts';

export const kmsAuditVerify: Command = {
  name: 'kms audit verify',
  summary: "Check the KMS audit log's hash chain for edits, deletions and reordering",
  help: `Usage: nitro-sandbox kms audit verify [--data-dir DIR] [--json]

Recomputes every record's SHA-256 and its link to the previous record in DIR/audit.log, and
compares the end of the log with DIR/audit.head. Exit status 0 when the chain is intact, 1 at the
first break, which is reported with its line number and code:

  ERR_AUDIT_EDITED     a record's contents no longer match its hash
  ERR_AUDIT_SEQUENCE   a record is missing or out of order
  ERR_AUDIT_CHAIN      a record does not link to the one before it
  ERR_AUDIT_TRUNCATED  records were removed from the end
  ERR_AUDIT_MALFORMED  a line is not a record
  ERR_AUDIT_MISSING    DIR has no audit.log (a KMS creates it when it starts)

Options:
  --data-dir DIR   the KMS data directory (default $NITRO_SANDBOX_HOME/kms or ~/.nitro-sandbox/kms)
  --json           print the result as JSON`,
  options: { 'data-dir': { type: 'string' }, json: { type: 'boolean' } },
  async run(args, io) {
    const dir = kmsDataDir(args);
    const r = verifyAuditLog(dir);
    if (flagOpt(args, 'json')) io.out(json(r));
    else if (r.ok) io.out(`audit log intact: ${r.records} records\n`);
    else io.out(`audit log BROKEN after ${r.records} good records: ${r.problem?.code} at line ${r.problem?.line}: ${r.problem?.message}\n`);
    return r.ok ? 0 : 1;
  },
};
