import fs from 'node:fs';
import type { Config } from '../config/index.js';
import type { Logger } from '../shared/logger.js';
import type { Detector } from './detector.js';
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
    return createRemoteDetector({
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
  });
  const { sha256, task, imgsz, names } = detector.info;
  logger.info(
    { model: model.path, sha256, task, imgsz, classes: Object.keys(names).length, loadMs: Math.round(performance.now() - started) },
    'model loaded',
  );
  return detector;
}
