// `kms explain`: evaluates a hypothetical request (key, action, principal, attestation document,
// encryption context) against a key's policy and grants exactly as the KMS would, and says which
// statement or grant allowed or denied, and which condition failed with which value. AWS offers no
// such tool (its IAM policy simulator does not cover key policies with attestation conditions).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KmsError, kmsError } from './errors.ts';
import type { Decision } from './policy/evaluate.ts';
import { RecipientVerifier, type RecipientOptions } from './recipient/verify.ts';
import { Service, type Caller, type ContextValues } from './service.ts';
import { SqliteKeyStore } from './store/sqlite.ts';
import { loadOrCreateCredentials } from './credentials.ts';
import type { Credential } from './sigv4.ts';
import { ENCRYPTION_ALGORITHM_ACTIONS } from './operations/lib/symmetric.ts';
import { OPERATIONS } from './operations/index.ts';
import { catalogueEntry, CONDITION_KEYS, suppliedOn } from './policy/catalogue.ts';

export interface ExplainRequest {
  /** Key id, key ARN, alias name or alias ARN. */
  readonly keyId: string;
  /** `kms:Decrypt` or `Decrypt`. */
  readonly action: string;
  /** Default: the account root. */
  readonly principal?: string;
  /** A COSE_Sign1 attestation document, as sent in `Recipient.AttestationDocument`. */
  readonly attestation?: Uint8Array;
  readonly encryptionContext?: Readonly<Record<string, string>>;
  /** The principal's identity policy (its credential's `allowedActions`); absent: every action. */
  readonly allowedActions?: readonly string[];
  /**
   * Values of the request's own condition keys that explain cannot know, e.g. `kms:GrantOperations`
   * for CreateGrant or `kms:ScheduleKeyDeletionPendingWindowInDays`; they override what explain derives.
   */
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
}

/** A documented condition key that the explained request does not have, and why. */
export interface AbsentKey {
  readonly key: string;
  readonly why: string;
}

export interface AttestationVerdict {
  readonly valid: boolean;
  /** Why the KMS would refuse the document (it answers ValidationException). */
  readonly reason?: string;
  readonly moduleId?: string;
  /** The condition-key values the document contributes. */
  readonly context?: Readonly<Record<string, string>>;
}

export interface Explanation {
  readonly keyArn: string;
  readonly action: string;
  readonly principal: string;
  readonly attestation?: AttestationVerdict;
  readonly decision: Omit<Decision, 'context'>;
  /** Every condition key of the request with its value(s), sorted by key. */
  readonly context: Readonly<Record<string, readonly string[]>>;
  /** The documented keys (policy/catalogue.ts) the request lacks: never supplied here, or not in this request. */
  readonly absent: readonly AbsentKey[];
  /** What the KMS would answer: allowed, AccessDeniedException, or ValidationException for a bad document. */
  readonly outcome: 'Allowed' | 'AccessDeniedException' | 'ValidationException';
}

// The checks on explain's input live here alone; the `kms explain` CLI uses them too, to answer a
// usage error (exit 2) before it opens the key store.

const RECIPIENT_ACTIONS = [...OPERATIONS.values()].filter((o) => o.shape.Recipient !== undefined).map((o) => `kms:${o.name}`);

/** Operation names by lower case: IAM action names are case-insensitive, grants and the KMS's own checks are not. */
const OPERATION_NAMES = new Map([...OPERATIONS.keys()].map((name) => [name.toLowerCase(), name]));

/**
 * `kms:Decrypt` for `Decrypt`, `kms:Decrypt` or `kms:decrypt` (an operation's own spelling, as the
 * KMS names the action it authorizes); undefined when `action` is not a KMS action name.
 */
export function explainAction(action: string): string | undefined {
  const a = action.startsWith('kms:') ? action : `kms:${action}`;
  if (!/^kms:[A-Za-z]+$/.test(a)) return undefined;
  const name = OPERATION_NAMES.get(a.slice(4).toLowerCase());
  return name === undefined ? a : `kms:${name}`;
}

/** The 12-digit account of an IAM or STS principal ARN; undefined when `principal` is not one. */
export function principalAccount(principal: string): string | undefined {
  return /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):\S+$/.exec(principal)?.[1];
}

/** Explains a request against a running service's keys (library form). */
export async function explain(service: Service, req: ExplainRequest): Promise<Explanation> {
  const action = explainAction(req.action);
  if (action === undefined) throw kmsError('ValidationException', `action must look like kms:Decrypt, got '${req.action}'`);
  const principal = req.principal ?? `arn:aws:iam::${service.account}:root`;
  const account = principalAccount(principal);
  if (account === undefined) throw kmsError('ValidationException', `principal must be an IAM or STS ARN, got '${principal}'`);
  const caller: Caller = { principalArn: principal, account, ...(req.allowedActions ? { allowedActions: req.allowedActions } : {}) };
  // Only the operations with a Recipient member carry a document (Decrypt, GenerateDataKey, …); the
  // KMS refuses the field anywhere else, so its PCRs can never be condition values there.
  if (req.attestation !== undefined && OPERATIONS.get(action.slice(4))?.shape.Recipient === undefined) {
    throw kmsError('ValidationException', `${action} takes no Recipient, so an attestation document cannot be part of the request (it can for ${RECIPIENT_ACTIONS.join(', ')})`);
  }
  const resolved = await service.resolve(req.keyId, caller);
  let attestation: AttestationVerdict | undefined;
  let extra: ContextValues = {};
  if (req.attestation !== undefined) {
    try {
      const r = service.recipient.verify(req.attestation);
      attestation = { valid: true, moduleId: r.document.moduleId, context: r.context };
      extra = r.context;
    } catch (e) {
      if (!(e instanceof KmsError)) throw e;
      attestation = { valid: false, reason: e.detail ?? e.message };
    }
  }
  const ec = req.encryptionContext;
  // The values the operations add for symmetric encryption.
  const crypto = ENCRYPTION_ALGORITHM_ACTIONS.includes(action);
  const values: ContextValues = {
    ...Service.encryptionContextValues(ec),
    ...(crypto && resolved.key.keySpec === 'SYMMETRIC_DEFAULT' ? { 'kms:EncryptionAlgorithm': 'SYMMETRIC_DEFAULT' } : {}),
    ...extra,
    ...req.context,
  };
  const { context: ctx, ...decision } = await service.decide(resolved.key, caller, action, values, resolved.alias, ec, { fullContext: true });
  const outcome = attestation && !attestation.valid ? 'ValidationException' : decision.allowed ? 'Allowed' : 'AccessDeniedException';
  // The context keeps keys in lower case (IAM condition keys are case-insensitive); shown with the
  // documented spelling, and the caller's own spelling for the part it chose (context key, tag key).
  const spelled = [...Object.keys(values), ...resolved.key.tags.map((t) => `aws:ResourceTag/${t.TagKey}`)];
  const display = (lower: string) => spelled.find((k) => k.toLowerCase() === lower) ?? CONDITION_KEYS.find((k) => k.key.toLowerCase() === lower)?.key ?? lower;
  const context: Record<string, readonly string[]> = {};
  for (const k of [...ctx.keys()].sort()) context[display(k)] = ctx.get(k) ?? [];
  return { keyArn: resolved.key.arn, action, principal, ...(attestation ? { attestation } : {}), decision, outcome, context, absent: absentKeys(action, ctx, decision) };
}

/**
 * The documented keys the request lacks: those supplied on this action when the request has the
 * value (said so, so a policy author sees why a condition is false), and those a condition of the
 * policy names that this KMS never supplies.
 */
function absentKeys(action: string, ctx: ReadonlyMap<string, readonly string[]>, decision: Omit<Decision, 'context'>): AbsentKey[] {
  const present = (key: string) => [...ctx.keys()].some((k) => catalogueEntry(k) === catalogueEntry(key));
  const out: AbsentKey[] = [];
  for (const k of CONDITION_KEYS) {
    if (suppliedOn(k, action) && !present(k.key)) out.push({ key: k.key, why: `not in this request${k.why !== undefined ? ` (${k.why})` : ''}` });
  }
  const named = new Set(decision.statements.flatMap((s) => s.conditions.map((c) => c.key)));
  for (const key of named) {
    if (ctx.has(key.toLowerCase())) continue;
    const entry = catalogueEntry(key);
    if (entry === undefined) out.push({ key, why: 'not a condition key AWS KMS documents: it is never present' });
    else if (entry.on === 'never') out.push({ key, why: `never supplied by this KMS: ${entry.why ?? ''}` });
    else if (!suppliedOn(entry, action)) out.push({ key, why: `not supplied on ${action}` });
  }
  return out;
}

export interface ExplainStoreOptions {
  readonly dataDir: string;
  readonly region?: string;
  readonly account?: string;
  readonly recipient?: RecipientOptions;
}

/**
 * Explains against the key store in a KMS data directory. Reads only: the running KMS keeps its
 * lock, and SQLite's WAL lets this reader see its committed state.
 */
export async function explainInDataDir(options: ExplainStoreOptions, req: ExplainRequest): Promise<Explanation> {
  if (!existsSync(join(options.dataDir, 'kms.sqlite'))) throw kmsError('NotFoundException', `no KMS key store in ${options.dataDir}`);
  const store = new SqliteKeyStore({ dataDir: options.dataDir, readOnly: true });
  try {
    const clock = Date.now;
    const account = options.account ?? '111122223333';
    const service = new Service({ store, region: options.region ?? 'us-east-1', account, clock, recipient: new RecipientVerifier(options.recipient ?? {}, clock) });
    // The principal's identity policy, as the KMS applies it: its credential in credentials.json.
    const principal = req.principal ?? `arn:aws:iam::${account}:root`;
    const allowedActions = req.allowedActions ?? credentialsOf(options.dataDir).find((c) => c.principalArn === principal)?.allowedActions;
    return await explain(service, { ...req, ...(allowedActions ? { allowedActions } : {}) });
  } finally {
    await store.close();
  }
}

/** The data directory's credentials.json, or none when it has none (explain never creates one). */
function credentialsOf(dataDir: string): readonly Credential[] {
  return existsSync(join(dataDir, 'credentials.json')) ? loadOrCreateCredentials(dataDir, '111122223333').credentials : [];
}

function list(v: readonly string[] | undefined): string {
  return v === undefined || v.length === 0 ? '(absent)' : v.map((x) => JSON.stringify(x)).join(', ');
}

/** Human-readable explanation, one fact per line. */
export function formatExplanation(e: Explanation): string {
  const out: string[] = [];
  const d = e.decision;
  out.push(`${e.action} on ${e.keyArn}`);
  out.push(`principal: ${e.principal}`);
  if (e.attestation) {
    out.push(
      e.attestation.valid
        ? `attestation: valid document from ${e.attestation.moduleId}, ImageSha384 ${e.attestation.context?.['kms:RecipientAttestation:ImageSha384'] ?? '(none)'}`
        : `attestation: REFUSED (${e.attestation.reason}); the KMS answers ValidationException, and without it no kms:RecipientAttestation:* key is present`,
    );
  } else out.push('attestation: none (kms:RecipientAttestation:* keys are absent)');
  const by = d.decidedBy === undefined ? 'no statement or grant allows it' : d.decidedBy.kind === 'grant' ? `grant ${d.decidedBy.grantId}` : `statement #${d.decidedBy.index}${d.decidedBy.sid !== undefined ? ` "${d.decidedBy.sid}"` : ''}`;
  const verdict = d.effect === 'Allow' ? 'ALLOW' : d.effect === 'ExplicitDeny' ? 'DENY (explicit deny)' : 'DENY (implicit: nothing allows it)';
  out.push(`decision: ${verdict} — ${by}`);
  out.push(`outcome: ${e.outcome}`);
  out.push('request context:');
  for (const [k, v] of Object.entries(e.context)) out.push(`  ${k}: ${list(v)}`);
  for (const a of e.absent) out.push(`  ${a.key}: (absent) ${a.why}`);
  out.push('statements:');
  for (const s of d.statements) {
    const name = `  #${s.index}${s.sid !== undefined ? ` "${s.sid}"` : ''} ${s.effect}`;
    if (s.applies) out.push(`${name}: applies`);
    else if (s.mismatch !== 'condition') out.push(`${name}: does not apply (${s.mismatch} does not match)`);
    else out.push(`${name}: does not apply (condition failed)`);
    for (const c of s.conditions) {
      out.push(`      ${c.passed ? 'ok  ' : 'FAIL'} ${c.operator} ${c.key}: expected ${list(c.expected)}, request has ${list(c.actual)}`);
    }
  }
  if (d.grants.length > 0) {
    out.push('grants:');
    for (const g of d.grants) out.push(`  ${g.grantId}: ${g.applies ? 'applies' : `does not apply (${g.mismatch} does not match)`}`);
  }
  return `${out.join('\n')}\n`;
}
