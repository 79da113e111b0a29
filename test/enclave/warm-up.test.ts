// The warm-up a pooled enclave process runs while it waits for its image (enclave/warm-up.ts). Its
// stand-in image must be one the image reader accepts: warmUp's errors are ignored by the
// bootstrap, so an invalid sample would silently stop warming the reader instead of failing.
import { describe, expect, test } from 'vitest';
import { readImage } from '../../enclave/image/read.ts';
import { sampleImage, warmUp } from '../../enclave/warm-up.ts';

describe('warm-up', () => {
  test('the stand-in image is one readImage accepts, with a runtime, a manifest and its file list', () => {
    const parsed = readImage(sampleImage('v26.10.0'));
    expect(parsed.runtime.node).toBe('v26.10.0');
    expect(parsed.manifest.name).toBe('warm-up');
    expect(parsed.manifest.files.bootstrap).toHaveLength(16);
    expect(parsed.layout.checksumOk).toBe(true);
  });

  test('a stand-in for an invalid Node version is refused by the same reader (the check is live)', () => {
    expect(() => readImage(sampleImage('26'))).toThrow(expect.objectContaining({ code: 'ERR_IMAGE_MALFORMED' }));
  });

  test('warmUp runs the whole path and resolves', async () => {
    await expect(warmUp()).resolves.toBeUndefined();
  });
});
