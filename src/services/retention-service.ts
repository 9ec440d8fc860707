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

const BATCH = 500;
const DELETABLE_PREFIXES = ['previews/', 'jobs/'];

export function isDeletablePreviewKey(key: string): boolean {
  return DELETABLE_PREFIXES.some((p) => key.startsWith(p));
}

export function createRetentionService(deps: {
  predictions: Pick<PredictionsRepository, 'listOlderThan' | 'deleteMany'>;
  jobs: Pick<JobsRepository, 'listFinishedBefore' | 'deleteMany' | 'sourceKeysOfJobs'>;
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
      // A row goes only after its images: a crash in between leaves a row to retry, not an
      // orphan file. The rows whose images are gone are deleted together, also when a later
      // image could not be (that error is thrown after).
      const cleared: string[] = [];
      let failure: unknown = null;
      try {
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
          cleared.push(row.id);
        }
      } catch (err) {
        failure = err;
      }
      await deps.predictions.deleteMany(cleared);
      previews += cleared.length;
      if (failure) throw failure;
      if (rows.length < BATCH) break;
    }

    let jobs = 0;
    for (;;) {
      const old = await deps.jobs.listFinishedBefore(cutoff, BATCH);
      if (old.length === 0) break;
      // Their stored photos first (a photo that cannot be removed is logged, as when a job
      // ends), then the jobs with their items in one statement.
      for (const { jobId, key } of await deps.jobs.sourceKeysOfJobs(old.map((j) => j.id))) {
        await deps.media.delete(key).catch((err: Error) => deps.logger.warn({ jobId, key, err: err.message }, 'could not remove a job input'));
      }
      await deps.jobs.deleteMany(old.map((j) => j.id));
      jobs += old.length;
      if (old.length < BATCH) break;
    }
    if (previews + jobs > 0) deps.logger.info({ previews, images, jobs, cutoff: cutoff.toISOString() }, 'retention: old previews and jobs deleted');
    return { previews, images, jobs };
  }

  return { run };
}

export type RetentionService = ReturnType<typeof createRetentionService>;
