/** File extension and content type of an image from its first bytes (for storing originals). */
const SIGNATURES: Array<{ ext: string; type: string; test: (b: Buffer) => boolean }> = [
  { ext: 'jpg', type: 'image/jpeg', test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { ext: 'png', type: 'image/png', test: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  { ext: 'webp', type: 'image/webp', test: (b) => b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP' },
  { ext: 'tif', type: 'image/tiff', test: (b) => ['II*\0', 'MM\0*'].includes(b.toString('latin1', 0, 4)) },
  { ext: 'gif', type: 'image/gif', test: (b) => b.toString('latin1', 0, 4) === 'GIF8' },
  { ext: 'avif', type: 'image/avif', test: (b) => b.toString('latin1', 4, 12) === 'ftypavif' },
  { ext: 'heic', type: 'image/heic', test: (b) => b.toString('latin1', 4, 8) === 'ftyp' && /^(heic|heix|mif1)/.test(b.toString('latin1', 8, 12)) },
];

export function imageType(data: Buffer): { ext: string; type: string } {
  const match = SIGNATURES.find((s) => data.length >= 12 && s.test(data));
  return match ? { ext: match.ext, type: match.type } : { ext: 'bin', type: 'application/octet-stream' };
}
