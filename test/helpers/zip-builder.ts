/**
 * Hand-written ZIP archives for tests, including the ones no well-behaved tool writes:
 * `../` and absolute names, symlinks, entries whose header lies about their size, and
 * zip bombs streamed to disk (1 GB of zeros deflated without ever holding it in memory).
 */
import fs from 'node:fs';
import zlib from 'node:zlib';

export interface ZipEntrySpec {
  name: string;
  data?: Buffer;
  /** Default: deflate. */
  method?: 'store' | 'deflate';
  /** Unix mode bits in the external attributes (e.g. 0o120777 for a symlink). */
  mode?: number;
  /** Write this uncompressed size in the headers instead of the real one (a lying header). */
  declaredSize?: number;
}

interface Written {
  name: Buffer;
  method: number;
  crc: number;
  compressed: number;
  uncompressed: number;
  offset: number;
  mode: number;
}

const DOS_TIME = 0x6000; // 12:00:00
const DOS_DATE = ((2026 - 1980) << 9) | (1 << 5) | 1;

function localHeader(e: Omit<Written, 'offset' | 'mode'>): Buffer {
  const h = Buffer.alloc(30);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(20, 4);
  h.writeUInt16LE(0x0800, 6); // UTF-8 names
  h.writeUInt16LE(e.method, 8);
  h.writeUInt16LE(DOS_TIME, 10);
  h.writeUInt16LE(DOS_DATE, 12);
  h.writeUInt32LE(e.crc >>> 0, 14);
  h.writeUInt32LE(e.compressed, 18);
  h.writeUInt32LE(e.uncompressed, 22);
  h.writeUInt16LE(e.name.length, 26);
  h.writeUInt16LE(0, 28);
  return Buffer.concat([h, e.name]);
}

function centralHeader(e: Written): Buffer {
  const h = Buffer.alloc(46);
  h.writeUInt32LE(0x02014b50, 0);
  h.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
  h.writeUInt16LE(20, 6);
  h.writeUInt16LE(0x0800, 8);
  h.writeUInt16LE(e.method, 10);
  h.writeUInt16LE(DOS_TIME, 12);
  h.writeUInt16LE(DOS_DATE, 14);
  h.writeUInt32LE(e.crc >>> 0, 16);
  h.writeUInt32LE(e.compressed, 20);
  h.writeUInt32LE(e.uncompressed, 24);
  h.writeUInt16LE(e.name.length, 28);
  h.writeUInt16LE(0, 30);
  h.writeUInt16LE(0, 32);
  h.writeUInt16LE(0, 34);
  h.writeUInt16LE(0, 36);
  h.writeUInt32LE((e.mode << 16) >>> 0, 38);
  h.writeUInt32LE(e.offset, 42);
  return Buffer.concat([h, e.name]);
}

function endOfCentralDirectory(count: number, size: number, offset: number): Buffer {
  const h = Buffer.alloc(22);
  h.writeUInt32LE(0x06054b50, 0);
  h.writeUInt16LE(count, 8);
  h.writeUInt16LE(count, 10);
  h.writeUInt32LE(size, 12);
  h.writeUInt32LE(offset, 16);
  return h;
}

/** A ZIP in memory (small archives). */
export function buildZip(entries: ZipEntrySpec[]): Buffer {
  const parts: Buffer[] = [];
  const written: Written[] = [];
  let offset = 0;
  for (const spec of entries) {
    const data = spec.data ?? Buffer.alloc(0);
    const method = spec.method === 'store' ? 0 : 8;
    const body = method === 0 ? data : zlib.deflateRawSync(data);
    const e = {
      name: Buffer.from(spec.name, 'utf8'),
      method,
      crc: zlib.crc32(data),
      compressed: body.length,
      uncompressed: spec.declaredSize ?? data.length,
    };
    const header = localHeader(e);
    written.push({ ...e, offset, mode: spec.mode ?? 0o100644 });
    parts.push(header, body);
    offset += header.length + body.length;
  }
  const central = Buffer.concat(written.map(centralHeader));
  return Buffer.concat([...parts, central, endOfCentralDirectory(written.length, central.length, offset)]);
}

/**
 * A one-entry archive of `gigabytes` GB of zeros, deflated as a stream straight to `file`
 * (the archive is about 1 MB per GB). `declaredSize` makes the header lie.
 */
export async function writeZerosBomb(file: string, options: { name: string; bytes: number; declaredSize?: number }): Promise<void> {
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  const deflate = zlib.createDeflateRaw({ level: 1 });
  const compressed: Buffer[] = [];
  deflate.on('data', (c: Buffer) => compressed.push(c));
  const ended = new Promise((resolve, reject) => {
    deflate.on('end', resolve);
    deflate.on('error', reject);
  });
  let crc = 0;
  let remaining = options.bytes;
  while (remaining > 0) {
    const piece = remaining >= chunk.length ? chunk : chunk.subarray(0, remaining);
    crc = zlib.crc32(piece, crc);
    if (!deflate.write(piece)) await new Promise((r) => deflate.once('drain', r));
    remaining -= piece.length;
  }
  deflate.end();
  await ended;
  const body = Buffer.concat(compressed);
  const e = { name: Buffer.from(options.name), method: 8, crc, compressed: body.length, uncompressed: options.declaredSize ?? options.bytes };
  const header = localHeader(e);
  const central = centralHeader({ ...e, offset: 0, mode: 0o100644 });
  const out = fs.createWriteStream(file);
  out.write(header);
  out.write(body);
  out.write(central);
  out.write(endOfCentralDirectory(1, central.length, header.length + body.length));
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}
