/**
 * The detector port. Services see only this; onnxruntime-node (or a remote
 * inference server) lives behind it.
 */

/** Box in original-image pixels (after EXIF orientation). */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface RawDetection {
  /** Model class index. */
  classId: number;
  /** Model class name as the model's metadata names it (e.g. 'pliers', '7', 'Шэрница'). */
  className: string;
  confidence: number;
  box: Box;
  /** Segment models only: polygon outline(s) of the mask in original-image pixels. */
  polygon?: Array<[number, number]>;
}

export interface ModelInfo {
  /** sha256 of the .onnx file, hex. */
  sha256: string;
  path: string;
  task: 'detect' | 'segment';
  /** Class index → model class name. */
  names: Record<number, string>;
  /** [height, width] the model expects. */
  imgsz: [number, number];
  stride: number;
  /** Fixed batch size, or null when the batch axis is dynamic. */
  batch: number | null;
  description?: string;
  version?: string;
  date?: string;
  /**
   * The model's own NMS recommendation (metadata `agnostic_nms`, written by toolcontrol's
   * training script; Ultralytics exports have none): applies when NMS_AGNOSTIC is not set.
   */
  agnosticNms?: boolean;
  /**
   * Set for models whose graph ends in its own NMS (`export(nms=True)`; YOLOv10 / YOLO26
   * end-to-end heads): their rows come filtered and suppressed, so the NMS IoU and agnostic
   * settings do not apply, at most `maxDetections` rows come per image, and no score under
   * `confidenceFloor` (fixed at export; null when the head has none or it is unknown) arrives.
   * `kind` says how it was recognised: the `args` metadata, the `end2end` metadata, or the
   * output's shape alone.
   */
  builtInNms?: {
    kind: 'nms-export' | 'end2end' | 'output-shape';
    maxDetections: number | null;
    confidenceFloor: number | null;
  };
}

export interface DetectOptions {
  /** Minimum confidence kept (the lowest of request confidence, class thresholds, review floor). */
  confidence: number;
  /** NMS IoU threshold, default 0.7. */
  iou?: number;
  /** Suppress overlapping boxes across classes too (Ultralytics' agnostic_nms), default false. */
  agnostic?: boolean;
  /** At most this many detections, default 300. */
  maxDetections?: number;
}

/** NMS across classes or not: the operator's setting, else the model's recommendation, else Ultralytics' default (per class). */
export function agnosticNmsFor(configured: boolean | null, info: Pick<ModelInfo, 'agnosticNms'>): boolean {
  return configured ?? info.agnosticNms ?? false;
}

export interface DetectionResult {
  detections: RawDetection[];
  /** Size of the image the boxes refer to (after EXIF orientation). */
  image: { width: number; height: number };
  /**
   * Milliseconds: decode (header check, decode, orient, letterbox), inference (session.run),
   * postprocess (filter, NMS, scale, masks), queue (waiting for a session + thread hand-off).
   */
  timings: { decode: number; inference: number; postprocess: number; queue?: number };
}

export interface Detector {
  readonly info: ModelInfo;
  /**
   * Why the loaded model cannot run now (every inference session died and none could be
   * started again; retried with backoff); null or absent while it can. Health reports the
   * model as not loaded then, and detect() answers 503 model.unavailable.
   */
  readonly unavailableReason?: string | null;
  /** Decode, letterbox, run, decode outputs, NMS, scale back. Throws AppError for bad images. */
  detect(image: Buffer, options: DetectOptions): Promise<DetectionResult>;
  close(): Promise<void>;
}
