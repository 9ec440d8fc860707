/**
 * Preview recognition (seed 000's /predict/* and job items): recognise and compare
 * with a kit, keep the annotated image for a while (owner-checked), record no operation.
 *
 * Job items defer the annotated image: the photo is already in the media store, so
 * the row keeps its key and the annotated image is drawn from the stored result the
 * first time someone opens it (`drawDeferred`). A shift's batch is mostly never looked
 * at photo by photo; drawing only what is opened saves most of a worker's image work.
 */
import type { MediaStore } from '../media/media-store.js';
import { newMediaKey } from '../media/media-store.js';
import type { PredictionsRepository } from '../repositories/predictions.js';
import type { Logger } from '../shared/logger.js';
import type { AnnotationRequest, Recognition, RecognitionService, ToolDetection } from './recognition-service.js';
import { seedPredictFields, type SeedPredictFields, type SeedRegisterSource } from './seed-fields.js';

export interface PredictionResult extends Omit<Recognition, 'annotated'> {
  id: string;
  image_url: string;
}

export function mediaUrl(key: string): string {
  return `/media/${key}`;
}

type StoredResult = Pick<Recognition, 'toolkit' | 'detections' | 'comparison' | 'model' | 'thresholds' | 'image' | 'unmapped'>;

export function createPredictionService(deps: {
  recognition: RecognitionService;
  annotate: (request: AnnotationRequest) => Promise<Buffer>;
  media: MediaStore;
  predictions: PredictionsRepository;
  /** The register for seed 000's own /predict/ fields (`predictWithSeedFields`). */
  seedRegister: SeedRegisterSource;
  logger: Logger;
}) {
  interface PredictInput {
    userId: number | null;
    image: Buffer;
    toolkitId: number;
    confidence?: number;
    jobId?: string;
  }

  async function run(input: PredictInput, storedAs: string | null): Promise<{ prediction: PredictionResult; photoTaken: boolean }> {
    const defer = storedAs !== null && deps.recognition.modelTask() !== 'segment';
    const { annotated, ...recognition } = await deps.recognition.recognize({ ...input, draw: !defer });
    const key = newMediaKey('preview', 'annotated.jpg');
    if (annotated) await deps.media.put(key, annotated, 'image/jpeg');
    try {
      const row = await deps.predictions.insert({
        userId: input.userId,
        toolkitId: input.toolkitId,
        jobId: input.jobId ?? null,
        originalImageKey: defer ? storedAs : null,
        annotatedImageKey: key,
        resultJson: toStoredResult(recognition),
      });
      return { prediction: { id: row.id, ...recognition, image_url: mediaUrl(key) }, photoTaken: defer };
    } catch (err) {
      // No record, no file: the image would be unreachable anyway.
      if (annotated) await deps.media.delete(key).catch((e: Error) => deps.logger.error({ key, err: e.message }, 'could not remove orphan preview image'));
      throw err;
    }
  }

  async function predict(input: PredictInput): Promise<PredictionResult> {
    return (await run(input, null)).prediction;
  }

  /** `predict`, plus the fields seed 000's backend answered /predict/ with (its `PredictResponse`). */
  async function predictWithSeedFields(input: PredictInput): Promise<PredictionResult & SeedPredictFields> {
    const [prediction, register] = await Promise.all([predict(input), deps.seedRegister.forKit(input.toolkitId)]);
    return { ...prediction, ...seedPredictFields(prediction, register) };
  }

  /**
   * A photo stored under `storedAs` already (a job input). The annotated image is drawn
   * when first opened, and the preview takes the photo over (retention removes it):
   * `photoTaken`. Segment models draw at once (their masks are not kept in the stored
   * result), so the photo stays the caller's to remove.
   */
  async function predictStored(input: PredictInput & { storedAs: string }): Promise<{ prediction: PredictionResult; photoTaken: boolean }> {
    const { storedAs, ...rest } = input;
    return run(rest, storedAs);
  }

  /**
   * Draws a deferred preview's annotated image if `key` names one whose photo is still
   * stored. Returns whether the image now exists. Two viewers at once both draw; the
   * store's atomic rename makes the second write harmless.
   */
  async function drawDeferred(key: string): Promise<boolean> {
    const row = await deps.predictions.findDeferred(key);
    if (!row?.originalImageKey) return false;
    const photo = await deps.media.get(row.originalImageKey);
    if (!photo) return false;
    const chunks: Buffer[] = [];
    for await (const chunk of photo.stream) chunks.push(chunk as Buffer);
    const result = row.resultJson as unknown as StoredResult;
    const annotated = await deps.annotate({
      image: Buffer.concat(chunks),
      detections: result.detections.map((d: ToolDetection) => ({
        toolKey: d.tool_key,
        label: d.tool_name,
        confidence: d.confidence,
        box: d.box,
        uncertain: d.uncertain,
      })),
      missing: result.comparison.missing.map((m) => ({ label: m.tool_name, count: m.count })),
      extra: result.comparison.extra.map((m) => ({ label: m.tool_name, count: m.count })),
    });
    await deps.media.put(key, annotated, 'image/jpeg');
    deps.logger.debug({ key, prediction: row.id }, 'deferred preview drawn');
    return true;
  }

  return { predict, predictWithSeedFields, predictStored, drawDeferred };
}

function toStoredResult(recognition: Omit<Recognition, 'annotated'>): Record<string, unknown> {
  const { detections, comparison, model, thresholds, image, unmapped, toolkit } = recognition;
  return { toolkit, detections, comparison, model, thresholds, image, unmapped } satisfies StoredResult;
}

export type PredictionService = ReturnType<typeof createPredictionService>;
