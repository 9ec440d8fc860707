/**
 * The media store port: original photos and annotated evidence, addressed by
 * keys the service generates (`operations/2026/11/<uuid>_annotated.jpg`).
 * Keys that arrive from outside (GET /media/…) are validated before any file
 * system access; nothing outside the root is ever read, written or deleted.
 */
import crypto from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { BadRequestError } from '../shared/errors.js';

export interface StoredFile {
  /** The file's bytes. The caller must consume or destroy it (it holds an open file). */
  stream: Readable;
  size: number;
  contentType: string;
  modifiedAt: Date;
}

export interface MediaEntry {
  key: string;
  size: number;
  modifiedAt: Date;
}

export interface MediaStore {
  /** Atomic: readers see the whole new file or the old one, never a part. Creates parent folders. */
  put(key: string, data: Buffer, contentType: string): Promise<void>;
  /** Null when absent. Throws BadRequestError (`media.invalid_name`) for an invalid key. */
  get(key: string): Promise<StoredFile | null>;
  exists(key: string): Promise<boolean>;
  /** Idempotent: deleting a missing key is fine (used to roll back failed operations). */
  delete(key: string): Promise<void>;
  /** Stored files whose key starts with `prefix`, optionally only those last modified before `olderThan`. */
  list?(prefix: string, olderThan?: Date): AsyncIterable<MediaEntry>;
}

export type MediaKind = 'operation' | 'preview' | 'job';

const KIND_PREFIX: Record<MediaKind, string> = { operation: 'operations', preview: 'previews', job: 'jobs' };

/** A new unique key: `<kind>/<yyyy>/<mm>/<uuid>_<suffix>`. Previews live under their own prefix for retention. */
export function newMediaKey(kind: MediaKind, suffix: string, now = new Date()): string {
  const yyyy = String(now.getUTCFullYear());
  const mm = String(now.getUTCMonth() + 1).padStart(2, '0');
  const safeSuffix = suffix.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 150);
  return `${KIND_PREFIX[kind]}/${yyyy}/${mm}/${crypto.randomUUID()}_${safeSuffix}`;
}

/**
 * One path segment: ASCII letters, digits, `.`, `_`, `-`, starting with a letter or
 * digit. So `.` / `..` are impossible, and so are the store's own dot-prefixed
 * temporary files.
 */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
const MAX_KEY_LENGTH = 512;
const MAX_DEPTH = 8;

function invalidName(reason: string): BadRequestError {
  return new BadRequestError('media.invalid_name', `Invalid media name: ${reason}`);
}

/**
 * Validate a key from outside: relative, forward slashes, plain segments, no
 * traversal in any encoding. Keys the service generates never contain `%`, so any
 * percent sign is refused outright: `..%2f`, `%2e%2e` and double encodings
 * (`%252e`) can never be decoded into a traversal further down.
 */
export function validateMediaKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) throw invalidName('empty or too long');
  if (key.includes('\0')) throw invalidName('NUL byte');
  if (key.includes('\\')) throw invalidName('backslash');
  if (key.includes('%')) throw invalidName('percent-encoding');
  if (key.startsWith('/') || path.isAbsolute(key)) throw invalidName('absolute path');
  const segments = key.split('/');
  if (segments.length > MAX_DEPTH) throw invalidName('too deep');
  for (const segment of segments) {
    if (segment === '.' || segment === '..') throw invalidName('relative segment');
    if (!SEGMENT.test(segment)) throw invalidName('unexpected characters');
  }
  return key;
}

const CONTENT_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.gif': 'image/gif',
  '.avif': 'image/avif',
  '.heic': 'image/heic',
  '.heif': 'image/heif',
  '.json': 'application/json',
  '.zip': 'application/zip',
};

/** The filesystem keeps no content type, so it follows from the key's extension (keys are generated with one). */
export function contentTypeForKey(key: string): string {
  return CONTENT_TYPES[path.extname(key).toLowerCase()] ?? 'application/octet-stream';
}

export interface FsMediaStore extends MediaStore {
  readonly root: string;
  list(prefix: string, olderThan?: Date): AsyncIterable<MediaEntry>;
  /**
   * The absolute path a key names, proven to lie inside the root (symlinks of the
   * folders resolved), or null when its folder does not exist or leads outside.
   * Throws BadRequestError for an invalid key. The file itself may not exist.
   */
  resolveSafe(key: string): Promise<string | null>;
}

const isErrno = (err: unknown, ...codes: string[]): boolean => codes.includes((err as NodeJS.ErrnoException)?.code ?? '');

/**
 * Files live at `<root>/<key>`. Safety does not rest on the lexical check alone:
 * every folder on the way is resolved with realpath and must stay inside the
 * root, the file itself is opened with O_NOFOLLOW (a symlink in the store is
 * treated as absent), and on Linux the opened descriptor is checked once more
 * through /proc/self/fd before a byte is read.
 */
export function createFsMediaStore(options: { root: string }): FsMediaStore {
  const root = path.resolve(options.root);
  let realRootPromise: Promise<string> | null = null;

  function realRoot(): Promise<string> {
    realRootPromise ??= (async () => {
      await fsp.mkdir(root, { recursive: true });
      return fsp.realpath(root);
    })();
    // A failed attempt (e.g. a permission problem fixed later) is retried next time.
    realRootPromise.catch(() => (realRootPromise = null));
    return realRootPromise;
  }

  const inside = (base: string, candidate: string) => candidate === base || candidate.startsWith(base + path.sep);

  /** The real folder holding `key`, or null when it is missing or resolves outside the root. */
  async function existingFolder(key: string): Promise<{ folder: string; name: string } | null> {
    validateMediaKey(key);
    const base = await realRoot();
    const segments = key.split('/');
    const name = segments.pop()!;
    let folder: string;
    try {
      folder = await fsp.realpath(path.join(base, ...segments));
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'ELOOP')) return null;
      throw err;
    }
    return inside(base, folder) ? { folder, name } : null;
  }

  /** Create the key's folders one level at a time, refusing any level that resolves outside the root. */
  async function ensureFolder(key: string): Promise<{ folder: string; name: string }> {
    validateMediaKey(key);
    const base = await realRoot();
    const segments = key.split('/');
    const name = segments.pop()!;
    let folder = base;
    for (const segment of segments) {
      const next = path.join(folder, segment);
      // Non-recursive mkdir never follows a symlink, so nothing is created outside `folder`.
      await fsp.mkdir(next).catch((err: unknown) => {
        if (!isErrno(err, 'EEXIST')) throw err;
      });
      let real: string;
      try {
        real = await fsp.realpath(next);
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ELOOP')) throw invalidName('folder leads outside the store');
        throw err;
      }
      if (!inside(base, real)) throw invalidName('folder leads outside the store');
      if (!(await fsp.stat(real)).isDirectory()) throw invalidName('a file stands where a folder is expected');
      folder = real;
    }
    return { folder, name };
  }

  /** Open a stored regular file without following a final symlink; null when absent or not a plain file. */
  async function openStored(key: string): Promise<fsp.FileHandle | null> {
    const location = await existingFolder(key);
    if (!location) return null;
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(path.join(location.folder, location.name), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ELOOP', 'ENOTDIR', 'EISDIR')) return null;
      throw err;
    }
    try {
      const base = await realRoot();
      const stat = await handle.stat();
      if (!stat.isFile() || !(await descriptorInside(handle, base))) {
        await handle.close();
        return null;
      }
      return handle;
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Linux: where the descriptor really points, immune to folders swapped after the realpath check. */
  async function descriptorInside(handle: fsp.FileHandle, base: string): Promise<boolean> {
    let target: string;
    try {
      target = await fsp.readlink(`/proc/self/fd/${handle.fd}`);
    } catch {
      return true; // No /proc: the realpath check of the folders stands.
    }
    return inside(base, target);
  }

  async function* walk(folder: string, keyPrefix: string): AsyncGenerator<{ key: string; file: string }> {
    let dir;
    try {
      dir = await fsp.opendir(folder);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return;
      throw err;
    }
    for await (const entry of dir) {
      // Dirent types come from lstat semantics: symlinks are neither files nor folders here, so never followed.
      if (!SEGMENT.test(entry.name)) continue; // temporary files and anything the store did not write
      const key = keyPrefix + entry.name;
      if (entry.isDirectory()) yield* walk(path.join(folder, entry.name), `${key}/`);
      else if (entry.isFile()) yield { key, file: path.join(folder, entry.name) };
    }
  }

  return {
    root,

    async resolveSafe(key) {
      const location = await existingFolder(key);
      return location ? path.join(location.folder, location.name) : null;
    },

    async put(key, data) {
      const { folder, name } = await ensureFolder(key);
      const target = path.join(folder, name);
      // Dot-prefixed: never a valid key, so a half-written file can never be served.
      const temp = path.join(folder, `.${name}.${crypto.randomBytes(6).toString('hex')}.tmp`);
      try {
        const handle = await fsp.open(temp, 'wx', 0o640);
        try {
          await handle.writeFile(data);
          await handle.datasync();
        } finally {
          await handle.close();
        }
        await fsp.rename(temp, target);
      } catch (err) {
        await fsp.rm(temp, { force: true });
        throw err;
      }
      await syncFolder(folder);
    },

    async get(key) {
      const handle = await openStored(key);
      if (!handle) return null;
      try {
        const stat = await handle.stat();
        return {
          // Reads the descriptor already checked; it is closed when the stream ends or is destroyed.
          stream: handle.createReadStream({ autoClose: true }),
          size: stat.size,
          contentType: contentTypeForKey(key),
          modifiedAt: stat.mtime,
        };
      } catch (err) {
        await handle.close();
        throw err;
      }
    },

    async exists(key) {
      const handle = await openStored(key);
      if (!handle) return false;
      await handle.close();
      return true;
    },

    async delete(key) {
      const location = await existingFolder(key);
      // A folder that does not exist or leads outside the store holds nothing of ours.
      if (!location) return;
      try {
        // unlink removes a symlink itself, never its target.
        await fsp.unlink(path.join(location.folder, location.name));
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    },

    async *list(prefix, olderThan) {
      const segments = prefix.split('/');
      const partial = segments.pop()!;
      if (prefix.length > MAX_KEY_LENGTH || prefix.includes('\0') || !/^[A-Za-z0-9._-]*$/.test(partial)) {
        throw invalidName('invalid prefix');
      }
      const folderKey = segments.join('/');
      let start: string;
      const base = await realRoot();
      if (folderKey === '') {
        start = base;
      } else {
        const location = await existingFolder(`${folderKey}/x`);
        if (!location) return;
        start = location.folder;
      }
      const keyPrefix = folderKey === '' ? '' : `${folderKey}/`;
      for await (const { key, file } of walk(start, keyPrefix)) {
        if (!key.startsWith(prefix)) continue;
        let stat;
        try {
          stat = await fsp.lstat(file);
        } catch (err) {
          if (isErrno(err, 'ENOENT')) continue; // removed meanwhile
          throw err;
        }
        if (!stat.isFile()) continue;
        if (olderThan && stat.mtime >= olderThan) continue;
        yield { key, size: stat.size, modifiedAt: stat.mtime };
      }
    },
  };
}

/** Make the rename durable: fsync the folder entry (best effort where folders cannot be opened). */
async function syncFolder(folder: string): Promise<void> {
  let handle: fsp.FileHandle | null = null;
  try {
    handle = await fsp.open(folder, 'r');
    await handle.sync();
  } catch {
    // Some platforms and file systems refuse fsync on a folder; the data itself is already synced.
  } finally {
    await handle?.close();
  }
}
