// Resource quotas (KMS Developer Guide, "Resource quotas"): AWS's defaults, configurable as AWS's
// are adjustable. Creating a resource past its quota is LimitExceededException. Tags per key (50)
// are in operations/lib/tags.ts; on-demand rotations (25) in operations/lib/rotation.ts.
import { kmsError } from './errors.ts';

export interface Limits {
  /** Customer managed keys per account and region, whatever their state (AWS: 100,000). */
  readonly keysPerAccount: number;
  /** Aliases per KMS key (AWS: 50). */
  readonly aliasesPerKey: number;
  /** Grants per KMS key (AWS: 50,000). */
  readonly grantsPerKey: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({ keysPerAccount: 100_000, aliasesPerKey: 50, grantsPerKey: 50_000 });

/** The limits with `overrides` applied; ValidationException for an unknown name or a value that is not a whole number ≥ 1. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  if (overrides === null || typeof overrides !== 'object') throw kmsError('ValidationException', `limits must be an object, got ${String(overrides)}`);
  for (const [name, v] of Object.entries(overrides)) {
    if (!Object.hasOwn(DEFAULT_LIMITS, name)) throw kmsError('ValidationException', `limits: unknown limit '${name}' (${Object.keys(DEFAULT_LIMITS).join(', ')})`);
    if (!Number.isSafeInteger(v) || (v as number) < 1) throw kmsError('ValidationException', `limits.${name} must be a whole number of at least 1, got ${String(v)}`);
  }
  return Object.freeze({ ...DEFAULT_LIMITS, ...overrides });
}
