// `nitro-sandbox kms audit verify`: checks the KMS audit log's chain and signatures, streaming.
import { join } from 'node:path';
import { defaultDataDir } from '../../../attestation/index.ts';
import { auditRegistry, auditSigningKeyOf, verifyAuditLog, type AuditVerification } from '../../../kms-proxy/index.ts';
import { flagOpt, json, readOptionFile, stringOpt, type Command } from '../command.ts';
import { kmsDataDir } from './kms-options.ts';

export const kmsAuditVerify: Command = {
  help: `Usage: nitro-sandbox kms audit verify [--data-dir DIR] [--public-key KEY|FILE] [--replica ID]
                                      [--since-head FILE] [--json]
                                      [--audit-dir DIR --store postgres://…]

Reads every segment of DIR/audit/<replica>/ in order, in constant memory whatever the log's size,
and checks: each record's sequence and its link to the previous line (SHA-256 of that line); that
the last record carries a valid Ed25519 signature of the KMS's audit key (which authenticates every
record before it: rewriting the log with a recomputed chain needs the key); that head.json is
signed by the same key and names a record the log holds (so records cut off the end are found);
and that files set aside by 'kms audit recover' are unchanged.

The key: --public-key, as 'kms serve' prints it at start-up (ed25519:…) or a PEM file, lets an
operator who can only read the log verify it without being able to forge it. Without it, the key is
derived from DIR/master.key, which must then be readable.

Exit status 0 when every chain is intact, 1 at the first break, 2 when there is no key to check
with. A break is reported with its replica, segment, line and code:

  ERR_AUDIT_EDITED        a record no longer matches the hash the next one links to
  ERR_AUDIT_SIGNATURE     the last record's or the head's signature does not verify (rewritten)
  ERR_AUDIT_UNSIGNED      the last record is unsigned (records appended after the KMS wrote them)
  ERR_AUDIT_SEQUENCE      a record is missing, inserted or out of order
  ERR_AUDIT_TRUNCATED     records were cut off the end (the head names a later record)
  ERR_AUDIT_HEAD_MISSING  head.json was deleted
  ERR_AUDIT_HEAD          head.json names a record the log holds with another hash
  ERR_AUDIT_SEGMENT       a segment is missing, renamed, moved or does not start a segment
  ERR_AUDIT_KEY           a segment was written under another key (another master key?)
  ERR_AUDIT_CHAIN         the first record does not start a chain
  ERR_AUDIT_EVIDENCE      a file set aside by a recovery is missing or changed
  ERR_AUDIT_ROLLED_BACK   the log no longer holds the record a head saved earlier names
  ERR_AUDIT_MALFORMED     a line is not a record (or was cut short by a failed write)
  ERR_AUDIT_LEGACY        DIR holds the unsigned audit.log of an earlier version
  ERR_AUDIT_MISSING       no audit log where a KMS has served (it writes one when it starts):
                          a wrong DIR, or the log was deleted
  ERR_AUDIT_NO_KEY        no --public-key and no readable master.key

While a KMS runs on DIR (it holds DIR/kms.lock), the batch it is writing at that moment — whatever
follows the last signed record — is not judged, only counted; every signed record is checked as
always. Stopped, the same bytes are a failure (ERR_AUDIT_UNSIGNED or ERR_AUDIT_MALFORMED).

A KMS refuses to start on a log that fails; see 'nitro-sandbox kms audit recover --help'.

Options:
  --data-dir DIR      the KMS data directory (default $NITRO_SANDBOX_HOME/kms or ~/.nitro-sandbox/kms)
  --public-key KEY    the trusted key: ed25519:<base64url> or a file holding it or a PEM public key
  --replica ID        check only this replica's chain (default: every replica under DIR/audit)
  --since-head FILE   a copy of DIR/audit/<replica>/head.json saved earlier, off this machine: the
                      log must still hold the record it names. Neither a cut of the last 200 ms
                      of records before a head write nor an older copy of the whole log put back
                      with its own head can be seen from the directory alone; this sees the latter
  --json              print the result as JSON
  --audit-dir DIR     the audit directory replicas on a shared store write to ('kms serve
                      --audit-dir'); default the data directory, or with --store the replicas'
                      default ($NITRO_SANDBOX_HOME/kms-audit or ~/.nitro-sandbox/kms-audit). The
                      key is still derived from --data-dir's master.key unless --public-key is given
  --store URL         the replicas' PostgreSQL store: every replica it knows of must have its chain
                      under --audit-dir (ERR_AUDIT_MISSING otherwise), and that chain must still
                      hold the last head the replica recorded in the store (ERR_AUDIT_ROLLED_BACK).
                      The replicas may be running: the batch each is writing is not judged`,
  options: { 'data-dir': { type: 'string' }, 'public-key': { type: 'string' }, replica: { type: 'string' }, 'since-head': { type: 'string' }, json: { type: 'boolean' }, 'audit-dir': { type: 'string' }, store: { type: 'string' } },
  async run(args, io) {
    const dir = kmsDataDir(args);
    const key = stringOpt(args, 'public-key');
    const replica = stringOpt(args, 'replica');
    const publicKey = key === undefined ? undefined : key.startsWith('ed25519:') ? key : readOptionFile('public-key', key).toString('utf8');
    const since = stringOpt(args, 'since-head');
    const sinceHead = since === undefined ? undefined : readOptionFile('since-head', since);
    const store = stringOpt(args, 'store');
    const auditDir = stringOpt(args, 'audit-dir') ?? (store !== undefined ? join(defaultDataDir(), 'kms-audit') : dir);
    // The key of DIR's master.key, unless pinned: the audit directory holds no key.
    const trusted = publicKey ?? (auditDir !== dir ? auditSigningKeyOf(dir)?.publicKey : undefined);
    const registered = store === undefined ? undefined : await auditRegistry(store);
    const r = await verifyAuditLog(auditDir, {
      ...(trusted !== undefined ? { publicKey: trusted } : {}),
      ...(replica !== undefined ? { replica } : {}),
      ...(sinceHead ? { sinceHead } : {}),
      ...(registered ? { registered, live: true } : {}),
    });
    if (flagOpt(args, 'json')) io.out(json(r));
    else io.out(describe(r));
    if (r.ok) return 0;
    return r.problem?.code === 'ERR_AUDIT_NO_KEY' ? 2 : 1;
  },
};

function describe(r: AuditVerification): string {
  const lines: string[] = [];
  for (const c of r.replicas) {
    const recovered = c.recoveries.length > 0 ? `; recoveries: ${c.recoveries.map((x) => `"${x.reason}" (${x.time})`).join(', ')}` : '';
    if (c.ok) lines.push(`replica ${c.replica}: intact, ${c.records} records in ${c.segments} segment${c.segments === 1 ? '' : 's'}${recovered}`);
  }
  const pending = r.replicas.reduce((n, c) => n + (c.pendingBytes ?? 0), 0);
  if (pending > 0) lines.push(`a KMS is writing this log: ${pending} bytes after the last signed record are a batch in progress, not judged`);
  if (r.ok) return `${lines.join('\n')}\naudit log intact: ${r.records} records, signed by ${r.keyId}\n`;
  const p = r.problem;
  const where = p && p.segment > 0 ? ` in replica ${p.replica}, segment ${p.segment}, line ${p.line}` : p?.replica ? ` in replica ${p.replica}` : '';
  return `${lines.length ? `${lines.join('\n')}\n` : ''}audit log BROKEN after ${r.records} good records: ${p?.code}${where}: ${p?.message}\n`;
}
