/**
 * Retention: preview images (/predict/*) and their result rows are deleted
 * `retentionHours` after they were made; a job, with its previews, `retentionHours` after it
 * finished (a job that runs for days keeps its first results meanwhile). Operation evidence
 * (`operations/…`) is a record the organisation must keep: it is never deleted here,
 * even if a preview row were to point at it.
 */
import type { MediaStore } from '../media/media-store.js';
import type { JobsRepository } from '../repositories/jobs.js';
import type { PredictionsRepository } from '../repositories/predictions.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { removeJobInputs } from './job-service.js';

const BATCH = 500;
const DELETABLE_PREFIXES = ['previews/', 'jobs/'];

export function isDeletablePreviewKey(key: string): boolean {
  return DELETABLE_PREFIXES.some((p) => key.startsWith(p));
}

export function createRetentionService(deps: {
  predictions: Pick<PredictionsRepository, 'listOlderThan' | 'delete'>;
  jobs: Pick<JobsRepository, 'listFinishedBefore' | 'delete' | 'sourceKeys' | 'clearSourceKeys'>;
  media: MediaStore;
  clock: Clock;
  logger: Logger;
  retentionHours: number;
}) {
  async function run(): Promise<{ previews: number; images: number; jobs: number }> {
    const cutoff = new Date(deps.clock.now().getTime() - deps.retentionHours * 3600_000);
    let previews = 0;
    let images = 0;
    for (;;) {
      const rows = await deps.predictions.listOlderThan(cutoff, BATCH);
      if (rows.length === 0) break;
      for (const row of rows) {
        for (const key of [row.annotatedImageKey, row.originalImageKey]) {
          if (!key) continue;
          if (!isDeletablePreviewKey(key)) {
            deps.logger.warn({ predictionId: row.id, key }, 'retention: a preview points outside previews/; image kept');
            continue;
          }
          await deps.media.delete(key);
          images++;
        }
        // The row goes only after its images: a crash in between leaves a row to retry, not an orphan file.
        await deps.predictions.delete(row.id);
        previews++;
      }
      if (rows.length < BATCH) break;
    }

    let jobs = 0;
    for (;;) {
      const old = await deps.jobs.listFinishedBefore(cutoff, BATCH);
      if (old.length === 0) break;
      for (const job of old) {
        await removeJobInputs({ media: deps.media, jobs: deps.jobs as JobsRepository, logger: deps.logger }, job.id);
        await deps.jobs.delete(job.id);
        jobs++;
      }
      if (old.length < BATCH) break;
    }
    if (previews + jobs > 0) deps.logger.info({ previews, images, jobs, cutoff: cutoff.toISOString() }, 'retention: old previews and jobs deleted');
    return { previews, images, jobs };
  }

  return { run };
}

export type RetentionService = ReturnType<typeof createRetentionService>;
