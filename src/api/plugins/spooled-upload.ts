/**
 * Multipart uploads that may be large (archives, many photos): each file is hashed
 * while it streams in, kept in memory while small and spooled to a temporary file
 * under DATA_DIR/tmp beyond `memoryBytes`, so a 500 MB archive never sits in memory.
 * Small files count against `memoryTotalBytes` for the whole request: once that much
 * is held, every further file is spooled too (1,000 photos of 1 MB are not 1 GB held).
 * `cleanup()` removes the spooled files; callers run it in `finally`, and it runs
 * here too when reading fails half-way.
 */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { FastifyRequest } from 'fastify';
import type { Static, TObject } from 'typebox';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaError } from '../../shared/errors.js';
import { asMultipartError, validateFields } from './multipart.js';

export interface SpooledFile {
  field: string;
  filename: string;
  size: number;
  sha256: string;
  /** Set when the file was spooled to disk. */
  path: string | null;
  /** The bytes (read from disk when spooled). */
  read(): Promise<Buffer>;
}

export interface SpoolOptions {
  spoolDir: string;
  /** Per file field: the largest accepted file. */
  maxBytes: Record<string, number>;
  maxFiles: number;
  /** All files together. */
  maxTotalBytes: number;
  /** Files up to this size stay in memory. Default 1 MiB. */
  memoryBytes?: number;
  /** In-memory bytes of all files of the request; beyond, files are spooled. Default 8 MiB. */
  memoryTotalBytes?: number;
  /** Fields always spooled to disk whatever their size (archives: yauzl reads a file). */
  spoolFields?: string[];
  /** The error for more than `maxFiles` files (default: 413 request.too_many_files). */
  tooManyFiles?: () => Error;
}

const MiB = 1024 * 1024;

function describe(bytes: number): string {
  return bytes >= MiB ? `${Math.round((bytes / MiB) * 10) / 10} MB` : `${bytes} bytes`;
}

export async function readSpooledUpload<S extends TObject>(
  request: FastifyRequest,
  fieldsSchema: S,
  options: SpoolOptions,
): Promise<{ fields: Static<S>; files: SpooledFile[]; cleanup: () => Promise<void> }> {
  if (!request.isMultipart()) throw new UnsupportedMediaError('Send the request as multipart/form-data');
  const memoryBytes = options.memoryBytes ?? MiB;
  const memoryTotalBytes = options.memoryTotalBytes ?? 8 * MiB;
  const fileFields = Object.keys(options.maxBytes);
  const largest = Math.max(...Object.values(options.maxBytes));
  const files: SpooledFile[] = [];
  const spooled: string[] = [];
  const cleanup = async () => {
    await Promise.all(spooled.map((p) => fsp.rm(p, { force: true })));
  };
  const raw: Record<string, string> = {};
  let totalBytes = 0;
  /** Bytes of the files kept in memory so far. */
  let heldBytes = 0;

  try {
    // Route-level limits: many files here, one file on the single-image routes.
    const parts = request.parts({
      limits: { files: options.maxFiles, fileSize: largest, parts: options.maxFiles + 20 },
    });
    for await (const part of parts) {
      if (part.type !== 'file') {
        raw[part.fieldname] = String(part.value);
        continue;
      }
      const field = part.fieldname.replace(/\[\]$/, '');
      const limit = options.maxBytes[field];
      if (limit === undefined) {
        part.file.resume();
        throw new BadRequestError('request.unexpected_file', `Unexpected file field "${part.fieldname}"`, {
          errors: [{ field: part.fieldname, message: `expected one of: ${fileFields.join(', ')}` }],
        });
      }
      const hash = crypto.createHash('sha256');
      const chunks: Buffer[] = [];
      let size = 0;
      let file: fsp.FileHandle | null = null;
      let filePath: string | null = null;
      try {
        for await (const chunk of part.file as AsyncIterable<Buffer>) {
          size += chunk.length;
          totalBytes += chunk.length;
          if (size > limit) {
            part.file.resume();
            throw new PayloadTooLargeError(`"${part.filename}" is larger than ${describe(limit)}`);
          }
          if (totalBytes > options.maxTotalBytes) {
            part.file.resume();
            throw new PayloadTooLargeError(`The uploaded files together are larger than ${describe(options.maxTotalBytes)}`);
          }
          hash.update(chunk);
          if (file) {
            await file.write(chunk);
          } else if (size > memoryBytes || heldBytes + size > memoryTotalBytes || options.spoolFields?.includes(field)) {
            await fsp.mkdir(options.spoolDir, { recursive: true });
            filePath = path.join(options.spoolDir, `upload-${crypto.randomUUID()}.part`);
            spooled.push(filePath);
            file = await fsp.open(filePath, 'wx', 0o600);
            for (const buffered of chunks) await file.write(buffered);
            chunks.length = 0;
            await file.write(chunk);
          } else {
            chunks.push(chunk);
          }
        }
      } finally {
        await file?.close();
      }
      if (part.file.truncated) throw new PayloadTooLargeError(`"${part.filename}" is larger than ${describe(limit)}`);
      const data = filePath ? null : Buffer.concat(chunks, size);
      if (data) heldBytes += size;
      const spooledPath = filePath;
      files.push({
        field,
        filename: part.filename,
        size,
        sha256: hash.digest('hex'),
        path: spooledPath,
        read: async () => data ?? fsp.readFile(spooledPath!),
      });
    }
  } catch (err) {
    await cleanup();
    if ((err as { code?: string }).code === 'FST_FILES_LIMIT' && options.tooManyFiles) throw options.tooManyFiles();
    throw asMultipartError(err);
  }

  try {
    return { fields: validateFields(fieldsSchema, raw), files, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
