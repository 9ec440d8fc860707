/**
 * Instance masks of segment models, as Ultralytics' ops.process_mask(upsample=True) computes them:
 * logits = coefficients @ prototypes, zeroed outside the box (at prototype resolution),
 * bilinearly upsampled to the input size (align_corners=False), kept where > 0 (sigmoid > 0.5).
 * The mask's outline is returned in original-image pixels, like Results.masks.xy.
 */
import type { ImageSize, Letterbox } from '../media/preprocess.js';
import { largestContour } from './mask-contour.js';
import type { Candidate } from './nms.js';
import { toOriginalPoint, type OutputTensor } from './yolo-output.js';

export interface MaskRequest {
  /** output1: [B, nm, mh, mw]. */
  prototypes: OutputTensor;
  batchIndex: number;
  coefficients: Float32Array;
  /** The detection's box in input pixels. */
  box: Candidate;
  /** [height, width] of the model input. */
  imgsz: readonly [number, number];
  letterbox: Letterbox;
  original: ImageSize;
}

export function maskPolygon(request: MaskRequest): Array<[number, number]> {
  const { prototypes, batchIndex, coefficients, box, imgsz, letterbox, original } = request;
  const [, numMasks = 0, protoHeight = 0, protoWidth = 0] = prototypes.dims;
  if (coefficients.length !== numMasks) {
    throw new Error(`${coefficients.length} mask coefficients for ${numMasks} prototypes`);
  }
  const [inputHeight, inputWidth] = imgsz;
  const scaleX = protoWidth / inputWidth;
  const scaleY = protoHeight / inputHeight;

  // Prototype cells inside the box (crop_mask keeps r >= x1 && r < x2); all others are zero.
  const cols = cellRange(box.x1 * scaleX, box.x2 * scaleX, protoWidth);
  const rows = cellRange(box.y1 * scaleY, box.y2 * scaleY, protoHeight);
  if (!cols || !rows) return [];
  const logits = croppedLogits(prototypes, batchIndex, coefficients, cols, rows);
  const logitAt = (col: number, row: number): number =>
    col < cols.first || col > cols.last || row < rows.first || row > rows.last
      ? 0
      : logits[(row - rows.first) * cols.count + (col - cols.first)]!;

  // Only input pixels whose bilinear neighbourhood touches a kept cell can be inside the mask.
  const xs = pixelRange(cols, scaleX, inputWidth);
  const ys = pixelRange(rows, scaleY, inputHeight);
  const mask = new Uint8Array(xs.count * ys.count);
  for (let j = 0; j < ys.count; j++) {
    const sy = sourceIndex(ys.first + j, scaleY, protoHeight);
    for (let i = 0; i < xs.count; i++) {
      const sx = sourceIndex(xs.first + i, scaleX, protoWidth);
      const top = sx.w0 * logitAt(sx.i0, sy.i0) + sx.w1 * logitAt(sx.i1, sy.i0);
      const bottom = sx.w0 * logitAt(sx.i0, sy.i1) + sx.w1 * logitAt(sx.i1, sy.i1);
      if (sy.w0 * top + sy.w1 * bottom > 0) mask[j * xs.count + i] = 1;
    }
  }
  return largestContour(mask, xs.count, ys.count).map(([x, y]) =>
    toOriginalPoint(xs.first + x, ys.first + y, letterbox, original),
  );
}

interface IndexRange {
  first: number;
  last: number;
  count: number;
}

/** Integer cells c with start <= c < end, within [0, size). */
function cellRange(start: number, end: number, size: number): IndexRange | null {
  const first = Math.max(0, Math.ceil(start));
  const last = Math.min(size - 1, Math.ceil(end) - 1);
  return last < first ? null : { first, last, count: last - first + 1 };
}

/** Input pixels whose bilinear sources reach cells first-1 .. last+1 (a safe superset). */
function pixelRange(cells: IndexRange, scale: number, size: number): IndexRange {
  const first = Math.max(0, Math.floor((cells.first - 0.5) / scale - 0.5));
  const last = Math.min(size - 1, Math.ceil((cells.last + 1.5) / scale - 0.5));
  return { first, last, count: last - first + 1 };
}

/** PyTorch's bilinear source index for align_corners=False (scale = in / out). */
function sourceIndex(dst: number, scale: number, size: number): { i0: number; i1: number; w0: number; w1: number } {
  const src = Math.max((dst + 0.5) * scale - 0.5, 0);
  const i0 = Math.min(Math.floor(src), size - 1);
  const i1 = Math.min(i0 + 1, size - 1);
  const w1 = src - i0;
  return { i0, i1, w0: 1 - w1, w1 };
}

function croppedLogits(
  prototypes: OutputTensor,
  batchIndex: number,
  coefficients: Float32Array,
  cols: IndexRange,
  rows: IndexRange,
): Float32Array {
  const [, numMasks = 0, protoHeight = 0, protoWidth = 0] = prototypes.dims;
  const plane = protoHeight * protoWidth;
  const base = batchIndex * numMasks * plane;
  const logits = new Float32Array(cols.count * rows.count);
  for (let k = 0; k < numMasks; k++) {
    const weight = coefficients[k]!;
    if (weight === 0) continue;
    const channel = base + k * plane;
    for (let r = 0; r < rows.count; r++) {
      const rowStart = channel + (rows.first + r) * protoWidth + cols.first;
      const out = r * cols.count;
      for (let c = 0; c < cols.count; c++) logits[out + c]! += weight * prototypes.data[rowStart + c]!;
    }
  }
  return logits;
}
