// `verifyAuditLog` (and `nitro-sandbox kms audit verify`): re-derives every replica's chain from its
// first line, streaming (lines.ts: constant memory, any size), and reports the first break.
//
// For each replica: segments 1 … N with no gap, each beginning with a SegmentStart naming this
// replica, this segment and the trusted key; every line's sequence one more than the last and its
// previousHash the SHA-256 of the previous line; the chain's last line signed by the trusted key
// (which authenticates every line before it, format.ts); `head.json` signed by the same key and
// naming a record of the chain (so records cut off the end are found); and every file a recovery
// set aside still as the recovery recorded it.
//
// The trusted key is the one given (`publicKey`: an operator with only read access pins the key
// printed by `kms serve`), else the one derived from the directory's master.key. The `publicKey`
// member of SegmentStart records is never trusted; it only explains a mismatch.
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { KmsError } from '../errors.ts';
import type { AuditProblem, AuditProblemCode } from './problem.ts';
import { decodeHead, GENESIS, isSigned, lineHash, MAX_LINE_BYTES, parsePrefix, verifyLine, type AuditHead } from './format.ts';
import { HEAD_FILE, LEGACY_FILES, listReplicas, listSegments, replicaDir, segmentFile, SET_ASIDE_NAME } from './layout.ts';
import { fileDigest, readAt, readSmall } from './files.ts';
import { lineBatches, type LineEvent, type ReadLimits } from './lines.ts';
import { lockOwner } from '../lock.ts';
import { auditKeyId, auditSigningKeyOf, parseAuditPublicKey } from './signing-key.ts';

export interface RecoveryNote {
  readonly sequence: number;
  readonly time: string;
  readonly reason: string;
}

export interface ReplicaVerification {
  readonly replica: string;
  readonly ok: boolean;
  readonly segments: number;
  /** Records verified (all of them when ok). */
  readonly records: number;
  readonly bytes: number;
  readonly head?: AuditHead;
  /** Recoveries recorded in this chain (its first records, when it was started by one). */
  readonly recoveries: readonly RecoveryNote[];
  readonly problem?: AuditProblem;
  /** Live verification only: bytes after the last signed record, being written (not judged). */
  readonly pendingBytes?: number;
}

export interface AuditVerification {
  readonly ok: boolean;
  /** Records verified over every replica. */
  readonly records: number;
  /** The key the signatures were checked against (`ed25519:…`). */
  readonly keyId?: string;
  readonly replicas: readonly ReplicaVerification[];
  /** The first break found. */
  readonly problem?: AuditProblem;
  /** Whether the last batch being written was left out (VerifyOptions.live). */
  readonly live: boolean;
}

export interface VerifyOptions extends ReadLimits {
  /** The trusted public key (`ed25519:…`, PEM, or a KeyObject); default: derived from DIR/master.key. */
  readonly publicKey?: KeyObject | string;
  /** Verify only this replica's chain; default every replica under DIR/audit. */
  readonly replica?: string;
  /**
   * A `head.json` saved earlier (kept off the machine): its replica's log must still hold the
   * record it names, with the same hash, else ERR_AUDIT_ROLLED_BACK. It must verify with the key.
   */
  readonly sinceHead?: Uint8Array;
  /**
   * The log is being written (default: a live process holds DIR/kms.lock): what follows the last
   * signed line of a replica's last segment — the batch a KMS is writing at this moment — is not
   * judged, only counted (`pendingBytes`). Signed records are checked exactly as otherwise.
   */
  readonly live?: boolean;
  /**
   * The replicas a shared store knows of (coordination.ts `auditReplicas`: replicas on PostgreSQL),
   * with the last head each recorded there: every one must have its chain under DIR/audit
   * (ERR_AUDIT_MISSING), and that chain must still hold the recorded head's record
   * (ERR_AUDIT_ROLLED_BACK), so a replica's folder deleted or put back to an older copy is found.
   */
  readonly registered?: readonly { readonly replica: string; readonly head?: string }[];
}

interface ReplicaOptions extends ReadLimits {
  readonly since?: AuditHead;
  readonly live?: boolean;
}

/** Where a replica's chain ends: what an AuditLog continues from. */
export interface ChainEnd {
  /** The last segment's number (0 when there is none). */
  readonly segment: number;
  readonly segmentBytes: number;
  /** When the last segment began (its SegmentStart's time); NaN when it is empty. */
  readonly segmentStartedAt: number;
  /** The last record's sequence (0 for an empty chain) and line hash (GENESIS then). */
  readonly sequence: number;
  readonly lineHash: string;
  readonly head?: AuditHead;
}

const MAX_HEAD_BYTES = 4096;

/** Checks the audit log of `dataDir`: every replica's chain, or `options.replica`'s. */
export async function verifyAuditLog(dataDir: string, options: VerifyOptions = {}): Promise<AuditVerification> {
  const live = options.live ?? lockOwner(dataDir) !== undefined;
  const nothing = (code: AuditProblemCode, message: string): AuditVerification => ({ ok: false, records: 0, replicas: [], live, problem: { code, segment: 0, line: 0, message } });
  let publicKey: KeyObject | undefined;
  try {
    publicKey = typeof options.publicKey === 'string' ? parseAuditPublicKey(options.publicKey) : (options.publicKey ?? auditSigningKeyOf(dataDir)?.publicKey);
  } catch (e) {
    if (e instanceof KmsError) return nothing('ERR_AUDIT_NO_KEY', e.message);
    throw e;
  }
  if (!publicKey) {
    return nothing('ERR_AUDIT_NO_KEY', `No public key to check signatures with: pass the key 'nitro-sandbox kms serve' printed (--public-key), or run where ${join(dataDir, 'master.key')} is readable.`);
  }
  if (publicKey.asymmetricKeyType !== 'ed25519') return nothing('ERR_AUDIT_NO_KEY', 'The audit public key must be an Ed25519 key.');
  const keyId = auditKeyId(publicKey);
  const legacy = legacyProblem(dataDir);
  if (legacy) return { ok: false, records: 0, keyId, replicas: [], live, problem: legacy };
  let since: AuditHead | undefined;
  if (options.sinceHead) {
    const h = decodeHead(Buffer.from(options.sinceHead), publicKey);
    if (typeof h !== 'object') return { ...nothing('ERR_AUDIT_ROLLED_BACK', `The saved head ${h === 'signature' ? 'does not verify with the key' : 'is not an audit head'}: it cannot vouch for anything.`), keyId };
    since = h;
  }
  const present = listReplicas(dataDir);
  const replicas = options.replica === undefined ? present : [options.replica];
  const recorded = new Map<string, AuditHead>();
  for (const r of options.registered ?? []) {
    if (options.replica !== undefined && r.replica !== options.replica) continue;
    if (!present.includes(r.replica)) {
      return { ...nothing('ERR_AUDIT_MISSING', `Replica '${r.replica}' wrote an audit chain (the store says so), but ${replicaDir(dataDir, r.replica)} is missing: the folder was deleted, or this is not the directory the replicas write to.`), keyId };
    }
    if (r.head === undefined) continue;
    const h = decodeHead(Buffer.from(r.head, 'utf8'), publicKey);
    if (typeof h !== 'object' || h.replica !== r.replica) {
      return { ...nothing('ERR_AUDIT_HEAD', `The head the store recorded for replica '${r.replica}' ${h === 'signature' ? 'does not verify with the key' : 'is not that replica\'s audit head'}.`), keyId };
    }
    recorded.set(r.replica, h);
  }
  if (replicas.length === 0 || (options.replica !== undefined && !present.includes(options.replica))) {
    return { ...nothing('ERR_AUDIT_MISSING', `There is no audit log${options.replica === undefined ? '' : ` of replica '${options.replica}'`} in ${dataDir} (a KMS creates audit/ when it starts).`), keyId };
  }
  const results: ReplicaVerification[] = [];
  for (const r of replicas) {
    // A saved head given by the operator, else the one the store recorded (both must be held).
    const held = since?.replica === r ? since : recorded.get(r);
    const { result } = await verifyReplica(dataDir, r, publicKey, { ...options, live, ...(held ? { since: held } : {}) });
    // A replica's folder that exists holds a log: the KMS writes its first record on creating it.
    const empty = result.ok && result.segments === 0 ? emptyLogProblem(dataDir, r, true) : undefined;
    results.push(empty ? { ...result, ok: false, problem: empty } : result);
  }
  if (since && !replicas.includes(since.replica)) {
    return { ok: false, records: 0, keyId, replicas: results, live, problem: { code: 'ERR_AUDIT_ROLLED_BACK', replica: since.replica, segment: 0, line: 0, message: `The saved head is replica '${since.replica}''s, which this log does not have.` } };
  }
  const broken = results.find((r) => !r.ok);
  return {
    ok: broken === undefined,
    records: results.reduce((n, r) => n + r.records, 0),
    keyId,
    replicas: results,
    live,
    ...(broken?.problem ? { problem: broken.problem } : {}),
  };
}

/**
 * The problem with a replica that has no log, when it should have one: its folder exists (a KMS
 * writes the first record when it creates it), or `storeExisted` (a KMS that served from this
 * directory wrote a log). Deleting every segment and the head is then found, not taken for a new
 * directory. Undefined for a directory no KMS has served from.
 */
export function emptyLogProblem(dataDir: string, replica: string, storeExisted: boolean): AuditProblem | undefined {
  if (!storeExisted && !existsSync(replicaDir(dataDir, replica))) return undefined;
  return { code: 'ERR_AUDIT_MISSING', replica, segment: 0, line: 0, message: `replica '${replica}' has no audit log, but ${storeExisted ? 'this KMS directory was used before' : 'its folder exists'}: the segments and the head were deleted` };
}

/** The unkeyed log of earlier versions, if the directory still has it. */
export function legacyProblem(dataDir: string): AuditProblem | undefined {
  const found = LEGACY_FILES.filter((f) => existsSync(join(dataDir, f)));
  if (found.length === 0) return undefined;
  return {
    code: 'ERR_AUDIT_LEGACY',
    segment: 0,
    line: 0,
    message: `${found.join(' and ')} in ${dataDir} ${found.length > 1 ? 'are' : 'is'} the unsigned audit log of an earlier version, which cannot be verified against a key; 'nitro-sandbox kms audit recover' sets it aside (kept, with its SHA-256 recorded) and starts a signed log`,
  };
}

/** Verifies one replica's chain; on success also says where it ends. */
export async function verifyReplica(dataDir: string, replica: string, publicKey: KeyObject, options: ReplicaOptions = {}): Promise<{ result: ReplicaVerification; end?: ChainEnd }> {
  const { since, live = false, ...limits } = options;
  const dir = replicaDir(dataDir, replica);
  const keyId = auditKeyId(publicKey);
  const segments = listSegments(dir);
  const recoveries: RecoveryNote[] = [];
  let records = 0;
  let bytes = 0;
  let head: AuditHead | undefined;
  const fail = (code: AuditProblemCode, segment: number, line: number, message: string) => ({
    result: { replica, ok: false, segments: segments.length, records, bytes, ...(head ? { head } : {}), recoveries, problem: { code, replica, segment, line, message } },
  });

  // The head is read first, so the stream can compare the record it names, and judged after the
  // chain: a log whose records fail says so before what its head says about them.
  const headText = await readSmall(join(dir, HEAD_FILE), MAX_HEAD_BYTES);
  const decoded = headText === undefined || headText === 'too-large' ? headText : decodeHead(headText, publicKey);
  const candidate = typeof decoded === 'object' && decoded.replica === replica ? decoded : undefined;
  const headProblem = (): ReturnType<typeof fail> | undefined => {
    if (decoded === undefined) return undefined;
    if (decoded === 'too-large' || decoded === 'malformed') return fail('ERR_AUDIT_MALFORMED', 0, 0, `${HEAD_FILE} is not an audit head`);
    if (decoded === 'signature') return fail('ERR_AUDIT_SIGNATURE', 0, 0, `${HEAD_FILE}'s signature does not verify with ${keyId}: the head was rewritten, or signed by another key`);
    if (decoded.replica !== replica) return fail('ERR_AUDIT_HEAD', 0, 0, `${HEAD_FILE} is replica '${decoded.replica}''s head, not '${replica}''s`);
    head = decoded;
    return undefined;
  };
  if (segments.length === 0) {
    const bad = headProblem();
    if (bad) return bad;
    if (head) return fail('ERR_AUDIT_TRUNCATED', 0, 0, `${HEAD_FILE} names record ${head.sequence} in segment ${head.segment}, but there are no segments: the log was deleted`);
    return { result: { replica, ok: true, segments: 0, records: 0, bytes: 0, recoveries }, end: { segment: 0, segmentBytes: 0, segmentStartedAt: Number.NaN, sequence: 0, lineHash: GENESIS } };
  }
  for (let i = 0; i < segments.length; i++) {
    if (segments[i] !== i + 1) return fail('ERR_AUDIT_SEGMENT', i + 1, 0, `segment ${segmentFile(i + 1)} is missing (segments deleted or renamed)`);
  }

  let expected = 1;
  let prevHash = GENESIS;
  let prevAt = { segment: 0, line: 0 };
  let last: { segment: number; line: number; offset: number; length: number } | undefined;
  let headSeen = false;
  let headMatches = false;
  let headAt = { segment: 0, line: 0 };
  let sinceHeld = false;
  let startedAt = Number.NaN;
  let segmentBytes = 0;
  let problem: AuditProblem | undefined;
  const evidence: { sequence: number; path: string; name: string; bytes: number; sha256: string }[] = [];
  // Live: the state after the last signed line, to fall back to when what follows is a batch being written.
  type State = { last: typeof last; expected: number; prevHash: string; records: number; segmentBytes: number; headSeen: boolean; headMatches: boolean; sinceHeld: boolean; evidence: number; recoveries: number };
  const state = (): State => ({ last, expected, prevHash, records, segmentBytes, headSeen, headMatches, sinceHeld, evidence: evidence.length, recoveries: recoveries.length });
  let signed: State | undefined;
  let torn = 0;
  for (const n of segments) {
    let lines = 0;
    segmentBytes = 0;
    // The previous segment ends signed (a segment is closed after its last batch is written).
    if (live && n === segments.length) signed = state();
    const stop = (code: AuditProblemCode, line: number, message: string, segment = n): false => {
      problem = { code, replica, segment, line, message };
      return false;
    };
    const check = (ev: LineEvent): boolean => {
      if ('tooLong' in ev) return stop('ERR_AUDIT_MALFORMED', ev.number, `line is longer than any audit record (${limits.maxLineBytes ?? MAX_LINE_BYTES} bytes)`);
      lines = ev.number;
      if (!ev.complete) {
        if (live && n === segments.length) {
          torn = ev.bytes.length;
          return false;
        }
        return stop('ERR_AUDIT_MALFORMED', ev.number, `the last line has no newline: a write was cut short (kill -9, power loss, full disk), or bytes were appended${n === segments.length ? '; if nothing else is wrong, a KMS starting on this log sets the bytes after the last signed record aside and records it' : ''}`);
      }
      const p = parsePrefix(ev.bytes);
      if (!p) return stop('ERR_AUDIT_MALFORMED', ev.number, 'line is not an audit record');
      if (p.sequence !== expected) return stop('ERR_AUDIT_SEQUENCE', ev.number, `expected sequence ${expected}, found ${p.sequence} (records deleted, inserted or reordered)`);
      if (p.previousHash !== prevHash) {
        if (expected === 1) return stop('ERR_AUDIT_CHAIN', ev.number, 'the first record does not start a chain (its previousHash is not 64 zeros)');
        return stop('ERR_AUDIT_EDITED', prevAt.line, "the record no longer matches the hash the next record links to (this record, or the next one's previousHash, was edited)", prevAt.segment);
      }
      if (ev.number === 1 || p.recordType === 'SegmentStart' || p.recordType === 'Recovery') {
        const rec = parseObject(ev.bytes);
        if (!rec) return stop('ERR_AUDIT_MALFORMED', ev.number, `${p.recordType} record is not JSON`);
        if (ev.number === 1) {
          if (p.recordType !== 'SegmentStart') return stop('ERR_AUDIT_SEGMENT', 1, `segment ${n} does not begin with a SegmentStart record`);
          if (rec.replica !== replica || rec.segment !== n) return stop('ERR_AUDIT_SEGMENT', 1, `this file begins segment ${String(rec.segment)} of replica '${String(rec.replica)}', not segment ${n} of '${replica}' (files renamed or moved)`);
          if (rec.publicKey !== keyId) return stop('ERR_AUDIT_KEY', 1, `segment ${n} names signing key ${String(rec.publicKey)}, not the trusted ${keyId} (another master key, or a forgery)`);
          startedAt = typeof rec.time === 'string' ? Date.parse(rec.time) : Number.NaN;
        } else if (p.recordType === 'SegmentStart') {
          return stop('ERR_AUDIT_SEGMENT', ev.number, 'a SegmentStart record in the middle of a segment');
        }
        if (p.recordType === 'Recovery') {
          const files = setAsideFiles(rec);
          if (!files) return stop('ERR_AUDIT_MALFORMED', ev.number, 'Recovery record without a well-formed setAside list');
          for (const f of files) evidence.push({ sequence: p.sequence, ...f });
          recoveries.push({ sequence: p.sequence, time: String(rec.time), reason: String(rec.reason) });
        }
      }
      prevHash = lineHash(ev.bytes);
      prevAt = { segment: n, line: ev.number };
      if (since && p.sequence === since.sequence) sinceHeld = since.segment === n && since.lineHash === prevHash;
      if (candidate && p.sequence === candidate.sequence) {
        headSeen = true;
        headMatches = candidate.segment === n && candidate.lineHash === prevHash;
        headAt = { segment: n, line: ev.number };
      }
      last = { segment: n, line: ev.number, offset: ev.offset, length: ev.bytes.length };
      segmentBytes = ev.offset + ev.bytes.length + 1;
      expected++;
      records++;
      if (live && n === segments.length && isSigned(ev.bytes)) signed = state();
      return true;
    };
    scan: for await (const batch of lineBatches(join(dir, segmentFile(n)), limits)) {
      for (const ev of batch) if (!check(ev)) break scan;
    }
    if (problem) return fail(problem.code, problem.segment, problem.line, problem.message);
    bytes += segmentBytes;
    if (lines === 0 && n !== segments.length) return fail('ERR_AUDIT_SEGMENT', n, 0, `segment ${n} is empty`);
  }

  let pendingBytes = 0;
  if (live && last && (torn > 0 || !isSigned(await readAt(join(dir, segmentFile(last.segment)), last.offset, last.length)))) {
    // A batch is being written after the last signed line: judge the log up to that line.
    const s = signed ?? state();
    pendingBytes = segmentBytes + torn - s.segmentBytes;
    bytes -= segmentBytes - s.segmentBytes;
    ({ last, expected, prevHash, records, segmentBytes, headSeen, headMatches, sinceHeld } = s);
    evidence.length = s.evidence;
    recoveries.length = s.recoveries;
  }
  if (last) {
    const lastLine = await readAt(join(dir, segmentFile(last.segment)), last.offset, last.length);
    if (!isSigned(lastLine)) return fail('ERR_AUDIT_UNSIGNED', last.segment, last.line, 'the last record carries no signature: a write was cut short, or records were appended or the last one edited after the KMS wrote them; if the rest verifies, a KMS starting on this log sets the unsigned records aside and records it');
    if (!verifyLine(lastLine, publicKey)) return fail('ERR_AUDIT_SIGNATURE', last.segment, last.line, `the last record's signature does not verify with ${keyId}: the log was rewritten`);
  }
  const bad = headProblem();
  if (bad) return bad;
  if (last && !head) return fail('ERR_AUDIT_HEAD_MISSING', 0, 0, `there is no ${HEAD_FILE} (a KMS writes it with the first record): the head was deleted`);
  if (head && !headSeen) {
    return fail('ERR_AUDIT_TRUNCATED', 0, 0, `${HEAD_FILE} names record ${head.sequence} in segment ${head.segment}, but the log ends at record ${expected - 1}: records were cut off the end`);
  }
  if (head && !headMatches) {
    return fail('ERR_AUDIT_HEAD', headAt.segment, headAt.line, `${HEAD_FILE} names record ${head.sequence} in segment ${head.segment} with another hash than the log's (the log or the head was changed)`);
  }
  if (since && !sinceHeld) {
    return fail('ERR_AUDIT_ROLLED_BACK', 0, 0, `the log does not hold record ${since.sequence} (segment ${since.segment}) of the head saved at ${since.time}: an older copy of the log was put back, or it was replaced`);
  }
  for (const e of evidence) {
    const d = await fileDigest(join(dir, e.path, e.name));
    if (!d || d.bytes !== e.bytes || d.sha256 !== e.sha256) {
      return fail('ERR_AUDIT_EVIDENCE', 0, 0, `${join(e.path, e.name)}, set aside by the recovery at record ${e.sequence}, is ${d ? 'changed' : 'missing'}`);
    }
  }
  return {
    result: { replica, ok: true, segments: segments.length, records, bytes, ...(head ? { head } : {}), recoveries, ...(live ? { pendingBytes } : {}) },
    end: { segment: segments.length, segmentBytes, segmentStartedAt: startedAt, sequence: expected - 1, lineHash: prevHash, ...(head ? { head } : {}) },
  };
}

function parseObject(line: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A Recovery record's `setAside`: a folder under the replica's and the files moved into it. */
function setAsideFiles(rec: Record<string, unknown>): { path: string; name: string; bytes: number; sha256: string }[] | undefined {
  const s = rec.setAside as { dir?: unknown; files?: unknown } | undefined;
  if (!s || typeof s.dir !== 'string' || isAbsolute(s.dir) || s.dir.split('/').some((p) => !SET_ASIDE_NAME.test(p)) || !Array.isArray(s.files)) return undefined;
  const out: { path: string; name: string; bytes: number; sha256: string }[] = [];
  for (const f of s.files as unknown[]) {
    const { name, bytes, sha256 } = (f ?? {}) as { name?: unknown; bytes?: unknown; sha256?: unknown };
    if (typeof name !== 'string' || !SET_ASIDE_NAME.test(name) || typeof bytes !== 'number' || typeof sha256 !== 'string') return undefined;
    out.push({ path: s.dir, name, bytes, sha256 });
  }
  return out;
}
