/**
 * From raw model outputs to detections in original-image pixels: confidence filter,
 * class-aware NMS, scale back through the letterbox, and mask outlines for segment models.
 * Models with NMS built in skip the NMS here: their rows are filtered and scaled alike.
 */
import type { PreprocessedImage } from '../media/preprocess.js';
import type { DetectionResult, DetectOptions, ModelInfo, RawDetection } from './detector.js';
import type { ModelLayout } from './model-info.js';
import { nonMaxSuppression } from './nms.js';
import { maskPolygon } from './segment-mask.js';
import {
  decodeCandidates,
  decodeEndToEndRows,
  endToEndMaskCoefficients,
  maskCoefficients,
  toOriginalBox,
  type OutputTensor,
} from './yolo-output.js';

export const DEFAULT_IOU = 0.7;
export const DEFAULT_MAX_DETECTIONS = 300;

export interface PostprocessInput {
  outputs: Record<string, OutputTensor>;
  info: ModelInfo;
  layout: ModelLayout;
  image: Pick<PreprocessedImage, 'imgsz' | 'letterbox' | 'original'>;
  options: DetectOptions;
  /** Which batch item holds the image (0 unless several images share a batch). */
  batchIndex?: number;
}

export function postprocess(input: PostprocessInput): RawDetection[] {
  const { outputs, info, layout, image, options, batchIndex = 0 } = input;
  const predictions = requireOutput(outputs, layout.predictionsName);
  const prototypes = layout.prototypesName ? requireOutput(outputs, layout.prototypesName) : null;
  checkRuntimeShapes(predictions, prototypes, layout);
  const maxDetections = options.maxDetections ?? DEFAULT_MAX_DETECTIONS;

  const endToEnd = layout.head === 'end-to-end';
  // The IoU and agnostic options cannot apply to a model that ran its own NMS.
  const kept = endToEnd
    ? decodeEndToEndRows(predictions, layout.numClasses, options.confidence, batchIndex).slice(0, maxDetections)
    : nonMaxSuppression(
        decodeCandidates(predictions, layout.numClasses, options.confidence, batchIndex),
        options.iou ?? DEFAULT_IOU,
        maxDetections,
        options.agnostic ?? false,
      );
  return kept.map((candidate) => {
    const detection: RawDetection = {
      classId: candidate.classId,
      className: info.names[candidate.classId] ?? String(candidate.classId),
      confidence: candidate.score,
      box: toOriginalBox(candidate, image.letterbox, image.original),
    };
    if (prototypes) {
      detection.polygon = maskPolygon({
        prototypes,
        batchIndex,
        coefficients: endToEnd
          ? endToEndMaskCoefficients(predictions, candidate.anchor, batchIndex)
          : maskCoefficients(predictions, layout.numClasses, candidate.anchor, batchIndex),
        box: candidate,
        imgsz: image.imgsz,
        letterbox: image.letterbox,
        original: image.original,
      });
    }
    return detection;
  });
}

function requireOutput(outputs: Record<string, OutputTensor>, name: string): OutputTensor {
  const output = outputs[name];
  if (!output) throw new Error(`The model returned no '${name}' output`);
  return output;
}

function checkRuntimeShapes(predictions: OutputTensor, prototypes: OutputTensor | null, layout: ModelLayout): void {
  const { numClasses } = layout;
  const numMasks = prototypes ? (prototypes.dims[1] ?? 0) : 0;
  if (layout.head === 'end-to-end') {
    if (predictions.dims.length !== 3 || predictions.dims[2] !== 6 + numMasks) {
      throw new Error(
        `Output shape [${predictions.dims.join(', ')}] is not [B, k, ${6 + numMasks}] (rows of x1, y1, x2, y2, score, class` +
          (prototypes ? ` and ${numMasks} mask coefficients)` : ')'),
      );
    }
  } else if (predictions.dims.length !== 3 || predictions.dims[1] !== 4 + numClasses + numMasks) {
    throw new Error(
      `Output shape [${predictions.dims.join(', ')}] does not fit ${numClasses} classes` +
        (prototypes ? ` and ${numMasks} mask coefficients` : ''),
    );
  }
  if (prototypes && (prototypes.dims.length !== 4 || prototypes.dims[0] !== predictions.dims[0])) {
    throw new Error(`Prototype output shape [${prototypes.dims.join(', ')}] is not [B, nm, mh, mw]`);
  }
}

/**
 * One detection as every Detector runs it: prepare (decode + letterbox), infer (in
 * process or remote), postprocess; with the per-stage timings. `inferMs` is the model's
 * own time; the rest of the wait (queue, failed attempts, backoff) is reported as `queue`.
 */
export async function runDetection(steps: {
  prepare: () => Promise<PreprocessedImage>;
  infer: (prepared: PreprocessedImage) => Promise<{ outputs: Record<string, OutputTensor>; inferMs: number }>;
  info: ModelInfo;
  layout: ModelLayout;
  options: DetectOptions;
}): Promise<DetectionResult> {
  const decodeStart = performance.now();
  const prepared = await steps.prepare();
  const sentAt = performance.now();
  const { outputs, inferMs } = await steps.infer(prepared);
  const postStart = performance.now();
  const detections = postprocess({ outputs, info: steps.info, layout: steps.layout, image: prepared, options: steps.options });
  return {
    detections,
    image: prepared.original,
    timings: {
      decode: sentAt - decodeStart,
      inference: inferMs,
      postprocess: performance.now() - postStart,
      queue: Math.max(0, postStart - sentAt - inferMs),
    },
  };
}
