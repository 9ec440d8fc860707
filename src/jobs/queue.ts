/**
 * The queue port. A job (an archive, a batch of photos) is split into one task per
 * image, so any number of workers share a job and a worker that dies loses only the
 * images it was holding, which the queue hands to another worker. Tasks are
 * idempotent: an item's outcome is recorded once (see JobsRepository.finishItem), so a
 * task run twice never counts twice.
 *
 *   BullMQ (REDIS_URL set): the API enqueues; `npm run worker` processes, anywhere.
 *   In-process (no Redis): the API process runs the tasks itself, a few at a time.
 */

/** One image of a job. */
export interface ItemTask {
  jobId: string;
  itemId: number;
}

export interface TaskAttempt {
  /** 1 for the first run. */
  attempt: number;
  /** No retry follows: a failure now must be recorded as the item's outcome. */
  final: boolean;
}

export interface TaskHandler {
  /** Throwing asks for a retry (unless `final`). */
  run(task: ItemTask, attempt: TaskAttempt): Promise<void>;
  /** The queue gave up on a task outside `run` (e.g. its workers kept dying while holding it). */
  abandoned(task: ItemTask, reason: string): Promise<void>;
}

export interface JobQueue {
  readonly kind: 'bullmq' | 'in-process';
  /** Add tasks; a task already queued or running (same job and item) is not added twice. */
  enqueue(tasks: ItemTask[]): Promise<void>;
  /**
   * Of these tasks (pending in the database), those the queue does not hold waiting, running or
   * retrying. A task the queue kept after it ended is let go, so it can be added again.
   */
  missing(tasks: ItemTask[]): Promise<ItemTask[]>;
  /** Start taking tasks (a worker process, or the API process without Redis). */
  process(handler: TaskHandler): void;
  /** Run `fn` every `everyMs` in one of the processing processes (maintenance such as retention). */
  schedule(name: string, everyMs: number, fn: () => Promise<void>): Promise<void>;
  /** Tasks by state, for metrics. */
  counts(): Promise<Partial<Record<string, number>>>;
  /** Stop taking tasks and wait for the running ones. */
  close(): Promise<void>;
}

/** Retries of a failing task (a transient error: the model busy, the database away). */
export const TASK_ATTEMPTS = 3;
export const RETRY_DELAY_MS = 1_000;

export function taskId(task: ItemTask): string {
  // BullMQ custom ids must not contain ':'.
  return `${task.jobId}.${task.itemId}`;
}
