/**
 * Jobs wiring, used by createDeps: the queue (BullMQ with Redis, in-process without),
 * the job service (API side), the runner (worker side) and the retention schedule.
 * `startProcessing()` makes this process take tasks: the worker always calls it; the
 * API process calls it only when there is no Redis to share the work through.
 */
import type { Config } from '../config/index.js';
import type { MediaStore } from '../media/media-store.js';
import type { Metrics } from '../metrics/metrics.js';
import type { JobsRepository } from '../repositories/jobs.js';
import type { PredictionsRepository } from '../repositories/predictions.js';
import { createJobRunner } from '../services/job-runner.js';
import { createJobService } from '../services/job-service.js';
import type { PredictionService } from '../services/prediction-service.js';
import type { RecognitionService } from '../services/recognition-service.js';
import { createRetentionService } from '../services/retention-service.js';
import type { Clock } from '../shared/clock.js';
import type { Logger } from '../shared/logger.js';
import { createBullmqQueue } from './bullmq-queue.js';
import { createInProcessQueue } from './in-process-queue.js';
import type { JobQueue } from './queue.js';

export type { JobQueue } from './queue.js';

/** A job's tasks are queued right after it is written; one older than this with a task missing lost it. */
export const REQUEUE_AFTER_MS = 60_000;
const REQUEUE_EVERY_MS = 5 * 60_000;

export function createJobs(deps: {
  config: Readonly<Config>;
  jobs: JobsRepository;
  predictionRows: PredictionsRepository;
  predictions: PredictionService;
  recognition: Pick<RecognitionService, 'loadKit'>;
  media: MediaStore;
  metrics: Metrics;
  clock: Clock;
  logger: Logger;
  /** A queue to use instead of the configured one (tests). */
  queue?: JobQueue;
}) {
  const { config, logger } = deps;
  const queue =
    deps.queue ??
    (config.redisUrl
      ? createBullmqQueue({ redisUrl: config.redisUrl, logger, concurrency: config.jobs.concurrency, stallMs: config.jobs.stallMs })
      : createInProcessQueue({ concurrency: config.jobs.concurrency, logger }));
  deps.metrics.registerQueueDepth('job-items', () => queue.counts());

  const service = createJobService({
    jobs: deps.jobs,
    queue,
    media: deps.media,
    recognition: deps.recognition,
    zipLimits: config.jobs.zip,
    clock: deps.clock,
    logger,
  });
  const runner = createJobRunner({
    jobs: deps.jobs,
    predictions: deps.predictions,
    predictionRows: deps.predictionRows,
    media: deps.media,
    metrics: deps.metrics,
    clock: deps.clock,
    logger,
  });
  const retention = createRetentionService({
    predictions: deps.predictionRows,
    jobs: deps.jobs,
    media: deps.media,
    clock: deps.clock,
    logger,
    retentionHours: config.retention.previewHours,
  });

  let processing = false;
  return {
    queue,
    service,
    retention,
    /** Take tasks in this process and run retention on its schedule. */
    async startProcessing(): Promise<void> {
      if (processing) return;
      processing = true;
      queue.process(runner);
      await queue.schedule('retention', config.retention.intervalMinutes * 60_000, async () => {
        await retention.run();
      });
      if (queue.kind === 'in-process') {
        await service.recover();
      } else {
        // Tasks the queue lost (the API died between writing a job and queueing it, Redis lost
        // its data) are found in the database and queued again, at start and then regularly.
        const requeue = async () => void (await service.recover({ olderThanMs: REQUEUE_AFTER_MS }));
        await requeue();
        await queue.schedule('requeue-lost-items', REQUEUE_EVERY_MS, requeue);
      }
    },
    close: () => queue.close(),
  };
}

export type Jobs = ReturnType<typeof createJobs>;
