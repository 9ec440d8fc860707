/**
 * The worker side of jobs: one task = one image. Safe to run twice, or on two workers
 * at once: the item's outcome is recorded only while it is pending (JobsRepository.
 * finishItem), a second run's extra preview is removed, and the increment that reaches
 * the job's total finishes the job, once.
 */
import type { Job } from '../db/schema/index.js';
import type { ItemTask, TaskAttempt, TaskHandler } from '../jobs/queue.js';
import type { MediaStore } from '../media/media-store.js';
import type { Metrics } from '../metrics/metrics.js';
import type { JobsRepository } from '../repositories/jobs.js';
import type { PredictionsRepository } from '../repositories/predictions.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { itemError } from './batch-service.js';
import { isTerminal, jobSummary, removeJobInputs } from './job-service.js';
import type { PredictionService } from './prediction-service.js';

const QUEUE_LABEL = 'batch';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function createJobRunner(deps: {
  jobs: JobsRepository;
  predictions: Pick<PredictionService, 'predictStored'>;
  predictionRows: Pick<PredictionsRepository, 'delete'>;
  media: MediaStore;
  metrics: Metrics;
  clock: Clock;
  logger: Logger;
}): TaskHandler {
  const { jobs, media, metrics, logger } = deps;

  async function finished(job: Job): Promise<void> {
    const log = logger.child({ jobId: job.id });
    await removeJobInputs({ media, jobs, logger: log }, job.id);
    const seconds = job.startedAt && job.finishedAt ? (job.finishedAt.getTime() - job.startedAt.getTime()) / 1000 : null;
    metrics.jobs.inc({ queue: QUEUE_LABEL, outcome: job.state });
    if (seconds !== null) metrics.jobDuration.observe({ queue: QUEUE_LABEL }, seconds);
    // Counted in the database: the results themselves are not read again.
    const summary = jobSummary(job, await jobs.resultTotals(job.id));
    log.info(
      {
        state: job.state,
        ...summary,
        seconds,
        imagesPerSecond: seconds ? Math.round((job.total / seconds) * 100) / 100 : null,
      },
      'job finished',
    );
  }

  async function record(task: ItemTask, outcome: Parameters<JobsRepository['finishItem']>[2]): Promise<void> {
    const { counted, finished: done } = await jobs.finishItem(task.jobId, task.itemId, outcome, deps.clock.now());
    if (!counted && outcome.predictionId) {
      // Another run recorded this item first: this run's preview is surplus.
      await deps.predictionRows.delete(outcome.predictionId).catch(() => undefined);
      const key = typeof outcome.result?.image_url === 'string' ? outcome.result.image_url.replace(/^\/media\//, '') : null;
      if (key) await media.delete(key).catch(() => undefined);
    }
    if (done) await finished(done);
  }

  return {
    async run(task: ItemTask, attempt: TaskAttempt): Promise<void> {
      const item = await jobs.findItem(task.jobId, task.itemId);
      if (!item || item.state !== 'pending') return; // done already (a re-delivery)
      let job = await jobs.findById(task.jobId);
      if (!job || isTerminal(job.state)) return; // cancelled: nothing to do
      if (job.state === 'queued') {
        const started = await jobs.markRunning(job.id, deps.clock.now());
        if (started) {
          job = started;
          metrics.jobWait.observe({ queue: QUEUE_LABEL }, (started.startedAt!.getTime() - started.createdAt.getTime()) / 1000);
          logger.child({ jobId: job.id }).info({ total: job.total }, 'job started');
        }
      }

      const sourceKey = item.sourceKey;
      const stored = sourceKey ? await media.get(sourceKey) : null;
      if (!sourceKey || !stored) {
        // Not recorded if a cancel removed it meanwhile: finishItem records nothing once the job is over.
        await record(task, { state: 'failed', error: { status: 410, code: 'job.input_missing', detail: 'The stored photo is gone' } });
        return;
      }
      const image = await readAll(stored.stream);
      try {
        const { prediction, photoTaken } = await deps.predictions.predictStored({
          userId: job.userId,
          image,
          toolkitId: job.toolkitId,
          ...(job.confidence !== null ? { confidence: job.confidence } : {}),
          jobId: job.id,
          storedAs: sourceKey,
        });
        await record(task, {
          state: 'done',
          predictionId: prediction.id,
          result: prediction as unknown as Record<string, unknown>,
          // Only a preview that took the photo over removes it; otherwise the job's clean-up does.
          sourceHandedOver: photoTaken,
        });
      } catch (err) {
        const transient = !(err instanceof AppError) || err.status >= 500;
        if (transient && !attempt.final) {
          metrics.jobs.inc({ queue: QUEUE_LABEL, outcome: 'retried' });
          logger.warn({ jobId: job.id, item: item.entryName, attempt: attempt.attempt, err: (err as Error).message }, 'job item failed; will retry');
          throw err;
        }
        if (transient) logger.error({ jobId: job.id, item: item.entryName, err: (err as Error).message }, 'job item failed');
        await record(task, { state: 'failed', error: itemError(err) });
      }
    },

    async abandoned(task: ItemTask, reason: string): Promise<void> {
      await record(task, { state: 'failed', error: { status: 500, code: 'job.item_abandoned', detail: `The image could not be processed: ${reason}` } });
    },
  };
}
