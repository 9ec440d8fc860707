/**
 * Recognition: photo + kit → detections mapped to tools, the kit comparison, and
 * the annotated evidence image. Stores nothing: previews and operations decide
 * where the images and the result go.
 */
import { TOOL_CLASSES } from '../domain/tool-classes.js';
import { classifyDetections, detectorFloor, type ThresholdPolicy } from '../domain/detection-classification.js';
import { compareKit, type KitComparison, type KitItemExpectation } from '../domain/kit-comparison.js';
import { agnosticNmsFor, type Box, type Detector, type ModelInfo } from '../ml/detector.js';
import { NotFoundError, ServiceUnavailableError, ConflictError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { DetectionCache } from './result-cache.js';

/** A detection as the API and the stored result show it. */
export interface ToolDetection {
  /** The model's class name. */
  class_name: string;
  /** The tool class it maps to, or null when no alias maps it. */
  tool_key: string | null;
  /** Russian tool name (or the model class name when unmapped). */
  tool_name: string;
  confidence: number;
  /** Between the review floor and the class threshold: needs a human look. */
  uncertain: boolean;
  box: Box;
}

export interface ModelIdentity {
  sha256: string;
  file: string;
  task: ModelInfo['task'];
  imgsz: [number, number];
  version?: string;
}

export interface AppliedThresholds {
  confidence: number;
  review_floor: number;
  class_thresholds: Record<string, number>;
  match_threshold: number;
  iou: number;
  agnostic_nms: boolean;
}

export interface Recognition {
  toolkit: { id: number; name: string };
  detections: ToolDetection[];
  counts: Record<string, number>;
  comparison: KitComparison;
  /** Detections whose model class maps to no tool (ignored by the comparison). */
  unmapped: string[];
  model: ModelIdentity;
  thresholds: AppliedThresholds;
  image: { width: number; height: number };
  timings_ms: { decode: number; inference: number; postprocess: number; annotate: number; total: number; cache?: 'hit' | 'miss' };
  /** The annotated JPEG (boxes, Russian labels, legend of missing tools); null when not drawn (`draw: false`). */
  annotated: Buffer | null;
}

export interface KitExpectation {
  toolkit: { id: number; name: string; isActive: boolean };
  items: KitItemExpectation[];
}

/** What recognition reads from the database. */
export interface RecognitionCatalog {
  kit(toolkitId: number): Promise<KitExpectation | null>;
  aliases(): Promise<ReadonlyMap<string, string>>;
  classThresholds(): Promise<ReadonlyMap<string, number>>;
}

export interface AnnotationRequest {
  image: Buffer;
  detections: Array<{ toolKey: string | null; label: string; confidence: number; box: Box; uncertain: boolean; polygon?: Array<[number, number]> }>;
  missing: Array<{ label: string; count: number }>;
  extra: Array<{ label: string; count: number }>;
}

export interface RecognitionSettings {
  defaultConfidence: number;
  reviewFloor: number;
  matchThreshold: number;
  nmsIou: number;
  /** null: the model's recommendation (agnosticNmsFor). */
  nmsAgnostic: boolean | null;
}

const KNOWN_KEYS = new Set<string>(TOOL_CLASSES.map((c) => c.key));
const TOOL_NAMES: Record<string, string> = Object.fromEntries(TOOL_CLASSES.map((c) => [c.key, c.name]));

export function createRecognitionService(deps: {
  detector: Detector | null;
  catalog: RecognitionCatalog;
  annotate: (request: AnnotationRequest) => Promise<Buffer>;
  settings: RecognitionSettings;
  logger: Logger;
  /** Detections of a repeated photo come from here (same model and thresholds); absent: always run the model. */
  detectionCache?: DetectionCache;
}) {
  const { catalog, settings, logger } = deps;

  function requireDetector(): Detector {
    if (!deps.detector) {
      throw new ServiceUnavailableError('model.unavailable', 'The recognition model is not loaded; see /base/health', 30);
    }
    return deps.detector;
  }

  /** The kit to compare with; 404 when unknown, 409 when deactivated. */
  async function loadKit(toolkitId: number, options: { requireActive: boolean }): Promise<KitExpectation> {
    const kit = await catalog.kit(toolkitId);
    if (!kit) throw new NotFoundError('toolkit.not_found', `Toolkit ${toolkitId} does not exist`);
    if (options.requireActive && !kit.toolkit.isActive) {
      throw new ConflictError('toolkit.inactive', `Toolkit ${toolkitId} is deactivated`);
    }
    return kit;
  }

  async function recognize(input: {
    image: Buffer;
    toolkitId: number;
    confidence?: number;
    requireActiveKit?: boolean;
    /** false: skip the annotated image (drawn later from the stored result, see prediction-service). */
    draw?: boolean;
  }): Promise<Recognition> {
    const started = performance.now();
    const detector = requireDetector();
    const [kit, aliases, classThresholds] = await Promise.all([
      loadKit(input.toolkitId, { requireActive: input.requireActiveKit ?? false }),
      catalog.aliases(),
      catalog.classThresholds(),
    ]);
    const policy: ThresholdPolicy = {
      requestConfidence: input.confidence ?? settings.defaultConfidence,
      classThresholds,
      reviewFloor: settings.reviewFloor,
    };

    const agnostic = agnosticNmsFor(settings.nmsAgnostic, detector.info);
    const detectOptions = { confidence: detectorFloor(policy), iou: settings.nmsIou, agnostic };
    const result = deps.detectionCache
      ? await deps.detectionCache.detect(detector, input.image, detectOptions, {
          confidence: policy.requestConfidence,
          reviewFloor: settings.reviewFloor,
          classThresholds,
        })
      : { ...(await detector.detect(input.image, detectOptions)), cache: undefined };
    const classified = classifyDetections(result.detections, aliases, KNOWN_KEYS, policy);
    const comparison = compareKit(
      kit.items,
      classified.map((c) => ({ classKey: c.classKey, confidence: c.detection.confidence, uncertain: c.uncertain })),
      { matchThreshold: settings.matchThreshold, toolNames: TOOL_NAMES },
    );

    const detections: ToolDetection[] = classified.map((c) => ({
      class_name: c.detection.className,
      tool_key: c.classKey,
      tool_name: c.classKey ? (TOOL_NAMES[c.classKey] ?? c.classKey) : c.detection.className,
      confidence: round4(c.detection.confidence),
      uncertain: c.uncertain,
      box: roundBox(c.detection.box),
    }));

    const annotateStarted = performance.now();
    const annotated = input.draw === false ? null : await deps.annotate({
      image: input.image,
      detections: classified.map((c, i) => ({
        toolKey: c.classKey,
        label: detections[i]!.tool_name,
        confidence: c.detection.confidence,
        box: c.detection.box,
        uncertain: c.uncertain,
        ...(c.detection.polygon ? { polygon: c.detection.polygon } : {}),
      })),
      missing: comparison.missing.map((m) => ({ label: m.tool_name, count: m.count })),
      extra: comparison.extra.map((m) => ({ label: m.tool_name, count: m.count })),
    });
    const annotateMs = performance.now() - annotateStarted;

    const info = detector.info;
    const recognition: Recognition = {
      toolkit: { id: kit.toolkit.id, name: kit.toolkit.name },
      detections,
      counts: comparison.counts,
      comparison,
      unmapped: [...new Set(classified.filter((c) => c.classKey === null).map((c) => c.detection.className))],
      model: {
        sha256: info.sha256,
        file: info.path.split('/').pop() ?? info.path,
        task: info.task,
        imgsz: info.imgsz,
        ...(info.version ? { version: info.version } : {}),
      },
      thresholds: {
        confidence: policy.requestConfidence,
        review_floor: settings.reviewFloor,
        class_thresholds: Object.fromEntries(classThresholds),
        match_threshold: settings.matchThreshold,
        iou: settings.nmsIou,
        agnostic_nms: agnostic,
      },
      image: result.image,
      timings_ms: {
        decode: ms(result.timings.decode),
        inference: ms(result.timings.inference),
        postprocess: ms(result.timings.postprocess),
        annotate: ms(annotateMs),
        total: ms(performance.now() - started),
        ...(result.cache ? { cache: result.cache } : {}),
      },
      annotated,
    };
    logger.info(
      {
        toolkitId: kit.toolkit.id,
        model: info.sha256.slice(0, 12),
        image: result.image,
        detections: detections.length,
        status: comparison.status,
        match: comparison.match_percentage,
        missing: comparison.missing.map((m) => m.class_key),
        timings: recognition.timings_ms,
      },
      'recognition',
    );
    return recognition;
  }

  /** The loaded model's task ('detect' or 'segment'), null without a model. */
  function modelTask(): ModelInfo['task'] | null {
    return deps.detector?.info.task ?? null;
  }

  return { recognize, loadKit, modelTask };
}

export type RecognitionService = ReturnType<typeof createRecognitionService>;

function ms(value: number): number {
  return Math.round(value * 10) / 10;
}

function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}

function roundBox(box: Box): Box {
  const r = (v: number) => Math.round(v * 10) / 10;
  return { x1: r(box.x1), y1: r(box.y1), x2: r(box.x2), y2: r(box.y2) };
}
