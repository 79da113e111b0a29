// Grants as an authorization source (KMS Developer Guide, "Grants in AWS KMS", "Creating grants",
// "Managing grants"; API Reference, "GrantConstraints"). A grant allows its grantee its operations on
// its key, never denies, and is bounded by its constraints:
// - encryption-context constraints apply only to the operations that carry an encryption context;
//   DescribeKey, RetireGrant, CreateGrant, GetPublicKey, Sign, Verify, the MAC and key-agreement
//   operations ignore them ("The encryption context constraint is ignored for DescribeKey and
//   RetireGrant");
// - in a constraint the key of each pair is matched without regard to case, the value exactly
//   ("in a grant constraint, the key in each key-value pair is not case sensitive, but the value is");
// - a grant that allows CreateGrant lets its grantee create only grants for a subset of its own
//   operations, with constraints at least as strict ("Granting CreateGrant permission"), whatever
//   else the grantee may do.
import type { GrantConstraints, GrantRecord } from '../model.ts';
import { principalNamed, type Identity } from './principals.ts';

/** The grant operations whose requests carry an encryption context. */
export const ENCRYPTION_CONTEXT_OPERATIONS: ReadonlySet<string> = new Set([
  'Encrypt', 'Decrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo',
]);

export interface GrantTrace {
  readonly grantId: string;
  readonly applies: boolean;
  /** `delegation`: a CreateGrant whose new grant is wider than this grant (more operations or looser constraints). */
  readonly mismatch?: 'grantee' | 'operation' | 'constraints' | 'delegation';
}

/** The grant a CreateGrant request would create, for the delegation bound. */
export interface ChildGrant {
  readonly operations: readonly string[];
  readonly constraints?: GrantConstraints;
}

function folded(ctx: Readonly<Record<string, string>>): Map<string, string> {
  return new Map(Object.entries(ctx).map(([k, v]) => [k.toLowerCase(), v]));
}

function includesPairs(want: Readonly<Record<string, string>>, given: ReadonlyMap<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => given.get(k.toLowerCase()) === v);
}

/** Whether an encryption context satisfies a grant's EncryptionContextEquals/Subset constraints. */
export function contextSatisfies(c: GrantConstraints | undefined, ctx: Readonly<Record<string, string>> | undefined): boolean {
  if (!c) return true;
  const given = folded(ctx ?? {});
  if (c.EncryptionContextEquals) {
    const want = folded(c.EncryptionContextEquals);
    if (want.size !== given.size || !includesPairs(c.EncryptionContextEquals, given)) return false;
  }
  return !c.EncryptionContextSubset || includesPairs(c.EncryptionContextSubset, given);
}

/**
 * Whether every encryption context a grant with `child` constraints admits is admitted by `parent`:
 * a child may add pairs to a Subset, turn a Subset into an Equals containing it, keep an Equals as it
 * is, never the reverse ("The child grant can change an EncryptionContextSubset constraint to an
 * EncryptionContextEquals constraint, but not the reverse").
 */
export function atLeastAsStrict(child: GrantConstraints | undefined, parent: GrantConstraints | undefined): boolean {
  const pEquals = parent?.EncryptionContextEquals;
  const pSubset = parent?.EncryptionContextSubset;
  if (!pEquals && !pSubset) return true;
  const cEquals = child?.EncryptionContextEquals;
  const cSubset = child?.EncryptionContextSubset;
  if (cEquals) {
    // The child admits exactly cEquals (or nothing, when its own Subset contradicts it).
    if (cSubset && !includesPairs(cSubset, folded(cEquals))) return true;
    return contextSatisfies(parent, cEquals);
  }
  // The child admits every context containing cSubset: only a parent Subset contained in it admits all of them.
  if (pEquals) return false;
  return includesPairs(pSubset ?? {}, folded(cSubset ?? {}));
}

export interface GrantRequest {
  readonly identity: Identity;
  /** `kms:Decrypt` etc. */
  readonly action: string;
  readonly encryptionContext?: Readonly<Record<string, string>>;
  readonly childGrant?: ChildGrant;
}

export function traceGrant(g: GrantRecord, req: GrantRequest): GrantTrace {
  if (!principalNamed([g.granteePrincipal], req.identity)) return { grantId: g.grantId, applies: false, mismatch: 'grantee' };
  const op = req.action.replace(/^kms:/i, '');
  if (!g.operations.includes(op)) return { grantId: g.grantId, applies: false, mismatch: 'operation' };
  if (ENCRYPTION_CONTEXT_OPERATIONS.has(op) && !contextSatisfies(g.constraints, req.encryptionContext)) {
    return { grantId: g.grantId, applies: false, mismatch: 'constraints' };
  }
  if (op === 'CreateGrant' && req.childGrant) {
    const child = req.childGrant;
    if (!child.operations.every((o) => g.operations.includes(o)) || !atLeastAsStrict(child.constraints, g.constraints)) {
      return { grantId: g.grantId, applies: false, mismatch: 'delegation' };
    }
  }
  return { grantId: g.grantId, applies: true };
}
