/**
 * What batches and jobs have in common: the photos of an upload (a ZIP archive or
 * several files), one at a time, with what was skipped and why; and the summary of
 * their results.
 */
import crypto from 'node:crypto';
import { imageType } from '../media/image-type.js';
import { MAX_NAME_LENGTH, notAZip, readZipImages, scanZip, ZipError, type SkippedZipEntry, type ZipLimits } from '../media/zip-reader.js';
import { AppError } from '../shared/errors.js';
import type { SkippedEntry } from '../db/schema/index.js';

/** An uploaded file as the spooling reader hands it over. */
export interface UploadedImageFile {
  filename: string;
  sha256: string;
  size: number;
  read(): Promise<Buffer>;
}

export type UploadSource =
  | { kind: 'zip'; filename: string; sha256: string; size: number; /** Spooled archive; null when empty. */ path: string | null }
  | { kind: 'images'; files: UploadedImageFile[] };

export interface SourceImage {
  index: number;
  name: string;
  data: Buffer;
  ext: string;
}

/** sha256 identifying the upload: the archive's, or one over the images' names and hashes. */
export function sourceSha256(source: UploadSource): string {
  if (source.kind === 'zip') return source.sha256;
  const hash = crypto.createHash('sha256');
  for (const f of source.files) hash.update(`${f.filename}\0${f.sha256}\n`);
  return hash.digest('hex');
}

/**
 * An unreadable archive is answered in the words the original backend used for its name:
 * "must be a ZIP archive" when it is not called `.zip`, "a broken ZIP archive" when it is.
 */
async function readingZip<T>(source: Extract<UploadSource, { kind: 'zip' }>, read: (path: string) => Promise<T>): Promise<T> {
  if (!source.path) throw notAZip(source.filename, 'the file is empty');
  try {
    return await read(source.path);
  } catch (err) {
    if (err instanceof ZipError && err.code === 'zip.corrupt') throw notAZip(source.filename, String(err.extra.reason ?? err.message));
    throw err;
  }
}

/** The original backend's detail for an archive without photos (backend/src/api/predict.py). */
export const NO_IMAGES_IN_ZIP_DETAIL = 'В ZIP-архиве не найдено изображений';

/**
 * 400 `batch.no_images`: nothing in the upload is a photo that can be recognised (as the
 * original, a 400); `skipped` says why each entry was left out.
 */
export function noImagesError(source: UploadSource, skipped: SkippedEntry[]): AppError {
  const detail =
    source.kind === 'zip' ? NO_IMAGES_IN_ZIP_DETAIL : 'The upload contains no images that can be processed; see `skipped` for the reasons';
  return new AppError(400, 'batch.no_images', detail, { skipped });
}

/** How many images the upload may hold, before anything is inflated or decoded. */
export async function countCandidates(source: UploadSource, limits: ZipLimits): Promise<number> {
  if (source.kind === 'images') return source.files.length;
  return readingZip(source, async (path) => (await scanZip(path, limits)).candidates);
}

/** Every image of the upload in order, one in memory at a time; returns the skipped entries. */
export async function forEachImage(
  source: UploadSource,
  limits: ZipLimits,
  onImage: (image: SourceImage) => Promise<void>,
): Promise<{ skipped: SkippedEntry[] }> {
  if (source.kind === 'zip') {
    const { skipped } = await readingZip(source, (path) => readZipImages(path, limits, onImage));
    return { skipped: skipped.map((s: SkippedZipEntry) => ({ ...s })) };
  }
  const skipped: SkippedEntry[] = [];
  const used = new Set<string>();
  for (const [index, file] of source.files.entries()) {
    // Names label results, one result per name: two uploads called photo.jpg become
    // photo.jpg and photo.jpg (2), and a third called photo.jpg (2) becomes photo.jpg (2) (2).
    const label = uploadLabel(file.filename);
    let name = label;
    for (let n = 2; used.has(name); n++) name = `${label} (${n})`;
    used.add(name);
    const data = await file.read();
    const type = imageType(data);
    if (type.ext === 'bin') {
      skipped.push({ entry_name: name, reason: 'not_an_image', detail: 'the bytes are not a JPEG, PNG, WebP, TIFF, GIF, AVIF or HEIC image' });
      continue;
    }
    await onImage({ index, name, data, ext: type.ext });
  }
  return { skipped };
}

/**
 * An uploaded file's name as a label (unlike a ZIP entry, an odd name is cleaned, not skipped): control characters
 * become `?` (NUL too, which PostgreSQL refuses in text and jsonb), at most
 * MAX_NAME_LENGTH characters (never half a character), `unnamed` when empty.
 */
export function uploadLabel(filename: string): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = Array.from(filename.replace(/[\u0000-\u001f\u007f]/g, '?')).slice(0, MAX_NAME_LENGTH).join('');
  return cleaned.length > 0 ? cleaned : 'unnamed';
}

/** The part of a prediction the summary reads. */
export interface SummarisedPrediction {
  comparison: { status: string; missing: Array<{ class_key: string; count: number }> };
}

export interface BatchSummary {
  /** Images recognised or attempted (skipped entries excluded). */
  images: number;
  /** Images with a result. */
  processed: number;
  /** Images that could not be recognised (each has its problem). */
  failed: number;
  /** Entries left out (not images, unsafe names, limits…). */
  skipped: number;
  /** Results whose kit is complete (status success). */
  kits_complete: number;
  /** Missing tools over all results, by tool class. */
  tools_missing: Record<string, number>;
}

export function summarise(
  results: Array<{ prediction: SummarisedPrediction | null; error: unknown }>,
  options: { images: number; skipped: number },
): BatchSummary {
  const toolsMissing: Record<string, number> = {};
  let processed = 0;
  let failed = 0;
  let complete = 0;
  for (const r of results) {
    if (r.prediction) {
      processed++;
      if (r.prediction.comparison.status === 'success') complete++;
      for (const m of r.prediction.comparison.missing) toolsMissing[m.class_key] = (toolsMissing[m.class_key] ?? 0) + m.count;
    } else if (r.error) {
      failed++;
    }
  }
  return { images: options.images, processed, failed, skipped: options.skipped, kits_complete: complete, tools_missing: toolsMissing };
}
