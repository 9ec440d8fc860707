/**
 * Image pre-processing for YOLO models, matching Ultralytics' predictor:
 * EXIF auto-orient, RGB, letterbox (auto=False, centred, pad value 114), /255,
 * NCHW float32. Images are validated from their header before any pixel is decoded.
 */
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { UnprocessableImageError, UnsupportedMediaError } from '../shared/errors.js';
import { computeLetterbox, type ImageSize, type Letterbox } from './image-letterbox.js';

export { computeLetterbox, type ImageSize, type Letterbox } from './image-letterbox.js';

/** Default refusal limit: 40 megapixels (a 4000×3000 phone photo is 12 MP). */
export const DEFAULT_MAX_PIXELS = 40_000_000;

const PAD_VALUE = 114;

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
  oriented: ImageSize;
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
  return { format: metadata.format, oriented: { width, height } };
}

/**
 * Decodes, orients and letterboxes an image into the model's input tensor.
 * The resize runs inside sharp's pipeline, so large JPEGs are shrunk while decoding (DCT scaling).
 */
export async function preprocessImage(image: Buffer, options: PreprocessOptions): Promise<PreprocessedImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const header = await readImageHeader(image, maxPixels);
  const [inputHeight, inputWidth] = options.imgsz;
  const letterbox = computeLetterbox(header.oriented, options.imgsz);

  let pixels: Buffer;
  let info: OutputInfo;
  try {
    ({ data: pixels, info } = await sharp(image, {
      autoOrient: true,
      limitInputPixels: maxPixels,
      failOn: 'warning',
      sequentialRead: true,
    })
      .toColourspace('srgb')
      .resize(letterbox.resizedWidth, letterbox.resizedHeight, { fit: 'fill', kernel: 'linear' })
      .extend({
        top: letterbox.padTop,
        bottom: letterbox.padBottom,
        left: letterbox.padLeft,
        right: letterbox.padRight,
        background: { r: PAD_VALUE, g: PAD_VALUE, b: PAD_VALUE, alpha: 1 },
      })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true }));
  } catch (error) {
    throw new UnprocessableImageError('image.corrupt', 'The image could not be decoded (corrupt or truncated)', {
      reason: error instanceof Error ? error.message : String(error),
    });
  }
  if (info.width !== inputWidth || info.height !== inputHeight || info.channels !== 3) {
    throw new Error(
      `Letterbox produced ${info.width}×${info.height}×${info.channels}, expected ${inputWidth}×${inputHeight}×3`,
    );
  }
  return {
    tensor: hwcToChwFloat(pixels, inputWidth * inputHeight),
    imgsz: options.imgsz,
    original: header.oriented,
    letterbox,
    format: header.format,
  };
}

/** HWC uint8 RGB → CHW float32 scaled to [0, 1]. */
function hwcToChwFloat(pixels: Uint8Array, planeSize: number): Float32Array {
  const tensor = new Float32Array(planeSize * 3);
  const scale = 1 / 255;
  for (let i = 0, p = 0; i < planeSize; i++, p += 3) {
    tensor[i] = pixels[p]! * scale;
    tensor[planeSize + i] = pixels[p + 1]! * scale;
    tensor[2 * planeSize + i] = pixels[p + 2]! * scale;
  }
  return tensor;
}
