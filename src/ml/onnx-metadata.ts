/**
 * Reads an ONNX file's metadata_props (onnxruntime-node does not expose them) and its sha256.
 *
 * ModelProto is scanned field by field with positioned reads: large fields (the graph, which
 * holds the weights) are skipped by seeking, never read into memory.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** ModelProto.metadata_props = 14 (repeated StringStringEntryProto { key = 1; value = 2; }). */
const METADATA_PROPS_FIELD = 14;
const ENTRY_KEY_FIELD = 1;
const ENTRY_VALUE_FIELD = 2;
/** A single metadata entry larger than this is not metadata we want to hold. */
const MAX_ENTRY_BYTES = 16 * 1024 * 1024;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

export class OnnxFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxFormatError';
  }
}

/** Byte access by absolute position; lets the same decoder walk a file or a buffer. */
interface ByteSource {
  readonly size: number;
  read(position: number, length: number): Promise<Uint8Array>;
}

interface Varint {
  value: number;
  next: number;
}

export async function readOnnxMetadataProps(path: string): Promise<Map<string, string>> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    return await readMetadataProps(fileSource(file, size));
  } finally {
    await file.close();
  }
}

/** Same as readOnnxMetadataProps, for a model already in memory. */
export async function readOnnxMetadataPropsFromBuffer(bytes: Uint8Array): Promise<Map<string, string>> {
  return readMetadataProps({
    size: bytes.length,
    read: async (position, length) => bytes.subarray(position, Math.min(position + length, bytes.length)),
  });
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function fileSource(file: FileHandle, size: number): ByteSource {
  return {
    size,
    async read(position, length) {
      const buffer = Buffer.alloc(Math.max(0, Math.min(length, size - position)));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
      return buffer.subarray(0, bytesRead);
    },
  };
}

async function readMetadataProps(source: ByteSource): Promise<Map<string, string>> {
  const props = new Map<string, string>();
  let position = 0;
  while (position < source.size) {
    // A tag and a length are at most 10 bytes each.
    const head = await source.read(position, 20);
    const tag = decodeVarint(head, 0, position);
    const field = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    if (field === 0) throw new OnnxFormatError(`Invalid protobuf field number 0 at byte ${position}`);
    if (wireType === WIRE_LENGTH_DELIMITED) {
      const length = decodeVarint(head, tag.next, position);
      const start = position + length.next;
      const end = start + length.value;
      if (end > source.size) throw new OnnxFormatError(`Field ${field} runs past the end of the file`);
      if (field === METADATA_PROPS_FIELD) {
        if (length.value > MAX_ENTRY_BYTES) throw new OnnxFormatError('A metadata entry is implausibly large');
        const entry = parseStringEntry(await source.read(start, length.value), start);
        if (entry) props.set(entry.key, entry.value);
      }
      position = end;
    } else {
      position += skipScalar(head, tag.next, wireType, position);
    }
  }
  return props;
}

function parseStringEntry(bytes: Uint8Array, origin: number): { key: string; value: string } | null {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let key: string | null = null;
  let value = '';
  let offset = 0;
  while (offset < bytes.length) {
    const tag = decodeVarint(bytes, offset, origin);
    const field = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    if (wireType !== WIRE_LENGTH_DELIMITED) {
      offset = skipScalar(bytes, tag.next, wireType, origin);
      continue;
    }
    const length = decodeVarint(bytes, tag.next, origin);
    const end = length.next + length.value;
    if (end > bytes.length) throw new OnnxFormatError(`Metadata entry at byte ${origin} is truncated`);
    const text = decodeUtf8(decoder, bytes.subarray(length.next, end), origin);
    if (field === ENTRY_KEY_FIELD) key = text;
    else if (field === ENTRY_VALUE_FIELD) value = text;
    offset = end;
  }
  return key === null ? null : { key, value };
}

function decodeUtf8(decoder: TextDecoder, bytes: Uint8Array, origin: number): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new OnnxFormatError(`Metadata entry at byte ${origin} is not valid UTF-8`);
  }
}

/** Returns the number of bytes taken by the tag and value of a non length-delimited field. */
function skipScalar(bytes: Uint8Array, valueOffset: number, wireType: number, origin: number): number {
  switch (wireType) {
    case WIRE_VARINT:
      return decodeVarint(bytes, valueOffset, origin).next;
    case WIRE_FIXED64:
      return valueOffset + 8;
    case WIRE_FIXED32:
      return valueOffset + 4;
    default:
      throw new OnnxFormatError(`Unsupported protobuf wire type ${wireType} at byte ${origin}; not an ONNX model?`);
  }
}

/** Decodes a base-128 varint; values above 2^53 lose precision, which only skipped fields could have. */
function decodeVarint(bytes: Uint8Array, offset: number, origin: number): Varint {
  let value = 0;
  let multiplier = 1;
  for (let i = offset; i < offset + 10; i++) {
    const byte = bytes[i];
    if (byte === undefined) throw new OnnxFormatError(`Truncated protobuf varint at byte ${origin + offset}`);
    value += (byte & 0x7f) * multiplier;
    if (byte < 0x80) return { value, next: i + 1 };
    multiplier *= 128;
  }
  throw new OnnxFormatError(`Malformed protobuf varint at byte ${origin + offset}`);
}
