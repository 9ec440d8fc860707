/**
 * Preview recognition (seed 000's /predict/*): recognise and compare with a kit,
 * keep the annotated image for a while (owner-checked), record no operation.
 */
import type { MediaStore } from '../media/media-store.js';
import { newMediaKey } from '../media/media-store.js';
import type { PredictionsRepository } from '../repositories/predictions.js';
import type { Logger } from '../shared/logger.js';
import type { Recognition, RecognitionService } from './recognition-service.js';

export interface PredictionResult extends Omit<Recognition, 'annotated'> {
  id: string;
  image_url: string;
}

export function mediaUrl(key: string): string {
  return `/media/${key}`;
}

export function createPredictionService(deps: {
  recognition: RecognitionService;
  media: MediaStore;
  predictions: PredictionsRepository;
  logger: Logger;
}) {
  async function predict(input: {
    userId: number | null;
    image: Buffer;
    toolkitId: number;
    confidence?: number;
    jobId?: string;
  }): Promise<PredictionResult> {
    const { annotated, ...recognition } = await deps.recognition.recognize(input);
    const key = newMediaKey('preview', 'annotated.jpg');
    await deps.media.put(key, annotated, 'image/jpeg');
    try {
      const row = await deps.predictions.insert({
        userId: input.userId,
        toolkitId: input.toolkitId,
        jobId: input.jobId ?? null,
        annotatedImageKey: key,
        resultJson: toStoredResult(recognition),
      });
      return { id: row.id, ...recognition, image_url: mediaUrl(key) };
    } catch (err) {
      // No record, no file: the image would be unreachable anyway.
      await deps.media.delete(key).catch((e: Error) => deps.logger.error({ key, err: e.message }, 'could not remove orphan preview image'));
      throw err;
    }
  }

  return { predict };
}

function toStoredResult(recognition: Omit<Recognition, 'annotated'>): Record<string, unknown> {
  const { detections, comparison, model, thresholds, image, unmapped, toolkit } = recognition;
  return { toolkit, detections, comparison, model, thresholds, image, unmapped };
}

export type PredictionService = ReturnType<typeof createPredictionService>;
