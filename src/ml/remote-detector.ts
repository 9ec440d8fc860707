/**
 * A Detector whose model runs on remote inference servers (NVIDIA Triton or any KServe v2 /
 * Open Inference Protocol server). Pre- and post-processing stay here, exactly as in-process:
 * the letterboxed FP32 tensor goes out, the raw output tensors come back, and NMS and scaling
 * run locally — so results equal the in-process detector's for the same model file.
 *
 * Model identity (class names, imgsz, task) comes from the local ONNX file's metadata when
 * MODEL_PATH exists (the same file the server holds), else from MODEL_NAMES / MODEL_IMGSZ;
 * the tensor layout from the server's model metadata.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { DEFAULT_MAX_PIXELS, preprocessImage } from '../media/preprocess.js';
import { ServiceUnavailableError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { DetectionResult, DetectOptions, Detector, ModelInfo } from './detector.js';
import { exportArgs, resolveModelInfo, type Dim, type ModelFallbacks, type ModelLayout, type ModelSignature } from './model-info.js';
import type { ModelStatus } from './model-status.js';
import { readOnnxMetadataProps, sha256File } from './onnx-metadata.js';
import { parsePythonLiteral } from './python-literal.js';
import {
  createRemoteInferenceClient,
  type RemoteModelMetadata,
  type RemoteOutcome,
  type RemoteServerStatus,
  type RemoteTensor,
} from './remote-inference-client.js';
import { runDetection } from './yolo-postprocess.js';

export interface RemoteDetectorOptions extends ModelFallbacks {
  urls: readonly string[];
  /** The model's name on the server (Triton: its folder in the model repository). */
  modelName: string;
  modelVersion?: string;
  /** Per request to one server. */
  timeoutMs: number;
  retries?: number;
  backoffMs?: number;
  /** Binary tensor data extension (Triton); false sends JSON `data`. Default true. */
  binary?: boolean;
  /** The same ONNX file the server runs, for its metadata and hash; optional. */
  localModelPath?: string | null;
  maxPixels?: number;
  /** Images admitted at once (being prepared, sent, or waiting); more get 503. Default 32. */
  maxInFlight?: number;
  /** Readiness probe period; 0 disables the timer. Default 10 s. */
  probeIntervalMs?: number;
  logger: Logger;
  onServerRequest?: (server: string, outcome: RemoteOutcome) => void;
}

export interface RemoteDetector extends Detector {
  readonly remote: true;
  /** Images admitted and not finished. */
  readonly inFlight: number;
  /** True when at least one server was ready at the last probe or request. */
  readonly ready: boolean;
  servers(): RemoteServerStatus[];
  /** Probe every server's /v2/health/ready now. */
  probe(): Promise<RemoteServerStatus[]>;
}

const DEFAULT_MAX_IN_FLIGHT = 32;
/** Ultralytics segment heads have 32 mask prototypes. */
const ULTRALYTICS_MASKS = 32;

export async function createRemoteDetector(options: RemoteDetectorOptions): Promise<RemoteDetector> {
  const { logger } = options;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const client = createRemoteInferenceClient({
    urls: options.urls,
    model: options.modelName,
    ...(options.modelVersion ? { version: options.modelVersion } : {}),
    timeoutMs: options.timeoutMs,
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(options.backoffMs !== undefined ? { backoffMs: options.backoffMs } : {}),
    ...(options.binary !== undefined ? { binary: options.binary } : {}),
    logger,
    ...(options.onServerRequest ? { onRequest: options.onServerRequest } : {}),
  });

  const local =
    options.localModelPath && fs.existsSync(options.localModelPath)
      ? {
          path: options.localModelPath,
          metadata: await readOnnxMetadataProps(options.localModelPath),
          sha256: await sha256File(options.localModelPath),
        }
      : null;
  const remote = await client.metadata().catch((error: Error) => {
    logger.warn({ targets: options.urls, err: error.message }, 'inference server metadata unavailable at start');
    return null;
  });
  const metadata = local?.metadata ?? new Map<string, string>();
  let signature: ModelSignature;
  if (remote) {
    signature = signatureFromRemote(remote);
  } else if (local || options.names) {
    // The server is not up yet: assume the Ultralytics export layout (the README's config.pbtxt).
    signature = ultralyticsSignature(metadata, options);
  } else {
    throw new Error(
      `No inference server at ${options.urls.join(', ')} gave the metadata of model '${options.modelName}', ` +
        'and there is no local model file (MODEL_PATH) or MODEL_NAMES to describe it',
    );
  }
  const identity = local?.sha256 ?? remoteIdentity(options.modelName, remote);
  const { info, layout } = resolveModelInfo({
    path: local?.path ?? `${options.urls[0]}/v2/models/${options.modelName}`,
    sha256: identity,
    metadata,
    signature,
    fallbacks: { names: options.names, imgsz: options.imgsz },
  });
  const outputNames = [layout.predictionsName, ...(layout.prototypesName ? [layout.prototypesName] : [])];

  await client.probe();
  const probeTimer =
    (options.probeIntervalMs ?? 10_000) > 0
      ? setInterval(() => void client.probe().catch(() => undefined), options.probeIntervalMs ?? 10_000)
      : null;
  probeTimer?.unref();
  logger.info(
    { servers: options.urls, model: options.modelName, task: info.task, imgsz: info.imgsz, identity: local ? 'file' : 'server' },
    'remote inference configured',
  );

  let inFlight = 0;

  const datatype = layout.inputType === 'float16' ? 'FP16' : 'FP32';
  function feeds(tensor: Float32Array): Record<string, RemoteTensor> {
    const batch = info.batch ?? 1;
    const [height, width] = info.imgsz;
    let data = tensor;
    if (batch > 1) {
      data = new Float32Array(tensor.length * batch);
      data.set(tensor);
    }
    return { [layout.inputName]: { data, dims: [batch, 3, height, width], datatype } };
  }

  return {
    remote: true,
    info,
    get inFlight() {
      return inFlight;
    },
    get ready() {
      return client.status().some((s) => s.ready === true);
    },
    servers: () => client.status(),
    probe: () => client.probe(),

    async detect(image: Buffer, detectOptions: DetectOptions): Promise<DetectionResult> {
      checkDetectOptions(detectOptions);
      if (inFlight >= maxInFlight) {
        throw new ServiceUnavailableError('inference.queue_full', 'The recognition queue is full; retry shortly', 1);
      }
      inFlight++;
      try {
        // Failed attempts and backoff before the answer count as queue time.
        return await runDetection({
          prepare: () => preprocessImage(image, { imgsz: info.imgsz, maxPixels }),
          infer: async (prepared) => {
            const { outputs, roundTripMs } = await client.infer(feeds(prepared.tensor), outputNames);
            return { outputs, inferMs: roundTripMs };
          },
          info,
          layout: layout as ModelLayout,
          options: detectOptions,
        });
      } finally {
        inFlight--;
      }
    },

    async close() {
      if (probeTimer) clearInterval(probeTimer);
    },
  };
}

export function isRemoteDetector(detector: Detector | null | undefined): detector is RemoteDetector {
  return !!detector && (detector as Partial<RemoteDetector>).remote === true;
}

/** The model status health reports: a remote model with no ready server is not loaded. */
export function withRemoteReadiness(status: ModelStatus, detector: Detector | null): ModelStatus {
  if (!isRemoteDetector(detector) || detector.ready) return status;
  const reasons = detector.servers().map((s) => `${s.url}: ${s.error ?? 'not probed yet'}`);
  return { loaded: false, path: detector.info.path, error: `no inference server is ready (${reasons.join('; ')})` };
}

const DATATYPES: Record<string, string> = {
  FP32: 'float32',
  FP16: 'float16',
  FP64: 'float64',
  INT64: 'int64',
  INT32: 'int32',
  UINT8: 'uint8',
};

function signatureFromRemote(meta: RemoteModelMetadata): ModelSignature {
  const convert = (t: RemoteModelMetadata['inputs'][number]) => ({
    name: t.name,
    type: DATATYPES[t.datatype] ?? t.datatype.toLowerCase(),
    shape: t.shape.map((d): Dim => (d >= 0 ? d : 'dynamic')),
  });
  return { inputs: meta.inputs.map(convert), outputs: meta.outputs.map(convert) };
}

/** What an Ultralytics export looks like: images [B, 3, H, W] → output0 (+ output1 for segment). */
function ultralyticsSignature(metadata: ReadonlyMap<string, string>, fallbacks: ModelFallbacks): ModelSignature {
  const segment = metadata.get('task') === 'segment';
  const batchText = metadata.get('batch');
  const batch: Dim = batchText && /^\d+$/.test(batchText) ? Number(batchText) : 'batch';
  let imgsz: Dim[] = ['height', 'width'];
  const imgszText = metadata.get('imgsz');
  const declared = imgszText ? parsePythonLiteral(imgszText) : fallbacks.imgsz;
  if (typeof declared === 'number') imgsz = [declared, declared];
  else if (Array.isArray(declared) && declared.length === 2 && declared.every((v) => typeof v === 'number')) {
    imgsz = declared as number[];
  }
  // half=True exports take and give float16 (`args` records it).
  const type = exportArgs(metadata.get('args'))?.get('half') === true ? 'float16' : 'float32';
  return {
    inputs: [{ name: 'images', type, shape: [batch, 3, ...imgsz] }],
    outputs: [
      { name: 'output0', type, shape: [batch, 'channels', 'anchors'] },
      ...(segment ? [{ name: 'output1', type, shape: [batch, ULTRALYTICS_MASKS, 'mh', 'mw'] }] : []),
    ],
  };
}

/** Without the file, the model is identified by a hash of its name and the server's description of it. */
function remoteIdentity(name: string, meta: RemoteModelMetadata | null): string {
  const description = JSON.stringify({ name, versions: meta?.versions ?? null, platform: meta?.platform ?? null, inputs: meta?.inputs ?? null, outputs: meta?.outputs ?? null });
  return crypto.createHash('sha256').update(description).digest('hex');
}

function checkDetectOptions(options: DetectOptions): void {
  const { confidence, iou, maxDetections } = options;
  if (!(confidence >= 0 && confidence <= 1)) throw new RangeError('confidence must be within [0, 1]');
  if (iou !== undefined && !(iou >= 0 && iou <= 1)) throw new RangeError('iou must be within [0, 1]');
  if (maxDetections !== undefined && !(Number.isInteger(maxDetections) && maxDetections >= 1)) {
    throw new RangeError('maxDetections must be a positive integer');
  }
}
