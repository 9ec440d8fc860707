import fs from 'node:fs';
import type { Config } from '../config/index.js';
import type { Logger } from '../shared/logger.js';
import type { Detector, ModelInfo } from './detector.js';
import { createOnnxDetector } from './onnx-detector.js';
import { createRemoteDetector } from './remote-detector.js';
import type { RemoteOutcome } from './remote-inference-client.js';

/**
 * Build the configured detector: remote (KServe v2 / Triton) when INFERENCE_URL is set,
 * otherwise in-process ONNX through onnxruntime-node.
 */
export async function loadDetector(
  config: Readonly<Config>,
  logger: Logger,
  hooks: { onRemoteRequest?: (server: string, outcome: RemoteOutcome) => void } = {},
): Promise<Detector> {
  const { model } = config;
  if (config.inference.urls.length > 0) {
    const remote = await createRemoteDetector({
      urls: config.inference.urls,
      modelName: config.inference.modelName,
      timeoutMs: config.inference.timeoutMs,
      localModelPath: model.path,
      maxPixels: config.recognition.maxImagePixels,
      maxInFlight: model.maxQueue + 2 * config.inference.urls.length,
      ...(model.names ? { names: model.names } : {}),
      ...(model.imgsz ? { imgsz: model.imgsz } : {}),
      logger,
      ...(hooks.onRemoteRequest ? { onServerRequest: hooks.onRemoteRequest } : {}),
    });
    logBuiltInNms(remote.info, logger);
    return remote;
  }
  if (!fs.existsSync(model.path)) {
    throw new Error(`Model file ${model.path} does not exist (set MODEL_PATH to an Ultralytics ONNX export)`);
  }
  const started = performance.now();
  const detector = await createOnnxDetector({
    modelPath: model.path,
    sessions: model.sessions,
    ...(model.threads ? { threads: model.threads } : {}),
    ...(model.spin !== null ? { spin: model.spin } : {}),
    maxQueue: model.maxQueue,
    maxPixels: config.recognition.maxImagePixels,
    ...(model.names ? { names: model.names } : {}),
    ...(model.imgsz ? { imgsz: model.imgsz } : {}),
    logger,
  });
  const { sha256, task, imgsz, names } = detector.info;
  logger.info(
    { model: model.path, sha256, task, imgsz, classes: Object.keys(names).length, loadMs: Math.round(performance.now() - started) },
    'model loaded',
  );
  logBuiltInNms(detector.info, logger);
  return detector;
}

/**
 * A model with NMS in its graph decides alone which boxes survive: said once at load, because
 * NMS_IOU / NMS_AGNOSTIC and any confidence (review floor included) under its export floor
 * have no effect on it.
 */
export function logBuiltInNms(info: ModelInfo, logger: Pick<Logger, 'warn'>): void {
  const builtIn = info.builtInNms;
  if (!builtIn) return;
  const { kind, maxDetections, confidenceFloor } = builtIn;
  const context = { model: info.path, kind, maxDetections, confidenceFloor };
  if (confidenceFloor !== null) {
    logger.warn(
      context,
      `the model runs its own NMS with a confidence floor fixed at export (${confidenceFloor} unless another conf was given): ` +
        'lower confidences, the review floor included, cannot be honoured; NMS IoU and agnostic settings do not apply',
    );
  } else {
    logger.warn(
      context,
      kind === 'end2end'
        ? 'the model is end-to-end (NMS-free head, best rows only): NMS IoU and agnostic settings do not apply'
        : 'the model seems to run its own NMS (its output has rows of x1, y1, x2, y2, score, class): any confidence ' +
            'floor it was exported with cannot be lowered here (Ultralytics uses 0.25); NMS IoU and agnostic settings do not apply',
    );
  }
}
