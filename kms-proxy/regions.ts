// The Regions one KMS answers for. Each request is for the Region of its SigV4 credential scope
// (AWS General Reference, "Signature Version 4": the scope is date/region/service), which is also
// the Region in the ARNs it names and gets back; keys, aliases and listings are per Region, as on
// AWS, and multi-Region keys (multi-region.ts) relate keys of several Regions of one server.
import { kmsError } from './errors.ts';

/** The KMS model's RegionType (`ReplicaRegion`, `PrimaryRegion`): `^([a-z]+-){2,3}\d+$`, 1–32 characters. */
export const REGION_PATTERN = '^([a-z]+-){2,3}\\d+$';
const REGION = new RegExp(REGION_PATTERN);

export const DEFAULT_REGION = 'us-east-1';

/** Whether `name` has the form of an AWS Region name (us-east-1, us-gov-west-1, ap-southeast-2). */
export function isRegionName(name: string): boolean {
  return name.length <= 32 && REGION.test(name);
}

/**
 * The served Regions from the options: `regions` (all of them) and `region` (the default one: of
 * unsigned requests, seeded keys and `kms explain`), each defaulting to the other, then us-east-1.
 * The default comes first. ValidationException for a name that is not a Region or a default that is
 * not served.
 */
export function servedRegions(region: string | undefined, regions: readonly string[] | undefined): { readonly region: string; readonly regions: readonly string[] } {
  const list = regions ?? [region ?? DEFAULT_REGION];
  if (list.length === 0) throw kmsError('ValidationException', 'regions must name at least one Region');
  for (const r of list) if (typeof r !== 'string' || !isRegionName(r)) throw kmsError('ValidationException', `not an AWS Region name: '${String(r)}' (like us-east-1)`);
  const first = region ?? list[0] ?? DEFAULT_REGION;
  if (!list.includes(first)) throw kmsError('ValidationException', `the default region ${first} is not one of the served regions (${list.join(', ')})`);
  return { region: first, regions: [first, ...new Set(list.filter((r) => r !== first))] };
}
