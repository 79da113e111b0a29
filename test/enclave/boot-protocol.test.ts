// The boot stream's framing (enclave/boot-protocol.ts): image frames, each a u32 big-endian length
// and that many bytes, then the end of the stream. ImageFrames is the bootstrap's reader of what the
// host sends, so it is tested as a parser of untrusted bytes: any split into chunks reads the same
// images, a length is refused from its header alone, and every way the stream can be wrong has its
// own code.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRAMED_BOOT_MARKER, ImageFrames, MAX_BOOT_IMAGES, imageFrameHeader } from '../../enclave/boot-protocol.ts';
import { bundledBootstrap } from '../../enclave/build.ts';
import { loadImage, buildImage } from '../../enclave/index.ts';
import { planLaunch } from '../../host/isolation.ts';
import { join } from 'node:path';

const frame = (image: Uint8Array): Buffer => Buffer.concat([imageFrameHeader(image), image]);

/** Feeds `stream` split at `cuts` (positions in it) and returns the images read, or the error's code. */
function read(stream: Buffer, cuts: number[], max = 1 << 20): { images: Buffer[] } | { code: string } {
  const images: Buffer[] = [];
  const frames = new ImageFrames(max, (image) => images.push(Buffer.from(image)));
  const at = [0, ...[...new Set(cuts)].sort((a, b) => a - b), stream.length];
  try {
    for (let i = 1; i < at.length; i++) frames.push(stream.subarray(at[i - 1], at[i]));
    frames.end();
  } catch (e) {
    return { code: (e as { code: string }).code };
  }
  return { images };
}

describe('boot stream framing', () => {
  it('any split into chunks (empty ones included) reads the same one or two images', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: MAX_BOOT_IMAGES }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (images, rawCuts) => {
          const stream = Buffer.concat(images.map(frame));
          const cuts = rawCuts.map((c) => c % (stream.length + 1));
          expect(read(stream, cuts)).toEqual({ images: images.map((i) => Buffer.from(i)) });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a length over the maximum is refused from its header, before any of its bytes arrive (ERR_IMAGE_TOO_LARGE)', () => {
    const frames = new ImageFrames(1000, () => undefined);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1001);
    expect(() => frames.push(header)).toThrow(expect.objectContaining({ code: 'ERR_IMAGE_TOO_LARGE' }));
    // Exactly the maximum is accepted.
    expect(read(frame(new Uint8Array(1000)), [], 1000)).toEqual({ images: [Buffer.alloc(1000)] });
    // The largest length a header can say, against the format's own maximum.
    expect(read(Buffer.from([0xff, 0xff, 0xff, 0xff]), [])).toEqual({ code: 'ERR_IMAGE_TOO_LARGE' });
  });

  it('after an error the rest of the stream is ignored, and the end raises nothing more', () => {
    let seen = 0;
    const frames = new ImageFrames(10, () => (seen += 1));
    expect(() => frames.push(Buffer.from([0, 0, 0, 11]))).toThrow(expect.objectContaining({ code: 'ERR_IMAGE_TOO_LARGE' }));
    expect(() => frames.push(frame(new Uint8Array(3)))).not.toThrow();
    expect(() => frames.end()).not.toThrow();
    expect(seen).toBe(0);
  });

  it(`more than ${MAX_BOOT_IMAGES} images is ERR_BOOT_TOO_MANY_IMAGES, refused at the extra frame's header`, () => {
    const two = Buffer.concat([frame(Buffer.from('a')), frame(Buffer.from('b'))]);
    expect(read(Buffer.concat([two, Buffer.from([0, 0, 0, 1])]), [])).toEqual({ code: 'ERR_BOOT_TOO_MANY_IMAGES' });
    expect(read(two, [])).toEqual({ images: [Buffer.from('a'), Buffer.from('b')] });
  });

  it('a stream that ends inside a header or inside an image is ERR_BOOT_TRUNCATED, at every cut', () => {
    const stream = frame(Buffer.from('image bytes'));
    for (let cut = 1; cut < stream.length; cut++) {
      expect(read(stream.subarray(0, cut), [])).toEqual({ code: 'ERR_BOOT_TRUNCATED' });
    }
  });

  it('a stream that ends before any image is ERR_BOOT_NO_IMAGE', () => {
    expect(read(Buffer.alloc(0), [])).toEqual({ code: 'ERR_BOOT_NO_IMAGE' });
  });

  it("an error of onImage (the image's own check) stops the reader at that frame", () => {
    const seen: string[] = [];
    const frames = new ImageFrames(100, (image) => {
      seen.push(image.toString());
      throw Object.assign(new Error('bad image'), { code: 'ERR_IMAGE_BAD_MAGIC' });
    });
    expect(() => frames.push(Buffer.concat([frame(Buffer.from('x')), frame(Buffer.from('y'))]))).toThrow(expect.objectContaining({ code: 'ERR_IMAGE_BAD_MAGIC' }));
    expect(seen).toEqual(['x']);
  });

  it('random bytes never throw anything but the typed errors, and never hand over more than two images', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, rawCuts) => {
        const stream = Buffer.from(bytes);
        const got = read(stream, rawCuts.map((c) => c % (stream.length + 1)), 32);
        if ('code' in got) expect(['ERR_IMAGE_TOO_LARGE', 'ERR_BOOT_TRUNCATED', 'ERR_BOOT_NO_IMAGE', 'ERR_BOOT_TOO_MANY_IMAGES']).toContain(got.code);
        else {
          expect(got.images.length).toBeGreaterThan(0);
          expect(got.images.length).toBeLessThanOrEqual(MAX_BOOT_IMAGES);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('the bundled bootstrap carries the marker the host reads to send it frames; a bootstrap without it is planned for the raw image', async () => {
    const bootstrap = Buffer.from(await bundledBootstrap()).toString('utf8');
    expect(bootstrap).toContain(FRAMED_BOOT_MARKER);
    const { image } = await buildImage({ entry: join(import.meta.dirname, '..', '..', 'examples', 'echo-server', 'main.ts') });
    const runtime = loadImage(image).runtime;
    const plan = (text: string) => planLaunch({ runtime, memoryMiB: 256, cpuIds: [0], debug: false, allowWeakerIsolation: true, bootstrap: text });
    expect(plan(bootstrap).framedBoot).toBe(true);
    // An earlier bootstrap: the same code without the frame reader's codes.
    expect(plan(bootstrap.replaceAll(FRAMED_BOOT_MARKER, 'ERR_OTHER')).framedBoot).toBe(false);
  });
});
