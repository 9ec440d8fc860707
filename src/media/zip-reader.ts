/**
 * Reading photos out of an uploaded ZIP archive, safely. The archive is a file on
 * disk (spooled upload) read with yauzl: lazily, entry by entry, streaming, with the
 * sizes the archive declares checked against the bytes actually inflated. Nothing is
 * ever written to a path taken from the archive; entry names are only labels.
 *
 * Refused outright: a file that is not a readable ZIP (400, as the original FastAPI backend),
 * more entries than allowed (422).
 * Skipped and listed with a reason: directories, symlinks, absolute names, `..`
 * segments, nested archives, encrypted or oddly compressed entries, entries over the
 * size or compression-ratio limits (zip bombs), anything whose bytes are not an image.
 * The ratio is bounded for the archive as a whole too: entries are inflated only while
 * their declared sizes together stay within `maxRatio` × the archive's size (or a small
 * floor), so a thousand small bombs weigh no more than one.
 */
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { AppError } from '../shared/errors.js';
import { imageType } from './image-type.js';

export interface ZipLimits {
  /** More entries in the central directory → the whole archive is refused. */
  maxEntries: number;
  /** Uncompressed bytes of one entry. */
  maxEntryBytes: number;
  /** Uncompressed bytes of all accepted images together. */
  maxTotalBytes: number;
  /**
   * Uncompressed/compressed above this (for entries over 1 MiB) → treated as a zip bomb;
   * also what the archive's inflated entries may total, times its size.
   */
  maxRatio: number;
}

export type SkipReason =
  | 'directory'
  | 'symlink'
  | 'absolute_path'
  | 'path_traversal'
  | 'invalid_name'
  | 'duplicate_name'
  | 'nested_archive'
  | 'encrypted'
  | 'unsupported_compression'
  | 'too_large'
  | 'compression_ratio'
  | 'total_size_limit'
  | 'corrupt_entry'
  | 'not_an_image';

export interface SkippedZipEntry {
  entry_name: string;
  reason: SkipReason;
  detail: string;
}

export interface ZipImage {
  /** Position among the archive's entries (0-based). */
  index: number;
  /** The entry's name as the archive spells it: a label, never a path. */
  name: string;
  data: Buffer;
  /** Sniffed from the bytes: jpg, png, webp… */
  ext: string;
}

/** The archive as a whole is refused: not a ZIP we can read (400), too many entries (422). */
export class ZipError extends AppError {
  constructor(status: 400 | 422, code: string, message: string, extra: Record<string, unknown> = {}) {
    super(status, code, message, extra);
  }
}

/** The original backend's details (backend/src/api/predict.py, utils/unzip.py), kept word for word. */
export const NOT_A_ZIP_DETAIL = 'Файл должен быть ZIP-архивом';
export const CORRUPT_ZIP_DETAIL = 'Некорректный ZIP-архив';

/**
 * 400 `zip.corrupt`: the upload cannot be read as a ZIP. As the original, a file not named
 * `.zip` is told it must be a ZIP archive, one named so that it is a broken one; `reason`
 * is what the reader found.
 */
export function notAZip(filename: string | null, reason: string): ZipError {
  const named = filename !== null && /\.zip$/i.test(filename.trim());
  return new ZipError(400, 'zip.corrupt', named || filename === null ? CORRUPT_ZIP_DETAIL : NOT_A_ZIP_DETAIL, { reason });
}

/** Ratio checks apply from this size on: small files (text, tiny PNGs) compress well legitimately. */
const RATIO_MIN_BYTES = 1024 * 1024;
/**
 * What any archive may inflate to, whatever its ratio: small archives (a few PNGs or
 * screenshots) compress well legitimately. Photo archives barely compress (JPEGs are
 * compressed already), so larger ones stay far below maxRatio × their size.
 */
const ARCHIVE_FLOOR_BYTES = 16 * 1024 * 1024;
/** Longest entry name (in characters); longer names are skipped as `invalid_name`. */
export const MAX_NAME_LENGTH = 1024;
const NESTED_ARCHIVE_EXT = /\.(zip|jar|apk|rar|7z|tar|tgz|gz|bz2|xz|zst|cab|iso)$/i;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

/**
 * Files that archivers add on their own: macOS Finder's `__MACOSX/…` and `._name` resource forks
 * (named like the photo beside them), `.DS_Store`, Windows' `Thumbs.db` and `desktop.ini`.
 * Known from the name alone, so they never count towards the images of a synchronous batch.
 */
function isSystemMetadata(name: string): boolean {
  const parts = name.split(/[/\\]/);
  const base = parts[parts.length - 1] ?? '';
  return parts[0] === '__MACOSX' || base.startsWith('._') || /^(\.ds_store|thumbs\.db|desktop\.ini)$/i.test(base);
}

/** Header-level decision for one entry: a skip reason, or null when its bytes should be read. */
function checkHeader(entry: Entry, name: string, limits: ZipLimits): SkippedZipEntry | null {
  const skip = (reason: SkipReason, detail: string): SkippedZipEntry => ({ entry_name: name, reason, detail });
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return skip('invalid_name', 'empty or too long');
  const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if (name.endsWith('/') || mode === S_IFDIR) return skip('directory', 'a directory entry');
  if (mode === S_IFLNK) return skip('symlink', 'a symbolic link');
  if (name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:/.test(name)) return skip('absolute_path', 'an absolute path');
  if (name.split(/[/\\]/).includes('..')) return skip('path_traversal', 'a name with ".." segments');
  if (entry.isEncrypted()) return skip('encrypted', 'an encrypted entry');
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
    return skip('unsupported_compression', `compression method ${entry.compressionMethod}`);
  }
  if (NESTED_ARCHIVE_EXT.test(name)) return skip('nested_archive', 'archives inside the archive are not opened');
  if (isSystemMetadata(name)) return skip('not_an_image', 'file-system metadata (a macOS resource fork, .DS_Store, Thumbs.db), not a photo');
  if (entry.uncompressedSize > limits.maxEntryBytes) {
    return skip('too_large', `${entry.uncompressedSize} bytes uncompressed; at most ${limits.maxEntryBytes} per entry`);
  }
  if (entry.uncompressedSize >= RATIO_MIN_BYTES) {
    const ratio = entry.compressedSize > 0 ? entry.uncompressedSize / entry.compressedSize : Number.POSITIVE_INFINITY;
    if (ratio > limits.maxRatio) {
      return skip('compression_ratio', `compression ratio ${Math.round(ratio)}:1 is above ${limits.maxRatio}:1 (zip bomb)`);
    }
  }
  return null;
}

/**
 * The archive-wide ratio: entries are inflated while their declared sizes together stay
 * within maxRatio × the archive's size (at least ARCHIVE_FLOOR_BYTES). yauzl checks that
 * no entry inflates past its declared size, so this bounds the bytes actually inflated.
 */
function inflateBudget(archiveBytes: number, limits: ZipLimits) {
  const budget = Math.max(limits.maxRatio * archiveBytes, ARCHIVE_FLOOR_BYTES);
  let declared = 0;
  /** Reserves the entry's declared size; a skip when it would exceed the budget. */
  return (entry: Entry, name: string): SkippedZipEntry | null => {
    if (declared + entry.uncompressedSize > budget) {
      return {
        entry_name: name,
        reason: 'compression_ratio',
        detail: `the archive's entries together inflate to more than ${budget} bytes from ${archiveBytes} (above ${limits.maxRatio}:1; zip bomb)`,
      };
    }
    declared += entry.uncompressedSize;
    return null;
  };
}

/** Nested archives recognised by their bytes, whatever their name. */
function looksLikeArchive(data: Buffer): boolean {
  const head = data.subarray(0, 8);
  return (
    (head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5 || head[2] === 7)) || // PK..
    head.toString('latin1', 0, 4) === 'Rar!' ||
    (head[0] === 0x37 && head[1] === 0x7a && head[2] === 0xbc && head[3] === 0xaf) || // 7z
    (head[0] === 0x1f && head[1] === 0x8b) || // gzip
    (data.length > 262 && data.toString('latin1', 257, 262) === 'ustar')
  );
}

function openZip(file: string): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    // decodeStrings: false so that a bad name skips one entry instead of failing the archive
    // (yauzl would emit an error for `../x` or `/etc/x`); names are decoded and checked here.
    yauzl.open(file, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true }, (err, zip) => {
      if (err || !zip) reject(err ?? new Error('no zip file'));
      else resolve(zip);
    });
  });
}

function corrupt(err: unknown): ZipError {
  return notAZip(null, `the archive cannot be read as a ZIP file (${(err as Error).message})`);
}

/** A ZIP's entries one at a time; errors surface on the next read. */
class EntryCursor {
  private failure: Error | null = null;
  private waiting: { resolve: (entry: Entry | null) => void; reject: (err: Error) => void } | null = null;

  constructor(private readonly zip: ZipFile) {
    zip.on('entry', (entry: Entry) => this.settle((w) => w.resolve(entry)));
    zip.on('end', () => this.settle((w) => w.resolve(null)));
    zip.on('error', (err: Error) => {
      this.failure = err;
      this.settle((w) => w.reject(err));
    });
  }

  private settle(fn: (w: NonNullable<EntryCursor['waiting']>) => void): void {
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting) fn(waiting);
  }

  next(): Promise<Entry | null> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.zip.readEntry();
    });
  }
}

/** Exported by yauzl (CP437 or UTF-8 per the flags and the Info-ZIP unicode field), missing from its types. */
interface YauzlNames {
  getFileNameLowLevel(flags: number, raw: Buffer, extraFields: Entry['extraFields'], strict: boolean): string;
}

/** The entry's name as the archive spells it (UTF-8 when flagged, else CP437). */
function decodedName(entry: Entry): string {
  const raw = entry.fileName as unknown as Buffer;
  return (yauzl as unknown as YauzlNames).getFileNameLowLevel(entry.generalPurposeBitFlag, raw, entry.extraFields, false);
}

/**
 * A name as a label: control characters become `?`, NUL too (PostgreSQL refuses it in text
 * and jsonb; they would only confuse logs and CSV reports anyway), as for uploaded files.
 */
function labelOf(spelled: string): string {
  // eslint-disable-next-line no-control-regex
  return spelled.replace(/[\u0000-\u001f\u007f]/g, '?');
}

/** The entry's bytes, at most `limit` of them (null beyond: the stream is abandoned). */
function readEntry(zip: ZipFile, entry: Entry, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err || !stream) return reject(err ?? new Error('no stream'));
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          done = true;
          stream.destroy();
          resolve(null);
          return;
        }
        chunks.push(chunk);
      });
      stream.on('error', (e) => {
        if (!done) reject(e);
        done = true;
      });
      stream.on('end', () => {
        if (!done) resolve(Buffer.concat(chunks, size));
        done = true;
      });
    });
  });
}

export interface ZipScan {
  /** Entries that pass the header checks (their bytes are still to be sniffed). */
  candidates: number;
  entries: number;
}

/** Central directory only, nothing inflated: how many entries could be images. */
export async function scanZip(file: string, limits: ZipLimits): Promise<ZipScan> {
  let candidates = 0;
  let reserve: ReturnType<typeof inflateBudget> | null = null;
  const result = await walkZip(file, limits, async (entry, name, zip) => {
    reserve ??= inflateBudget(zip.fileSize, limits);
    if (!checkHeader(entry, name, limits) && !reserve(entry, name)) candidates++;
  });
  return { candidates, entries: result.entries };
}

async function walkZip(
  file: string,
  limits: ZipLimits,
  /** `name` is the entry's label, `spelled` its name as the archive spells it. */
  visit: (entry: Entry, name: string, zip: ZipFile, spelled: string) => Promise<void>,
): Promise<{ entries: number }> {
  let zip: ZipFile;
  try {
    zip = await openZip(file);
  } catch (err) {
    throw corrupt(err);
  }
  try {
    if (zip.entryCount > limits.maxEntries) {
      throw new ZipError(422, 'zip.too_many_entries', `The archive has ${zip.entryCount} entries; at most ${limits.maxEntries} are accepted`, {
        entries: zip.entryCount,
        max_entries: limits.maxEntries,
      });
    }
    const cursor = new EntryCursor(zip);
    for (;;) {
      let entry: Entry | null;
      try {
        entry = await cursor.next();
      } catch (err) {
        throw corrupt(err);
      }
      if (!entry) break;
      const spelled = decodedName(entry);
      await visit(entry, labelOf(spelled), zip, spelled);
    }
    return { entries: zip.entryCount };
  } finally {
    zip.close();
  }
}

/**
 * Every acceptable image of the archive, in order, handed to `onImage` one at a time
 * (at most one entry in memory). Returns what was skipped and why.
 */
export async function readZipImages(
  file: string,
  limits: ZipLimits,
  onImage: (image: ZipImage) => Promise<void>,
): Promise<{ images: number; entries: number; skipped: SkippedZipEntry[] }> {
  const skipped: SkippedZipEntry[] = [];
  /** Names as the archive spells them: the same name twice is a duplicate. */
  const seen = new Set<string>();
  /** Labels given to images: names that differ only in control characters get `name (2)`, as uploads do. */
  const labels = new Set<string>();
  let index = 0;
  let images = 0;
  let totalBytes = 0;
  let reserve: ReturnType<typeof inflateBudget> | null = null;
  const { entries } = await walkZip(file, limits, async (entry, name, zip, spelled) => {
    reserve ??= inflateBudget(zip.fileSize, limits);
    const position = index++;
    const skip = (reason: SkipReason, detail: string): void => {
      skipped.push({ entry_name: name, reason, detail });
    };
    const headerProblem = checkHeader(entry, name, limits);
    if (headerProblem) {
      // Directories are noise in a listing of what was left out, but the brief is to list everything.
      skipped.push(headerProblem);
      return;
    }
    if (seen.has(spelled)) return skip('duplicate_name', 'another entry has the same name');
    if (totalBytes + entry.uncompressedSize > limits.maxTotalBytes) {
      return skip('total_size_limit', `the archive's images together exceed ${limits.maxTotalBytes} bytes uncompressed`);
    }
    const overBudget = reserve(entry, name);
    if (overBudget) {
      skipped.push(overBudget);
      return;
    }
    let data: Buffer | null;
    try {
      data = await readEntry(zip, entry, Math.min(limits.maxEntryBytes, entry.uncompressedSize));
    } catch (err) {
      // yauzl's validateEntrySizes: the data inflates past the size the headers declare (a lying zip bomb).
      if (/too many bytes/.test((err as Error).message)) return skip('too_large', 'inflates to more bytes than the archive declares');
      return skip('corrupt_entry', `cannot be inflated (${(err as Error).message})`);
    }
    if (!data) return skip('too_large', 'inflates to more bytes than the archive declares');
    if (looksLikeArchive(data)) return skip('nested_archive', 'archives inside the archive are not opened');
    const type = imageType(data);
    if (type.ext === 'bin') return skip('not_an_image', 'the bytes are not a JPEG, PNG, WebP, TIFF, GIF, AVIF or HEIC image');
    seen.add(spelled);
    let label = name;
    for (let n = 2; labels.has(label); n++) label = `${name} (${n})`;
    labels.add(label);
    totalBytes += data.length;
    images++;
    await onImage({ index: position, name: label, data, ext: type.ext });
  });
  return { images, entries, skipped };
}
