/**
 * The queue without Redis: tasks run in the API process, `concurrency` at a time, in
 * FIFO order, retried with a delay. Nothing survives a restart here; the job service
 * re-enqueues pending items of unfinished jobs from the database at start.
 */
import type { Logger } from '../shared/logger.js';
import { RETRY_DELAY_MS, TASK_ATTEMPTS, taskId, type ItemTask, type JobQueue, type TaskHandler } from './queue.js';

export function createInProcessQueue(options: { concurrency: number; logger: Logger; retryDelayMs?: number }): JobQueue {
  const waiting: Array<{ task: ItemTask; attempt: number }> = [];
  const known = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  const intervals = new Set<NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  let handler: TaskHandler | null = null;
  let closed = false;
  const retryDelay = options.retryDelayMs ?? RETRY_DELAY_MS;

  function pump(): void {
    while (handler && !closed && running.size < options.concurrency && waiting.length > 0) {
      const next = waiting.shift()!;
      const run = execute(handler, next.task, next.attempt).finally(() => {
        running.delete(run);
        pump();
      });
      running.add(run);
    }
  }

  async function execute(h: TaskHandler, task: ItemTask, attempt: number): Promise<void> {
    const final = attempt >= TASK_ATTEMPTS;
    try {
      await h.run(task, { attempt, final });
      known.delete(taskId(task));
    } catch (err) {
      if (final || closed) {
        known.delete(taskId(task));
        if (!closed) await h.abandoned(task, (err as Error).message).catch(() => undefined);
        return;
      }
      options.logger.warn({ jobId: task.jobId, itemId: task.itemId, attempt, err: (err as Error).message }, 'job item failed; retrying');
      const timer = setTimeout(() => {
        timers.delete(timer);
        waiting.push({ task, attempt: attempt + 1 });
        pump();
      }, retryDelay * attempt);
      timer.unref();
      timers.add(timer);
    }
  }

  return {
    kind: 'in-process',
    async enqueue(tasks) {
      for (const task of tasks) {
        const id = taskId(task);
        if (known.has(id)) continue;
        known.add(id);
        waiting.push({ task, attempt: 1 });
      }
      pump();
    },
    async missing(tasks) {
      return tasks.filter((task) => !known.has(taskId(task)));
    },
    process(h) {
      handler = h;
      pump();
    },
    async schedule(name, everyMs, fn) {
      const timer = setInterval(() => {
        fn().catch((err: Error) => options.logger.error({ task: name, err: err.message }, 'scheduled task failed'));
      }, everyMs);
      timer.unref();
      intervals.add(timer);
    },
    async counts() {
      return { waiting: waiting.length, active: running.size, delayed: timers.size };
    },
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      for (const t of intervals) clearInterval(t);
      timers.clear();
      intervals.clear();
      waiting.length = 0;
      await Promise.allSettled([...running]);
    },
  };
}
