// The METADATA section of an EIF: JSON of `EifIdentityInfo` (aws-nitro-enclaves-image-format,
// src/defs/mod.rs): {ImageName, ImageVersion, BuildMetadata: {BuildTime, BuildTool,
// BuildToolVersion, OperatingSystem, KernelVersion}, DockerInfo, CustomMetadata}. nitro-cli prints
// it through `MetadataDescribeInfo` (src/common/json_output.rs): the five build fields, DockerInfo,
// then CustomMetadata's members flattened in (absent when it is null). Its serde_json has no
// `preserve_order`, so every JSON object inside is printed with its keys sorted by their bytes.
import { ImageMalformedError } from '../errors.ts';
import type { JsonValue } from '../canonical-json.ts';
import { RESERVED_METADATA_KEYS } from '../manifest.ts';

export interface EifIdentity {
  readonly imageName: string;
  readonly imageVersion: string;
  readonly build: { readonly BuildTime: string; readonly BuildTool: string; readonly BuildToolVersion: string; readonly OperatingSystem: string; readonly KernelVersion: string };
  readonly dockerInfo: JsonValue;
  readonly custom: JsonValue;
}

/** nitro-cli's MetadataDescribeInfo, as printed: fixed fields first, custom members after. */
export type MetadataDescription = {
  readonly BuildTime: string;
  readonly BuildTool: string;
  readonly BuildToolVersion: string;
  readonly OperatingSystem: string;
  readonly KernelVersion: string;
  readonly DockerInfo: JsonValue;
} & Readonly<Record<string, JsonValue>>;

const BUILD_FIELDS = ['BuildTime', 'BuildTool', 'BuildToolVersion', 'OperatingSystem', 'KernelVersion'] as const;
const IDENTITY_FIELDS = ['ImageName', 'ImageVersion', 'BuildMetadata', 'DockerInfo', 'CustomMetadata'];
/** Deeper JSON than this is refused: printing it back must not exhaust the stack. */
const MAX_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Depth of a parsed JSON value, iteratively (a recursive walk is what the bound protects). */
function depthWithin(x: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[x, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (d > max) return false;
    if (typeof v === 'object' && v !== null) for (const c of Object.values(v)) stack.push([c, d + 1]);
  }
  return true;
}

/** Parses and checks the METADATA section; every defect is ERR_IMAGE_MALFORMED. */
export function readEifMetadata(data: Uint8Array): EifIdentity {
  const fail = (m: string): never => {
    throw new ImageMalformedError(`EIF METADATA section: ${m}`);
  };
  let x: unknown;
  try {
    x = JSON.parse(utf8.decode(data));
  } catch (cause) {
    throw new ImageMalformedError('EIF METADATA section: not UTF-8 JSON', { cause });
  }
  if (!depthWithin(x, MAX_DEPTH)) fail(`nested deeper than ${MAX_DEPTH}`);
  if (!isRecord(x)) return fail('must be a JSON object');
  // serde would ignore an unknown field; refusing it keeps every byte of a described file accounted for.
  for (const k of Object.keys(x)) if (!IDENTITY_FIELDS.includes(k)) fail(`unknown field '${k}'`);
  for (const k of IDENTITY_FIELDS) if (!(k in x)) fail(`missing field '${k}'`);
  if (typeof x.ImageName !== 'string' || typeof x.ImageVersion !== 'string') fail('ImageName and ImageVersion must be strings');
  const b = x.BuildMetadata;
  if (!isRecord(b)) return fail('BuildMetadata must be an object');
  for (const k of Object.keys(b)) if (!(BUILD_FIELDS as readonly string[]).includes(k)) fail(`unknown field 'BuildMetadata.${k}'`);
  for (const k of BUILD_FIELDS) if (typeof b[k] !== 'string') fail(`BuildMetadata.${k} must be a string`);
  const custom = x.CustomMetadata as JsonValue;
  // nitro-cli flattens CustomMetadata into Metadata: serde can only flatten a map (or skip null).
  if (custom !== null && !isRecord(custom)) fail('CustomMetadata must be a JSON object or null');
  if (isRecord(custom)) for (const k of RESERVED_METADATA_KEYS) if (k in custom) fail(`CustomMetadata key '${k}' would collide with a MetadataDescribeInfo field`);
  return {
    imageName: x.ImageName as string,
    imageVersion: x.ImageVersion as string,
    build: Object.fromEntries(BUILD_FIELDS.map((k) => [k, b[k] as string])) as EifIdentity['build'],
    dockerInfo: x.DockerInfo as JsonValue,
    custom,
  };
}

/** serde_json's map order (BTreeMap<String, _>): keys by their UTF-8 bytes, at every depth. */
export function sortedByBytes(x: JsonValue): JsonValue {
  if (Array.isArray(x)) return x.map(sortedByBytes);
  if (typeof x === 'object' && x !== null) {
    const keys = Object.keys(x).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    return Object.fromEntries(keys.map((k) => [k, sortedByBytes((x as Record<string, JsonValue>)[k] as JsonValue)]));
  }
  return x;
}

/** MetadataDescribeInfo::new, as serde prints it. */
export function describeEifMetadata(id: EifIdentity): MetadataDescription {
  const custom = id.custom === null ? {} : (sortedByBytes(id.custom) as Record<string, JsonValue>);
  return { ...id.build, DockerInfo: sortedByBytes(id.dockerInfo), ...custom } as MetadataDescription;
}
