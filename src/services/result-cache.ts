/**
 * The detection-result cache: the same photo, the same model and the same thresholds
 * give the same detections, so a repeated photo (a re-uploaded batch, a retried job
 * item, a checkin photo sent twice) skips decoding and inference. Only the detector's
 * output is cached, never the kit comparison: kits and aliases change, and the
 * comparison is recomputed from the cached detections every time.
 *
 * Keyed by (image sha256, model sha256, thresholds: request confidence, class
 * thresholds, review floor, NMS IoU). Lives in the Cache port: Redis when configured
 * (shared by every API process and worker), in-process otherwise. A Redis outage
 * degrades to misses, never to an error.
 */
import crypto from 'node:crypto';
import type { Cache } from '../cache/cache.js';
import type { DetectionResult, DetectOptions, Detector } from '../ml/detector.js';
import type { Logger } from '../shared/logger.js';

export interface CacheThresholds {
  confidence: number;
  reviewFloor: number;
  classThresholds: ReadonlyMap<string, number>;
}

export type CacheOutcome = 'hit' | 'miss';

export interface DetectionCache {
  /** `detector.detect` answered from the cache when it can; says which. */
  detect(
    detector: Detector,
    image: Buffer,
    options: DetectOptions,
    thresholds: CacheThresholds,
  ): Promise<DetectionResult & { cache: CacheOutcome }>;
}

const KEY_VERSION = 'v1';

export function detectionCacheKey(imageSha256: string, modelSha256: string, options: DetectOptions, thresholds: CacheThresholds): string {
  const classThresholds = [...thresholds.classThresholds.entries()].sort(([a], [b]) => a.localeCompare(b));
  const settings = JSON.stringify([
    thresholds.confidence,
    thresholds.reviewFloor,
    classThresholds,
    options.confidence,
    options.iou ?? null,
    options.maxDetections ?? null,
    options.agnostic ?? false,
  ]);
  const settingsHash = crypto.createHash('sha256').update(settings).digest('hex').slice(0, 32);
  return `det:${KEY_VERSION}:${modelSha256}:${imageSha256}:${settingsHash}`;
}

export function createDetectionCache(deps: { cache: Cache; ttlSeconds: number; logger: Logger }): DetectionCache {
  return {
    async detect(detector, image, options, thresholds) {
      const imageSha = crypto.createHash('sha256').update(image).digest('hex');
      const key = detectionCacheKey(imageSha, detector.info.sha256, options, thresholds);
      const cached = await deps.cache.get(key);
      if (cached !== null) {
        try {
          const { detections, image: size } = JSON.parse(cached) as Pick<DetectionResult, 'detections' | 'image'>;
          deps.logger.debug({ image: imageSha.slice(0, 12), cache: 'hit' }, 'detections from the result cache');
          return { detections, image: size, timings: { decode: 0, inference: 0, postprocess: 0 }, cache: 'hit' };
        } catch {
          // An unreadable entry (older format) is simply recomputed.
        }
      }
      const result = await detector.detect(image, options);
      await deps.cache.set(key, JSON.stringify({ detections: result.detections, image: result.image }), deps.ttlSeconds);
      return { ...result, cache: 'miss' };
    },
  };
}
