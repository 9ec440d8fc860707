/**
 * Seed 000's synchronous /predict/batch and /predict/zip: every image recognised and
 * compared with the kit, in the request. One bad image never fails the batch: it gets
 * its own problem entry. Beyond `syncLimit` images the request is refused (413) with a
 * pointer to the jobs API, which runs large batches in the background.
 */
import type { ZipLimits } from '../media/zip-reader.js';
import { AppError, ServiceUnavailableError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { SkippedEntry, ItemError } from '../db/schema/index.js';
import { countCandidates, forEachImage, noImagesError, summarise, type BatchSummary, type UploadSource } from './batch-input.js';
import type { PredictionResult, PredictionService } from './prediction-service.js';
import type { RecognitionService } from './recognition-service.js';
import { seedBatchItemFields, seedFailedItemFields, type SeedBatchItemFields, type SeedRegisterSource } from './seed-fields.js';

/** toolcontrol's item, and seed 000's `BatchImageResult` fields (its `filename` is the same). */
export type BatchItemResult = {
  index: number;
  filename: string;
  prediction: PredictionResult | null;
  error: ItemError | null;
} & SeedBatchItemFields;

export interface BatchResult {
  /** seed 000 `BatchPredictResponse`: images with a result, images without one (skipped entries are neither). */
  successful_images: number;
  failed_images: number;
  results: BatchItemResult[];
  skipped: SkippedEntry[];
  summary: BatchSummary;
}

/** The problem of one image, as a batch item or job item shows it. */
export function itemError(err: unknown): ItemError {
  if (err instanceof AppError) return { status: err.status, code: err.code, detail: err.message };
  return { status: 500, code: 'internal', detail: 'The image could not be processed (internal error; see the server log)' };
}

/** 413: more images than a synchronous request handles; the jobs API takes them. */
export class BatchTooLargeError extends AppError {
  /** `images` null: more than the limit, counted no further. */
  constructor(images: number | null, limit: number) {
    super(
      413,
      'batch.too_large',
      `${images ?? 'More'} images ${images === null ? 'than' : 'is more than'} the ${limit} answered synchronously; submit them as a job instead: ` +
        'POST /api/v1/jobs (same fields), then follow GET /api/v1/jobs/{id}/events',
      { images, sync_limit: limit, jobs_url: '/api/v1/jobs' },
    );
  }
}

export function createBatchService(deps: {
  predictions: Pick<PredictionService, 'predict'>;
  recognition: Pick<RecognitionService, 'loadKit'>;
  seedRegister: SeedRegisterSource;
  modelReady: () => boolean;
  zipLimits: ZipLimits;
  syncLimit: number;
  logger: Logger;
}) {
  /** `userId` null: an anonymous preview (PREVIEW_AUTH=none), recorded with no owner. */
  async function predict(input: { userId: number | null; toolkitId: number; confidence?: number; source: UploadSource }): Promise<BatchResult> {
    if (!deps.modelReady()) {
      throw new ServiceUnavailableError('model.unavailable', 'The recognition model is not loaded; see /base/health', 30);
    }
    await deps.recognition.loadKit(input.toolkitId, { requireActive: false });
    const candidates = await countCandidates(input.source, deps.zipLimits);
    if (candidates > deps.syncLimit) throw new BatchTooLargeError(candidates, deps.syncLimit);
    const register = await deps.seedRegister.forKit(input.toolkitId);

    const started = performance.now();
    const results: BatchItemResult[] = [];
    const { skipped } = await forEachImage(input.source, deps.zipLimits, async (image) => {
      try {
        const prediction = await deps.predictions.predict({
          userId: input.userId,
          image: image.data,
          toolkitId: input.toolkitId,
          ...(input.confidence !== undefined ? { confidence: input.confidence } : {}),
        });
        results.push({ index: image.index, filename: image.name, prediction, error: null, ...seedBatchItemFields(prediction, register) });
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500) {
          deps.logger.error({ filename: image.name, err: (err as Error).message }, 'batch image failed');
        }
        const error = itemError(err);
        results.push({ index: image.index, filename: image.name, prediction: null, error, ...seedFailedItemFields(error) });
      }
    });
    const summary = summarise(results, { images: results.length, skipped: skipped.length });
    // As the original's /predict/zip: an archive without a single photo is a 400, not an empty batch.
    if (input.source.kind === 'zip' && results.length === 0) throw noImagesError(input.source, skipped);
    deps.logger.info(
      { source: input.source.kind, toolkitId: input.toolkitId, ...summary, ms: Math.round(performance.now() - started) },
      'batch recognised',
    );
    return { successful_images: summary.processed, failed_images: summary.failed, results, skipped, summary };
  }

  return { predict };
}

export type BatchService = ReturnType<typeof createBatchService>;
