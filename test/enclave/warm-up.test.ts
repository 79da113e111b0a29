// The warm-up a pooled enclave process runs while it waits for its image (enclave/warm-up.ts). Its
// stand-in sections must be ones the image readers accept: warmUp's errors are ignored by the
// bootstrap, so an invalid sample would silently stop warming the parser instead of failing.
import { describe, expect, test } from 'vitest';
import { parseCanonicalJson } from '../../enclave/canonical-json.ts';
import { readManifest } from '../../enclave/manifest.ts';
import { readRuntimeDescriptor } from '../../enclave/runtime.ts';
import { sampleSections, warmUp } from '../../enclave/warm-up.ts';

describe('warm-up', () => {
  test('the sample sections are canonical JSON that readRuntimeDescriptor and readManifest accept, with a file list', () => {
    const { runtime, manifest } = sampleSections('v26.10.0');
    expect(readRuntimeDescriptor(parseCanonicalJson(runtime)).node).toBe('v26.10.0');
    const m = readManifest(parseCanonicalJson(manifest));
    expect(m.name).toBe('warm-up');
    expect(m.files.bootstrap).toHaveLength(16);
  });

  test('a sample for an invalid Node version is refused by the same reader (the check is live)', () => {
    expect(() => readRuntimeDescriptor(parseCanonicalJson(sampleSections('26').runtime))).toThrow(expect.objectContaining({ code: 'ERR_IMAGE_MALFORMED' }));
  });

  test('warmUp runs the whole path and resolves', async () => {
    await expect(warmUp()).resolves.toBeUndefined();
  });
});
