/**
 * The in-process Detector: any Ultralytics YOLOv8/YOLO11 detect or segment ONNX export,
 * run by onnxruntime-node sessions in worker threads behind a bounded FIFO queue.
 */
import { availableParallelism } from 'node:os';
import { DEFAULT_MAX_PIXELS, preprocessImage, type PreprocessedImage } from '../media/preprocess.js';
import { ServiceUnavailableError } from '../shared/errors.js';
import type { DetectionResult, DetectOptions, Detector, ModelInfo } from './detector.js';
import { createInferencePool, InferenceUnavailableError, type InferencePoolOptions } from './inference-pool.js';
import type { WireTensor } from './inference-messages.js';
import { resolveModelInfo, type ModelFallbacks, type ModelLayout } from './model-info.js';
import { readOnnxMetadataProps, sha256File } from './onnx-metadata.js';
import { runDetection } from './yolo-postprocess.js';

export interface OnnxDetectorOptions extends ModelFallbacks {
  modelPath: string;
  /** Sessions (worker threads) running in parallel. Default 1: on few cores one session with all threads is fastest. */
  sessions?: number;
  /** intraOpNumThreads per session. Default: available cores / sessions. */
  threads?: number;
  /** Intra-op threads spin between runs: lower latency, more CPU. Default true (onnxruntime's default). */
  spin?: boolean;
  /** Requests allowed to wait beyond those being served; more get 503. Default 16. */
  maxQueue?: number;
  /** Images with more pixels are refused (422) from their header. Default 40 MP. */
  maxPixels?: number;
  /** Worker crashes and restarts are logged here. */
  logger?: InferencePoolOptions['logger'];
  /** Restarting workers that fail to load the model (see InferencePoolOptions). */
  respawnBackoffMs?: number;
  respawnMaxBackoffMs?: number;
  /** Sees every inference worker thread started (tests). */
  onWorker?: InferencePoolOptions['onWorker'];
}

export interface OnnxDetector extends Detector {
  /** Decode + letterbox only, as detect() does it (for benchmarks). */
  prepare(image: Buffer): Promise<PreprocessedImage>;
  /**
   * Raw session.run on a prepared image, outside the admission limit (for benchmarks).
   * The prepared tensor stays usable. runMs is measured around session.run in the worker.
   */
  runRaw(prepared: PreprocessedImage): Promise<{ runMs: number }>;
  /** Requests admitted and not finished. */
  readonly inFlight: number;
}

const DEFAULT_MAX_QUEUE = 16;
const MAX_RETRY_AFTER_SECONDS = 30;

export async function createOnnxDetector(options: OnnxDetectorOptions): Promise<OnnxDetector> {
  const sessions = options.sessions ?? 1;
  const threads = options.threads ?? Math.max(1, Math.floor(availableParallelism() / sessions));
  const maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(Number.isInteger(maxQueue) && maxQueue >= 0)) throw new Error('maxQueue must be an integer ≥ 0');

  const [metadata, sha256] = await Promise.all([
    readOnnxMetadataProps(options.modelPath),
    sha256File(options.modelPath),
  ]);
  const pool = await createInferencePool({
    modelPath: options.modelPath,
    sessions,
    threads,
    ...(options.spin !== undefined ? { spin: options.spin } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.respawnBackoffMs !== undefined ? { respawnBackoffMs: options.respawnBackoffMs } : {}),
    ...(options.respawnMaxBackoffMs !== undefined ? { respawnMaxBackoffMs: options.respawnMaxBackoffMs } : {}),
    ...(options.onWorker ? { onWorker: options.onWorker } : {}),
  });
  let resolved: { info: ModelInfo; layout: ModelLayout };
  try {
    resolved = resolveModelInfo({
      path: options.modelPath,
      sha256,
      metadata,
      signature: pool.signature,
      fallbacks: { names: options.names, imgsz: options.imgsz },
    });
  } catch (error) {
    await pool.close();
    throw error;
  }
  const { info, layout } = resolved;
  const batchSize = info.batch ?? 1;
  const capacity = sessions + maxQueue;
  let inFlight = 0;
  /** Moving average of session.run time, for Retry-After. */
  let averageRunMs = 0;

  function inputFeeds(tensor: Float32Array): Record<string, WireTensor> {
    const [height, width] = info.imgsz;
    // A fixed batch larger than 1 gets the image in slot 0 and zeros elsewhere.
    const data = batchSize === 1 ? tensor : padBatch(tensor, batchSize);
    return { [layout.inputName]: { data, dims: [batchSize, 3, height, width] } };
  }

  function retryAfterSeconds(): number {
    const drainMs = ((inFlight + 1) * averageRunMs) / sessions;
    return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(drainMs / 1000)));
  }

  function prepare(image: Buffer): Promise<PreprocessedImage> {
    return preprocessImage(image, { imgsz: info.imgsz, maxPixels });
  }

  /** Every worker died and none could be started again: 503 until the pool's retry succeeds. */
  async function run(feeds: Record<string, WireTensor>) {
    try {
      return await pool.run(feeds);
    } catch (error) {
      if (!(error instanceof InferenceUnavailableError)) throw error;
      throw new ServiceUnavailableError(
        'model.unavailable',
        'The recognition model is not available; see /base/health',
        Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(error.retryAfterMs / 1000))),
      );
    }
  }

  return {
    info,
    get inFlight() {
      return inFlight;
    },
    get unavailableReason() {
      return pool.unavailable;
    },
    prepare,

    async detect(image: Buffer, detectOptions: DetectOptions): Promise<DetectionResult> {
      checkDetectOptions(detectOptions);
      if (inFlight >= capacity) {
        throw new ServiceUnavailableError(
          'inference.queue_full',
          'The recognition queue is full; retry shortly',
          retryAfterSeconds(),
        );
      }
      inFlight++;
      try {
        return await runDetection({
          prepare: () => prepare(image),
          infer: async (prepared) => {
            const { outputs, runMs } = await run(inputFeeds(prepared.tensor));
            averageRunMs = averageRunMs === 0 ? runMs : 0.8 * averageRunMs + 0.2 * runMs;
            return { outputs, inferMs: runMs };
          },
          info,
          layout,
          options: detectOptions,
        });
      } finally {
        inFlight--;
      }
    },

    async runRaw(prepared: PreprocessedImage): Promise<{ runMs: number }> {
      const { runMs } = await run(inputFeeds(prepared.tensor.slice()));
      return { runMs };
    },

    close: () => pool.close(),
  };
}

function padBatch(tensor: Float32Array, batchSize: number): Float32Array {
  const batch = new Float32Array(tensor.length * batchSize);
  batch.set(tensor);
  return batch;
}

function checkDetectOptions(options: DetectOptions): void {
  const { confidence, iou, maxDetections } = options;
  if (!(confidence >= 0 && confidence <= 1)) throw new RangeError('confidence must be within [0, 1]');
  if (iou !== undefined && !(iou >= 0 && iou <= 1)) throw new RangeError('iou must be within [0, 1]');
  if (maxDetections !== undefined && !(Number.isInteger(maxDetections) && maxDetections >= 1)) {
    throw new RangeError('maxDetections must be a positive integer');
  }
}
