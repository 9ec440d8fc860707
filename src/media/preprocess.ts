/**
 * Image pre-processing for YOLO models, matching Ultralytics' predictor:
 * EXIF auto-orient, RGB samples as stored (no colour management, as cv2.imread), letterbox
 * (auto=False, centred, pad value 114), /255, NCHW float32. Images are validated from their header before any pixel is decoded.
 */
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { UnprocessableImageError, UnsupportedMediaError } from '../shared/errors.js';
import { computeLetterbox, type ImageSize, type Letterbox } from './image-letterbox.js';

export { computeLetterbox, type ImageSize, type Letterbox } from './image-letterbox.js';

/** Default refusal limit: 40 megapixels (a 4000×3000 phone photo is 12 MP). */
export const DEFAULT_MAX_PIXELS = 40_000_000;

const PAD_VALUE = 114;

/** Bytes of one sample of each libvips band format. */
const SAMPLE_BYTES: Partial<Record<string, number>> = { uchar: 1, char: 1, ushort: 2, short: 2, uint: 4, int: 4, float: 4, complex: 8, double: 8, dpcomplex: 16 };

/** What makes a decode fail, for every decode of a photo (here and in annotate.ts). */
export const DECODE_FAIL_ON = 'error' as const;

/** Formats we decode. SVG, PDF and other vector/document formats are refused on purpose. */
const ACCEPTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'tiff', 'gif', 'heif', 'avif']);

export interface PreprocessOptions {
  /** [height, width] of the model input. */
  imgsz: readonly [number, number];
  /** Refuse images with more pixels than this (from the header, before decoding). */
  maxPixels?: number;
}

export interface PreprocessedImage {
  /** RGB, CHW, values in [0, 1]; length 3 × imgsz[0] × imgsz[1]. */
  tensor: Float32Array;
  imgsz: readonly [number, number];
  /** Size after EXIF orientation: the coordinate space of returned boxes. */
  original: ImageSize;
  letterbox: Letterbox;
  /** Detected container format (sharp's name, e.g. 'jpeg'). */
  format: string;
}

interface ImageHeader {
  format: string;
  /** HEIF only: the codec inside ('hevc' for an iPhone's HEIC, 'av1' for AVIF). */
  compression?: string;
  oriented: ImageSize;
  /** What the decode must do beyond resizing (each step costs time on every photo). */
  needs: { orient: boolean; toSrgb: boolean; dropAlpha: boolean };
}

/** Reads only the header: format and oriented size. Throws 415 for non-images, 422 for bad headers. */
export async function readImageHeader(image: Buffer, maxPixels = DEFAULT_MAX_PIXELS): Promise<ImageHeader> {
  let metadata: Metadata;
  try {
    // Reading the header is safe at any size; the pixel limit is checked below with a clear error.
    metadata = await sharp(image, { limitInputPixels: false }).metadata();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (/unsupported image format|empty/i.test(reason)) {
      throw new UnsupportedMediaError('The upload is not a supported image (JPEG, PNG, WebP, TIFF, GIF, HEIF, AVIF)');
    }
    throw new UnprocessableImageError('image.corrupt', 'The image header could not be read', { reason });
  }
  if (!ACCEPTED_FORMATS.has(metadata.format)) {
    throw new UnsupportedMediaError(`Image format '${metadata.format}' is not accepted`);
  }
  const { width, height } = metadata.autoOrient ?? metadata;
  if (!(width > 0 && height > 0)) {
    throw new UnprocessableImageError('image.corrupt', 'The image header has no valid dimensions');
  }
  if (width * height > maxPixels) {
    throw new UnprocessableImageError(
      'image.too_many_pixels',
      `The image has ${width}×${height} pixels, more than the limit of ${maxPixels}`,
      { width, height, maxPixels },
    );
  }
  // Pixels alone do not bound the work: a 40 MP PNG of 16-bit RGBA samples decodes to 320 MB (an
  // interlaced one is held whole), and a progressive JPEG keeps the 16-bit DCT coefficients of
  // the whole image while it decodes, however small the file. Both are bounded by what the pixel
  // limit allows an 8-bit RGB photo.
  const progressiveJpeg = metadata.format === 'jpeg' && metadata.isProgressive === true;
  const bytesPerSample = progressiveJpeg ? 2 : (SAMPLE_BYTES[metadata.depth ?? 'uchar'] ?? 1);
  const decodedBytes = width * height * Math.max(3, metadata.channels ?? 3) * bytesPerSample;
  const maxDecodedBytes = maxPixels * 3;
  if (decodedBytes > maxDecodedBytes) {
    const mb = (bytes: number) => Math.ceil(bytes / 1_000_000);
    const what = progressiveJpeg
      ? `a progressive JPEG of ${width}×${height} pixels holds ${metadata.channels} channels of 16-bit coefficients`
      : `${width}×${height} pixels, ${metadata.channels} channels of ${bytesPerSample * 8} bits`;
    throw new UnprocessableImageError(
      'image.decode_too_large',
      `Decoding the image would take ${mb(decodedBytes)} MB (${what}), more than the limit of ${mb(maxDecodedBytes)} MB ` +
        '(the pixel limit at 3 bytes a pixel); send it smaller or as a baseline JPEG',
      { width, height, channels: metadata.channels, bitsPerSample: bytesPerSample * 8, progressive: progressiveJpeg, decodedBytes, maxDecodedBytes },
    );
  }
  return {
    format: metadata.format,
    ...(metadata.compression ? { compression: metadata.compression } : {}),
    oriented: { width, height },
    needs: {
      orient: (metadata.orientation ?? 1) > 1,
      toSrgb: metadata.space !== 'srgb' || metadata.channels < 3,
      dropAlpha: metadata.hasAlpha || metadata.channels > 3,
    },
  };
}

/**
 * Decodes, orients and letterboxes an image into the model's input tensor.
 * The resize runs inside sharp's pipeline, so large JPEGs are shrunk while decoding (DCT
 * scaling); the padding is written while the pixels are copied into the tensor, and
 * orientation, colourspace and alpha steps run only for the images that need them.
 */
export async function preprocessImage(image: Buffer, options: PreprocessOptions): Promise<PreprocessedImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const header = await readImageHeader(image, maxPixels);
  const [inputHeight, inputWidth] = options.imgsz;
  const letterbox = computeLetterbox(header.oriented, options.imgsz);

  let pixels: Buffer;
  let info: OutputInfo;
  try {
    let pipeline = sharp(image, {
      // RGB samples are read as stored, as OpenCV (and so Ultralytics, in training and predict)
      // reads them: an embedded profile (a phone's Display P3) is not applied. Other colour
      // spaces (CMYK, greyscale) still go through their profile to sRGB.
      ignoreIcc: !header.needs.toSrgb,
      autoOrient: header.needs.orient,
      limitInputPixels: maxPixels,
      // Truncated or broken data is refused; a decoder warning is not (a camera that writes a few
      // stray bytes before a marker gives a whole, correct picture, which OpenCV reads too).
      failOn: DECODE_FAIL_ON,
      sequentialRead: true,
    });
    if (header.needs.toSrgb) pipeline = pipeline.toColourspace('srgb');
    pipeline = pipeline.resize(letterbox.resizedWidth, letterbox.resizedHeight, { fit: 'fill', kernel: 'linear' });
    if (header.needs.dropAlpha) pipeline = pipeline.removeAlpha();
    ({ data: pixels, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (isMissingCodec(header, reason)) throw unsupportedCodec(header);
    throw new UnprocessableImageError('image.corrupt', 'The image could not be decoded (corrupt or truncated)', { reason });
  }
  if (info.width !== letterbox.resizedWidth || info.height !== letterbox.resizedHeight || info.channels !== 3) {
    throw new Error(
      `Resize produced ${info.width}×${info.height}×${info.channels}, expected ${letterbox.resizedWidth}×${letterbox.resizedHeight}×3`,
    );
  }
  return {
    tensor: letterboxedChw(pixels, letterbox, inputWidth, inputHeight),
    imgsz: options.imgsz,
    original: header.oriented,
    letterbox,
    format: header.format,
  };
}

/**
 * An image whose container is read but whose codec this build of libvips lacks: HEIC photos
 * (HEVC inside HEIF, an iPhone's default) with sharp's prebuilt libvips, which decodes AVIF
 * but has no HEVC decoder. That is not a corrupt photo, and the technician can change it.
 */
function isMissingCodec(header: ImageHeader, reason: string): boolean {
  return header.format === 'heif' && /not been built in|decoder plugin/i.test(reason);
}

/** 415 for a photo in a codec this server cannot decode, with what to send instead. */
function unsupportedCodec(header: Pick<ImageHeader, 'format' | 'compression'>): UnsupportedMediaError {
  const codec = header.compression?.toUpperCase() ?? header.format.toUpperCase();
  return new UnsupportedMediaError(
    `${codec}-compressed ${header.format.toUpperCase()} photos (HEIC) cannot be decoded by this server; send JPEG or PNG ` +
      '(on an iPhone: Settings → Camera → Formats → Most Compatible)',
  );
}

/**
 * HWC uint8 RGB of the resized image → the letterboxed CHW float32 tensor in [0, 1]:
 * the image at (padLeft, padTop), the pad value everywhere else.
 */
function letterboxedChw(pixels: Uint8Array, box: Letterbox, inputWidth: number, inputHeight: number): Float32Array {
  const plane = inputWidth * inputHeight;
  const tensor = new Float32Array(plane * 3).fill(PAD_VALUE / 255);
  const scale = 1 / 255;
  const { resizedWidth: w, resizedHeight: h, padLeft, padTop } = box;
  for (let y = 0, p = 0; y < h; y++) {
    let i = (y + padTop) * inputWidth + padLeft;
    for (let x = 0; x < w; x++, i++, p += 3) {
      tensor[i] = pixels[p]! * scale;
      tensor[plane + i] = pixels[p + 1]! * scale;
      tensor[2 * plane + i] = pixels[p + 2]! * scale;
    }
  }
  return tensor;
}
