// Reads an image's layout and its two JSON descriptors, checking both are canonical and match their
// schema. Deliberately free of crypto and CBOR (no attestation import): the bootstrap bundles this
// file, and keeping it small keeps PCR1 independent of unrelated library code.
import { CanonicalJsonError, parseCanonicalJson, type JsonValue } from '../canonical-json.ts';
import { ImageMalformedError } from '../errors.ts';
import { readManifest, type Manifest } from '../manifest.ts';
import { readRuntimeDescriptor, type RuntimeDescriptor } from '../runtime.ts';
import { parseLayout, type ImageLayout } from './format.ts';

/**
 * Budgets of the JSON sections, checked before they are parsed: the runtime description is a few
 * hundred bytes; the manifest holds up to 64 KiB of metadata and the file list.
 */
export const MAX_RUNTIME_SECTION = 64 * 1024;
export const MAX_MANIFEST_SECTION = 8 * 1024 * 1024;

export interface ParsedImage {
  readonly layout: ImageLayout;
  readonly runtime: RuntimeDescriptor;
  readonly manifest: Manifest;
}

function json(data: Uint8Array, what: string, max: number): JsonValue {
  if (data.length > max) throw new ImageMalformedError(`${what} section: ${data.length} bytes, more than the ${max}-byte limit`);
  try {
    return parseCanonicalJson(data);
  } catch (cause) {
    if (cause instanceof CanonicalJsonError) throw new ImageMalformedError(`${what} section: ${cause.message}`, { cause });
    throw cause;
  }
}

export function readImage(bytes: Uint8Array, opts: { enforceChecksum?: boolean } = {}): ParsedImage {
  const layout = parseLayout(bytes, opts);
  return {
    layout,
    runtime: readRuntimeDescriptor(json(layout.runtime.data, 'runtime', MAX_RUNTIME_SECTION)),
    manifest: readManifest(json(layout.manifest.data, 'manifest', MAX_MANIFEST_SECTION)),
  };
}
