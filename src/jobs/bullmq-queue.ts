/**
 * The queue on Redis with BullMQ. The API process only enqueues; `npm run worker`
 * processes, any number of them on any machine sharing PostgreSQL, Redis and the
 * media store. A worker killed mid-task loses its lock; after `stallMs` BullMQ hands
 * the task to another worker (stalled-job recovery), and the item's once-only outcome
 * (JobsRepository.finishItem) makes the re-run harmless.
 */
import { Queue, QueueEvents, Worker, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedisClient } from '../cache/redis-client.js';
import type { Logger } from '../shared/logger.js';
import { RETRY_DELAY_MS, TASK_ATTEMPTS, taskId, type ItemTask, type JobQueue, type TaskHandler } from './queue.js';

export const ITEMS_QUEUE = 'toolcontrol-job-items';
export const MAINTENANCE_QUEUE = 'toolcontrol-maintenance';

export interface BullmqQueueOptions {
  redisUrl: string;
  logger: Logger;
  concurrency: number;
  /** Lock duration and stalled-check interval: how soon a dead worker's tasks move on. */
  stallMs: number;
  /** Enqueueing waits this long for Redis before failing (the API answers 503). */
  enqueueTimeoutMs?: number;
}

function parseTaskId(id: string | undefined): ItemTask | null {
  const match = /^([0-9a-f-]{36})\.(\d+)$/.exec(id ?? '');
  return match ? { jobId: match[1]!, itemId: Number(match[2]) } : null;
}

export function createBullmqQueue(options: BullmqQueueOptions): JobQueue {
  const { logger } = options;
  const connections: Redis[] = [];
  const connect = (): ConnectionOptions => {
    const client = createRedisClient(options.redisUrl, logger, { forBullmq: true });
    connections.push(client);
    return client as unknown as ConnectionOptions;
  };
  const queue = new Queue<ItemTask>(ITEMS_QUEUE, { connection: connect() });
  queue.on('error', (err) => logger.warn({ err: err.message }, 'job queue error'));
  const workers: Worker[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  let maintenance: Queue | null = null;
  const scheduled = new Map<string, () => Promise<void>>();

  return {
    kind: 'bullmq',
    async enqueue(tasks) {
      if (tasks.length === 0) return;
      const timeoutMs = options.enqueueTimeoutMs ?? 5_000;
      let timer: NodeJS.Timeout | undefined;
      const add = queue.addBulk(
        tasks.map((task) => ({
          name: 'item',
          data: task,
          opts: {
            jobId: taskId(task),
            // Retries are decided by the handler (TaskAttempt.final); BullMQ re-delivers after a failure.
            attempts: TASK_ATTEMPTS,
            backoff: { type: 'exponential', delay: RETRY_DELAY_MS },
            removeOnComplete: { age: 3600, count: 10_000 },
            removeOnFail: { age: 7 * 24 * 3600 },
          },
        })),
      );
      try {
        await Promise.race([
          add,
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`Redis did not accept the tasks within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },

    async missing(tasks) {
      const lost: ItemTask[] = [];
      for (let i = 0; i < tasks.length; i += 200) {
        const chunk = tasks.slice(i, i + 200);
        const held = await Promise.all(
          chunk.map(async (task) => {
            const job = await queue.getJob(taskId(task));
            if (!job) return false;
            // Kept after it ended (completed for an hour, failed for a week) while its item is
            // still pending (its outcome could not be written): it holds the id, so adding the
            // task again would do nothing. Remove it; the task is lost.
            const state = await job.getState();
            if (state !== 'completed' && state !== 'failed') return true;
            await job.remove();
            return false;
          }),
        );
        chunk.forEach((task, n) => {
          if (!held[n]) lost.push(task);
        });
      }
      return lost;
    },

    process(handler: TaskHandler) {
      const worker = new Worker<ItemTask>(
        ITEMS_QUEUE,
        async (job) => {
          const attempt = job.attemptsMade + 1;
          await handler.run(job.data, { attempt, final: attempt >= (job.opts.attempts ?? 1) });
        },
        {
          connection: connect(),
          concurrency: options.concurrency,
          lockDuration: options.stallMs,
          stalledInterval: options.stallMs,
          maxStalledCount: 3,
        },
      );
      worker.on('error', (err) => logger.warn({ err: err.message }, 'job worker error'));
      worker.on('stalled', (id) => logger.warn({ task: id }, 'job item stalled (its worker died?); running it again'));
      workers.push(worker);
      closers.push(() => worker.close());
      // A task BullMQ fails on its own (stalled too often) never reaches the handler's final attempt.
      const events = new QueueEvents(ITEMS_QUEUE, { connection: connect() });
      events.on('error', (err) => logger.warn({ err: err.message }, 'job queue events error'));
      events.on('failed', ({ jobId, failedReason }) => {
        const task = parseTaskId(jobId);
        if (task) handler.abandoned(task, failedReason).catch((err: Error) => logger.error({ err: err.message }, 'could not record an abandoned item'));
      });
      closers.push(() => events.close());
    },

    async schedule(name, everyMs, fn) {
      scheduled.set(name, fn);
      if (!maintenance) {
        maintenance = new Queue(MAINTENANCE_QUEUE, { connection: connect() });
        maintenance.on('error', (err) => logger.warn({ err: err.message }, 'maintenance queue error'));
        const m = maintenance;
        closers.push(() => m.close());
        const worker = new Worker(
          MAINTENANCE_QUEUE,
          async (job) => {
            const task = scheduled.get(job.name);
            if (task) await task();
          },
          { connection: connect(), concurrency: 1 },
        );
        worker.on('error', (err) => logger.warn({ err: err.message }, 'maintenance worker error'));
        workers.push(worker);
        closers.push(() => worker.close());
      }
      // One schedule across every worker process: the scheduler id is the task's name.
      await maintenance.upsertJobScheduler(name, { every: everyMs }, { name, opts: { removeOnComplete: 10, removeOnFail: 50 } });
    },

    async counts() {
      return queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
    },

    async close() {
      // Workers first: running tasks finish (or keep their lock until it expires).
      for (const close of closers.reverse()) await close().catch(() => undefined);
      await queue.close().catch(() => undefined);
      for (const client of connections) {
        await client.quit().catch(() => client.disconnect());
      }
    },
  };
}
