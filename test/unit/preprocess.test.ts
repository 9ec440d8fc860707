import fs from 'node:fs';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { computeLetterbox, pythonRound } from '../../src/media/image-letterbox.js';
import { preprocessImage, readImageHeader } from '../../src/media/preprocess.js';
import { UnprocessableImageError, UnsupportedMediaError } from '../../src/shared/errors.js';

describe('pythonRound', () => {
  it('rounds half to even like Python 3', () => {
    expect([0.5, 1.5, 2.5, 3.5, 72.4, 72.6, 177.5, -0.5].map(pythonRound)).toEqual([0, 2, 2, 4, 72, 73, 178, 0]);
  });
});

describe('computeLetterbox (Ultralytics LetterBox, auto=False)', () => {
  it('splits an odd padding round(d-0.1) / round(d+0.1)', () => {
    // r = min(320/350, 320/640) = 0.5 → 320×175; dh = 72.5 → top 72, bottom 73.
    expect(computeLetterbox({ width: 640, height: 350 }, [320, 320])).toEqual({
      ratio: 0.5,
      resizedWidth: 320,
      resizedHeight: 175,
      padLeft: 0,
      padRight: 0,
      padTop: 72,
      padBottom: 73,
    });
  });

  it('handles common photo sizes into 640', () => {
    expect(computeLetterbox({ width: 4000, height: 3000 }, [640, 640])).toMatchObject({
      resizedWidth: 640,
      resizedHeight: 480,
      padTop: 80,
      padBottom: 80,
    });
    expect(computeLetterbox({ width: 1080, height: 1920 }, [640, 640])).toMatchObject({
      resizedWidth: 360,
      resizedHeight: 640,
      padLeft: 140,
      padRight: 140,
    });
  });

  it('rounds the resized size half to even and supports rectangular inputs', () => {
    // 5 × 0.5 = 2.5 → 2 (JavaScript's Math.round would give 3); dw = 4.
    expect(computeLetterbox({ width: 5, height: 20 }, [10, 10])).toMatchObject({ resizedWidth: 2, padLeft: 4, padRight: 4 });
    // imgsz [h=256, w=320]: r = min(256/350, 320/640) = 0.5; dh = 40.5 → 40 / 41.
    expect(computeLetterbox({ width: 640, height: 350 }, [256, 320])).toMatchObject({
      ratio: 0.5,
      resizedWidth: 320,
      resizedHeight: 175,
      padTop: 40,
      padBottom: 41,
    });
  });
});

/** Left half red, right half blue: orientation mistakes are visible. */
async function twoColourImage(width: number, height: number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      if (x < width / 2) pixels[i] = 200;
      else pixels[i + 2] = 200;
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

function pixel(tensor: Float32Array, size: number, x: number, y: number): number[] {
  const plane = size * size;
  return [0, 1, 2].map((c) => Math.round(tensor[c * plane + y * size + x]! * 255));
}

describe('preprocessImage', () => {
  it('produces an RGB NCHW tensor /255 with 114 padding at the letterbox offsets', async () => {
    const image = await sharp({ create: { width: 640, height: 350, channels: 3, background: { r: 10, g: 20, b: 30 } } })
      .png()
      .toBuffer();
    const result = await preprocessImage(image, { imgsz: [320, 320] });
    expect(result.tensor).toHaveLength(3 * 320 * 320);
    expect(result.original).toEqual({ width: 640, height: 350 });
    expect(result.letterbox).toMatchObject({ padTop: 72, padBottom: 73 });
    expect(pixel(result.tensor, 320, 0, 71)).toEqual([114, 114, 114]);
    expect(pixel(result.tensor, 320, 0, 72)).toEqual([10, 20, 30]);
    expect(pixel(result.tensor, 320, 319, 246)).toEqual([10, 20, 30]);
    expect(pixel(result.tensor, 320, 319, 247)).toEqual([114, 114, 114]);
    expect(result.tensor[0]).toBeCloseTo(114 / 255, 6);
  });

  it('drops the alpha channel', async () => {
    const image = await sharp({ create: { width: 64, height: 64, channels: 4, background: { r: 1, g: 2, b: 3, alpha: 1 } } })
      .png()
      .toBuffer();
    const result = await preprocessImage(image, { imgsz: [64, 64] });
    expect(pixel(result.tensor, 64, 10, 10)).toEqual([1, 2, 3]);
  });

  it('letterboxes horizontally too: pad columns left and right of the image', async () => {
    const image = await sharp({ create: { width: 100, height: 200, channels: 3, background: { r: 50, g: 60, b: 70 } } })
      .jpeg({ quality: 100 })
      .toBuffer();
    const result = await preprocessImage(image, { imgsz: [64, 64] });
    expect(result.letterbox).toMatchObject({ resizedWidth: 32, resizedHeight: 64, padLeft: 16, padRight: 16 });
    expect(pixel(result.tensor, 64, 15, 30)).toEqual([114, 114, 114]);
    expect(pixel(result.tensor, 64, 48, 30)).toEqual([114, 114, 114]);
    const inside = pixel(result.tensor, 64, 30, 30);
    inside.forEach((v, c) => expect(Math.abs(v - [50, 60, 70][c]!)).toBeLessThanOrEqual(2));
  });

  it('gives three channels for greyscale, 16-bit and CMYK images', async () => {
    const grey = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 90, g: 90, b: 90 } } })
      .toColourspace('b-w')
      .jpeg({ quality: 100 })
      .toBuffer();
    const rgb16 = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 200, g: 100, b: 0 } } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    const cmyk = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 0, g: 0, b: 255 } } })
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toBuffer();
    expect((await sharp(grey).metadata()).channels).toBe(1);
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const [g, r16, c] = await Promise.all([grey, rgb16, cmyk].map((image) => preprocessImage(image, { imgsz: [32, 32] })));
    expect(pixel(g!.tensor, 32, 5, 5)).toEqual([90, 90, 90]);
    expect(pixel(r16!.tensor, 32, 5, 5)).toEqual([200, 100, 0]);
    const blue = pixel(c!.tensor, 32, 5, 5);
    // Blue survives the round trip through CMYK (colour-managed, so not exactly 0/0/255).
    expect(blue[2]! - blue[0]!, String(blue)).toBeGreaterThan(60);
    expect(blue[2]! - blue[1]!, String(blue)).toBeGreaterThan(60);
  });

  it('reads the stored samples of an RGB photo with an embedded profile, as OpenCV does (no colour management)', async () => {
    // A phone photo tagged Display P3: the samples are P3-encoded. Ultralytics reads them with
    // cv2.imread, which ignores the profile, so the tensor must hold the samples as stored.
    const p3 = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 186, g: 71, b: 50 } } })
      .withIccProfile('p3')
      .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
      .toBuffer();
    expect((await sharp(p3).metadata()).icc).toBeDefined();
    const { data: stored } = await sharp(p3, { ignoreIcc: true }).raw().toBuffer({ resolveWithObject: true });
    const { data: managed } = await sharp(p3).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    // The two readings differ, so the test tells them apart.
    expect(Math.max(...[0, 1, 2].map((c) => Math.abs(stored[c]! - managed[c]!)))).toBeGreaterThan(5);

    const result = await preprocessImage(p3, { imgsz: [32, 32] });
    expect(pixel(result.tensor, 32, 16, 16)).toEqual([stored[0], stored[1], stored[2]]);
  });

  it('applies EXIF orientation 6: sizes and pixels refer to the upright image', async () => {
    const upright = await twoColourImage(640, 350);
    // Pixels stored rotated 90° counter-clockwise; orientation 6 tells viewers to rotate them back.
    const stored = await sharp(upright).rotate(270).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    expect(await sharp(stored).metadata()).toMatchObject({ width: 350, height: 640, orientation: 6 });

    const result = await preprocessImage(stored, { imgsz: [320, 320] });
    expect(result.original).toEqual({ width: 640, height: 350 });
    const [leftR, , leftB] = pixel(result.tensor, 320, 40, 160);
    const [rightR, , rightB] = pixel(result.tensor, 320, 280, 160);
    expect(leftR).toBeGreaterThan(150);
    expect(leftB).toBeLessThan(50);
    expect(rightB).toBeGreaterThan(150);
    expect(rightR).toBeLessThan(50);
  });

  it('refuses a PDF with 415', async () => {
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
    await expect(preprocessImage(pdf, { imgsz: [320, 320] })).rejects.toBeInstanceOf(UnsupportedMediaError);
    await expect(preprocessImage(pdf, { imgsz: [320, 320] })).rejects.toMatchObject({ status: 415 });
  });

  it('refuses an HEIC photo (HEVC, which this build of libvips cannot decode) with 415 and what to send instead, not 422 corrupt', async () => {
    const heic = fs.readFileSync(new URL('../fixtures/images/iphone-hevc.heic', import.meta.url));
    const error = await preprocessImage(heic, { imgsz: [320, 320] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedMediaError);
    expect(error).toMatchObject({ status: 415, code: 'image.unsupported_type', message: expect.stringMatching(/HEVC.*send JPEG/) });
  });

  it('refuses an SVG with 415', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    await expect(preprocessImage(svg, { imgsz: [320, 320] })).rejects.toMatchObject({ status: 415 });
  });

  it('refuses an empty upload with 415 and a JPEG with a corrupt header with 422', async () => {
    await expect(preprocessImage(Buffer.alloc(0), { imgsz: [320, 320] })).rejects.toMatchObject({ status: 415 });
    const headerOnly = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46]);
    await expect(preprocessImage(headerOnly, { imgsz: [320, 320] })).rejects.toMatchObject({
      status: 422,
      code: 'image.corrupt',
    });
  });

  it('decodes a JPEG with stray bytes before a marker (a decoder warning, the picture whole) as the intact file', async () => {
    const jpeg = await sharp(await twoColourImage(400, 300)).jpeg().toBuffer();
    const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
    const stray = Buffer.concat([jpeg.subarray(0, sos), Buffer.from([0x00, 0x00]), jpeg.subarray(sos)]);
    await expect(sharp(stray, { failOn: 'warning' }).raw().toBuffer()).rejects.toThrow(/extraneous bytes/);
    const [intact, repaired] = await Promise.all([preprocessImage(jpeg, { imgsz: [320, 320] }), preprocessImage(stray, { imgsz: [320, 320] })]);
    expect(repaired.tensor).toEqual(intact.tensor);
  });

  it('refuses a truncated JPEG with 422', async () => {
    const jpeg = await sharp(await twoColourImage(400, 300)).jpeg().toBuffer();
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length / 2));
    const error = await preprocessImage(truncated, { imgsz: [320, 320] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnprocessableImageError);
    expect(error).toMatchObject({ status: 422, code: 'image.corrupt' });
  });

  it('refuses a huge-dimension PNG from its header alone with 422', async () => {
    // The file has a header and no pixel data: a decode would fail as image.corrupt.
    const png = pngHeaderOnly(50_000, 50_000);
    const error = await readImageHeader(png).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 422, code: 'image.too_many_pixels' });
    await expect(preprocessImage(png, { imgsz: [320, 320] })).rejects.toMatchObject({ code: 'image.too_many_pixels' });
  });

  it('refuses from its header an image within the pixel limit whose samples would decode to more than 3 bytes a pixel allows', async () => {
    // 8000×5000 = the 40 MP limit; 16-bit RGBA (colour type 6), interlaced: 320 MB to decode.
    const deep = pngHeaderOnly(8000, 5000, { bitDepth: 16, colourType: 6, interlaced: true });
    const error = await readImageHeader(deep).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnprocessableImageError);
    expect(error).toMatchObject({ status: 422, code: 'image.decode_too_large', message: expect.stringContaining('320 MB') });
    // The same size at 8-bit RGB passes the header check (and then fails to decode: no pixel data).
    await expect(readImageHeader(pngHeaderOnly(8000, 5000))).resolves.toMatchObject({ oriented: { width: 8000, height: 5000 } });
    // 16-bit RGBA within the budget: 3000×2000 is 48 MB.
    await expect(readImageHeader(pngHeaderOnly(3000, 2000, { bitDepth: 16, colourType: 6 }))).resolves.toMatchObject({ format: 'png' });
  });

  it('counts a progressive JPEG by the coefficients it holds while decoding, a baseline one by its pixels', async () => {
    const plain = sharp({ create: { width: 400, height: 300, channels: 3, background: '#808080' } });
    const progressive = await plain.clone().jpeg({ progressive: true }).toBuffer();
    const baseline = await plain.clone().jpeg().toBuffer();
    // 120,000 pixels. A limit of 120,000 pixels allows 360,000 bytes: the baseline file's pixels fit, the
    // progressive file's 720,000 bytes of coefficients do not (they do under a limit of 240,000 pixels).
    await expect(readImageHeader(progressive, 120_000)).rejects.toMatchObject({ code: 'image.decode_too_large', message: expect.stringContaining('progressive') });
    await expect(readImageHeader(baseline, 120_000)).resolves.toMatchObject({ format: 'jpeg' });
    await expect(readImageHeader(progressive, 240_000)).resolves.toMatchObject({ format: 'jpeg' });
  });

  it('honours a custom pixel limit', async () => {
    const image = await twoColourImage(100, 100);
    await expect(preprocessImage(image, { imgsz: [64, 64], maxPixels: 9_999 })).rejects.toMatchObject({ status: 422 });
    await expect(preprocessImage(image, { imgsz: [64, 64], maxPixels: 10_000 })).resolves.toBeDefined();
  });
});

/** A PNG whose IHDR claims width × height, followed by a tiny IDAT and IEND. */
/** A PNG with a header and no pixel data; default 8-bit RGB (colour type 2), not interlaced. */
function pngHeaderOnly(width: number, height: number, { bitDepth = 8, colourType = 2, interlaced = false } = {}): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([bitDepth, colourType, 0, 0, interlaced ? 1 : 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(16))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
