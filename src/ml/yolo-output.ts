/**
 * Decoding of Ultralytics YOLOv8/YOLO11 outputs: output0 [B, 4 + nc + nm, N] holds, per anchor,
 * cx, cy, w, h in input pixels, nc class scores (no objectness) and nm mask coefficients.
 * Models with NMS built in (nms=True exports, YOLOv10/YOLO26 end-to-end heads) give instead
 * [B, k, 6 + nm]: rows of x1, y1, x2, y2 in input pixels, score, class, mask coefficients.
 */
import type { ImageSize, Letterbox } from '../media/preprocess.js';
import type { Box } from './detector.js';
import type { Candidate } from './nms.js';

/** A model output: flat row-major data and its dimensions. */
export interface OutputTensor {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * Candidates of one batch item whose best class score is above `confidence` (strictly, as
 * Ultralytics), boxes converted to xyxy in input pixels.
 */
export function decodeCandidates(
  predictions: OutputTensor,
  numClasses: number,
  confidence: number,
  batchIndex = 0,
): Candidate[] {
  const [batch, channels, anchors] = predictions.dims;
  if (predictions.dims.length !== 3 || batch === undefined || channels === undefined || anchors === undefined) {
    throw new Error(`Predictions have shape [${predictions.dims.join(', ')}], expected [B, C, N]`);
  }
  if (channels < 4 + numClasses) {
    throw new Error(`Predictions have ${channels} channels, fewer than 4 + ${numClasses} classes`);
  }
  if (batchIndex >= batch) throw new Error(`Batch item ${batchIndex} is out of range (batch ${batch})`);
  const data = predictions.data;
  const base = batchIndex * channels * anchors;
  const candidates: Candidate[] = [];
  for (let anchor = 0; anchor < anchors; anchor++) {
    let score = -Infinity;
    let classId = 0;
    for (let c = 0; c < numClasses; c++) {
      const value = data[base + (4 + c) * anchors + anchor]!;
      if (value > score) {
        score = value;
        classId = c;
      }
    }
    if (!(score > confidence)) continue;
    const cx = data[base + anchor]!;
    const cy = data[base + anchors + anchor]!;
    const halfWidth = data[base + 2 * anchors + anchor]! / 2;
    const halfHeight = data[base + 3 * anchors + anchor]! / 2;
    candidates.push({
      x1: cx - halfWidth,
      y1: cy - halfHeight,
      x2: cx + halfWidth,
      y2: cy + halfHeight,
      score,
      classId,
      anchor,
    });
  }
  return candidates;
}

/** Mask coefficients of one anchor (channels after the class scores). */
export function maskCoefficients(
  predictions: OutputTensor,
  numClasses: number,
  anchor: number,
  batchIndex = 0,
): Float32Array {
  const [, channels = 0, anchors = 0] = predictions.dims;
  const numMasks = channels - 4 - numClasses;
  const coefficients = new Float32Array(numMasks);
  const base = batchIndex * channels * anchors + (4 + numClasses) * anchors + anchor;
  for (let k = 0; k < numMasks; k++) coefficients[k] = predictions.data[base + k * anchors]!;
  return coefficients;
}

/**
 * Rows of an end-to-end output whose score is above `confidence` (strictly, as Ultralytics), best
 * first. They have been through the model's NMS already; zero rows pad the output to k.
 * `anchor` is the row index.
 */
export function decodeEndToEndRows(
  predictions: OutputTensor,
  numClasses: number,
  confidence: number,
  batchIndex = 0,
): Candidate[] {
  const [batch, rows, width] = predictions.dims;
  if (predictions.dims.length !== 3 || batch === undefined || rows === undefined || width === undefined || width < 6) {
    throw new Error(`Predictions have shape [${predictions.dims.join(', ')}], expected [B, k, 6 (+ masks)]`);
  }
  if (batchIndex >= batch) throw new Error(`Batch item ${batchIndex} is out of range (batch ${batch})`);
  const data = predictions.data;
  const base = batchIndex * rows * width;
  const candidates: Candidate[] = [];
  for (let row = 0; row < rows; row++) {
    const offset = base + row * width;
    const score = data[offset + 4]!;
    if (!(score > confidence)) continue;
    const classId = data[offset + 5]!;
    if (!Number.isInteger(classId) || classId < 0 || classId >= numClasses) {
      throw new Error(`Row ${row} has class ${classId}, not one of the model's ${numClasses} classes`);
    }
    candidates.push({
      x1: data[offset]!,
      y1: data[offset + 1]!,
      x2: data[offset + 2]!,
      y2: data[offset + 3]!,
      score,
      classId,
      anchor: row,
    });
  }
  // The model's NMS gives them best first already; sorting keeps the detection limit right regardless.
  return candidates.sort((a, b) => b.score - a.score);
}

/** Mask coefficients of one end-to-end row (the values after x1, y1, x2, y2, score, class). */
export function endToEndMaskCoefficients(predictions: OutputTensor, row: number, batchIndex = 0): Float32Array {
  const [, rows = 0, width = 0] = predictions.dims;
  const start = (batchIndex * rows + row) * width + 6;
  return predictions.data.slice(start, start + width - 6);
}

/** A point in input pixels → original-image pixels (ops.scale_coords), clipped to the image. */
export function toOriginalPoint(x: number, y: number, letterbox: Letterbox, original: ImageSize): [number, number] {
  return [
    clamp((x - letterbox.padLeft) / letterbox.ratio, original.width),
    clamp((y - letterbox.padTop) / letterbox.ratio, original.height),
  ];
}

/** A box in input pixels → original-image pixels (ops.scale_boxes + clip_boxes). */
export function toOriginalBox(candidate: Candidate, letterbox: Letterbox, original: ImageSize): Box {
  const [x1, y1] = toOriginalPoint(candidate.x1, candidate.y1, letterbox, original);
  const [x2, y2] = toOriginalPoint(candidate.x2, candidate.y2, letterbox, original);
  return { x1, y1, x2, y2 };
}

function clamp(value: number, max: number): number {
  return Math.min(Math.max(value, 0), max);
}
