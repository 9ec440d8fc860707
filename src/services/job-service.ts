/**
 * Jobs: large batches and ZIP archives recognised in the background.
 *
 * Submitting reads the upload once (streaming, the ZIP checked entry by entry), stores
 * each accepted photo in the media store (`jobs/…`), records the job and one item per
 * photo in one transaction, and enqueues one task per item. Workers (job-runner) do the
 * recognition. Reading a job, its report and its event stream only reads the database,
 * so any API process answers for any job, wherever it runs.
 *
 * Only the owner, storekeepers and admins see a job; anyone else gets 404.
 */
import crypto from 'node:crypto';
import { newMediaKey, type MediaStore } from '../media/media-store.js';
import type { ZipLimits } from '../media/zip-reader.js';
import type { Job, JobItem, SkippedEntry, UserRole } from '../db/schema/index.js';
import type { JobQueue } from '../jobs/queue.js';
import type { JobsRepository, ResultTotals } from '../repositories/jobs.js';
import type { Clock } from '../shared/clock.js';
import { ConflictError, NotFoundError, ServiceUnavailableError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { forEachImage, noImagesError, sourceSha256, summarise, type BatchSummary, type SourceImage, type UploadSource } from './batch-input.js';
import type { RecognitionService } from './recognition-service.js';

export interface Viewer {
  id: number;
  role: UserRole;
}

export interface JobItemView {
  index: number;
  entry_name: string;
  /** entry_name again, under the name /predict/batch results use. */
  filename: string;
  state: JobItem['state'];
  prediction: Record<string, unknown> | null;
  error: JobItem['error'];
}

export interface JobView {
  job_id: string;
  state: Job['state'];
  user_id: number;
  toolkit_id: number;
  confidence: number | null;
  source: Job['source'];
  archive_name: string | null;
  archive_sha256: string;
  total: number;
  processed: number;
  failed: number;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  summary: BatchSummary;
  results: JobItemView[];
  skipped: SkippedEntry[];
}

export type JobEvent =
  | { event: 'progress'; data: { state: Job['state']; total: number; processed: number; failed: number } }
  | { event: 'item'; id: string; data: JobItemView }
  | { event: 'done'; data: { state: Job['state']; summary: BatchSummary; error: string | null } };

/** Photos of one upload written to the media store at the same time. */
const PARALLEL_WRITES = 4;

/**
 * How far back from the newest item it sent an event stream looks again: an item's
 * finished_at is taken just before its transaction, which may commit after a later one's
 * (or on a worker whose clock is a little behind). Beyond this the count check catches it.
 */
const WATCH_OVERLAP_MS = 2_000;

/** Results a cancel answers with (the first page, as GET /api/v1/jobs/{id} gives by default). */
const CANCEL_RESULTS_PAGE = 500;

const TERMINAL = new Set<Job['state']>(['completed', 'failed', 'cancelled']);

export function isTerminal(state: Job['state']): boolean {
  return TERMINAL.has(state);
}

export function itemView(item: JobItem): JobItemView {
  return { index: item.entryIndex, entry_name: item.entryName, filename: item.entryName, state: item.state, prediction: item.result ?? null, error: item.error ?? null };
}

/** A page of a job's results; the summary always covers every finished image. */
export interface ResultsPage {
  skip: number;
  limit: number;
}

/** The summary of a job from its totals (counted in the database). */
export function jobSummary(job: Job, totals: ResultTotals): BatchSummary {
  return {
    images: job.total,
    processed: totals.processed,
    failed: totals.failed,
    skipped: job.skipped.length,
    kits_complete: totals.kitsComplete,
    tools_missing: totals.toolsMissing,
  };
}

/** The summary of a job from items already read (every finished one among them counts). */
export function summaryOfItems(job: Job, items: JobItem[]): BatchSummary {
  return summarise(
    items.filter((i) => i.state !== 'pending').map((i) => ({ prediction: (i.result as never) ?? null, error: i.error })),
    { images: job.total, skipped: job.skipped.length },
  );
}

/** The job as the API shows it, with `results` (finished items, in entry order) as given. */
export function jobView(job: Job, summary: BatchSummary, results: JobItem[]): JobView {
  return {
    job_id: job.id,
    state: job.state,
    user_id: job.userId,
    toolkit_id: job.toolkitId,
    confidence: job.confidence,
    source: job.source,
    archive_name: job.archiveName,
    archive_sha256: job.archiveSha256,
    total: job.total,
    processed: job.processed,
    failed: job.failed,
    error: job.error,
    created_at: job.createdAt.toISOString(),
    started_at: job.startedAt?.toISOString() ?? null,
    finished_at: job.finishedAt?.toISOString() ?? null,
    summary,
    results: results.map(itemView),
    skipped: job.skipped,
  };
}

/** Removes a job's stored input photos (once it is over, or when submitting fails). */
export async function removeJobInputs(deps: { media: MediaStore; jobs: JobsRepository; logger: Logger }, jobId: string): Promise<void> {
  const keys = await deps.jobs.sourceKeys(jobId);
  for (const key of keys) {
    await deps.media.delete(key).catch((err: Error) => deps.logger.warn({ jobId, key, err: err.message }, 'could not remove a job input'));
  }
  await deps.jobs.clearSourceKeys(jobId);
}

export function createJobService(deps: {
  jobs: JobsRepository;
  queue: JobQueue;
  media: MediaStore;
  recognition: Pick<RecognitionService, 'loadKit'>;
  zipLimits: ZipLimits;
  clock: Clock;
  logger: Logger;
}) {
  const { jobs, media, logger } = deps;

  /** The job if the viewer may see it; 404 otherwise (ids cannot be probed). */
  async function visibleJob(viewer: Viewer, id: string): Promise<Job> {
    const job = /^[0-9a-f-]{36}$/i.test(id) ? await jobs.findById(id) : null;
    if (!job || (viewer.role === 'engineer' && job.userId !== viewer.id)) throw new NotFoundError('job.not_found', `Job ${id} does not exist`);
    return job;
  }

  async function create(input: {
    userId: number;
    toolkitId: number;
    confidence?: number;
    source: UploadSource;
  }): Promise<{ job: JobView; deduplicated: boolean }> {
    await deps.recognition.loadKit(input.toolkitId, { requireActive: false });
    const archiveSha256 = sourceSha256(input.source);
    const confidence = input.confidence ?? null;
    const existing = await jobs.findActiveDuplicate({ userId: input.userId, archiveSha256, toolkitId: input.toolkitId, confidence });
    if (existing) {
      logger.info({ jobId: existing.id }, 'same upload resubmitted while its job runs; returning that job');
      return { job: jobView(existing, summaryOfItems(existing, []), []), deduplicated: true };
    }

    const jobId = crypto.randomUUID();
    const stored: string[] = [];
    const items: Array<{ entryIndex: number; entryName: string; imageSha256: string; sourceKey: string }> = [];
    // A few photos are written at once: each put waits for its data and its folder to
    // reach the disk, and those waits overlap (200 photos: ≈ 1.6 s one by one, ≈ 0.4 s
    // four at a time). The ZIP is still read one entry at a time.
    const writing = new Set<Promise<void>>();
    let writeError: unknown = null;
    const storeImage = async (image: SourceImage) => {
      const key = newMediaKey('job', `${jobId}_${image.index}.${image.ext}`, deps.clock.now());
      try {
        await media.put(key, image.data, `image/${image.ext}`);
      } catch (err) {
        writeError ??= err;
        return;
      }
      stored.push(key);
      items.push({
        entryIndex: image.index,
        entryName: image.name,
        imageSha256: crypto.createHash('sha256').update(image.data).digest('hex'),
        sourceKey: key,
      });
    };
    let skipped: SkippedEntry[];
    try {
      ({ skipped } = await forEachImage(input.source, deps.zipLimits, async (image) => {
        if (writeError) throw writeError;
        const write = storeImage(image).finally(() => writing.delete(write));
        writing.add(write);
        if (writing.size >= PARALLEL_WRITES) await Promise.race(writing);
      }));
      await Promise.all(writing);
      if (writeError) throw writeError;
      if (items.length === 0) {
        throw noImagesError(input.source, skipped);
      }
    } catch (err) {
      // Writes still under way finish first, so that every file written is removed.
      await Promise.all(writing);
      await Promise.all(stored.map((key) => media.delete(key).catch(() => undefined)));
      if (err !== writeError) throw err;
      logger.error({ err, toolkitId: input.toolkitId }, 'storing job photos failed');
      throw new ServiceUnavailableError(
        'media.write_failed',
        `A photo could not be stored (${(err as NodeJS.ErrnoException).code ?? 'storage error'}); no job was created. Try again.`,
        5,
      );
    }
    items.sort((a, b) => a.entryIndex - b.entryIndex);

    let created: { job: Job; items: JobItem[] };
    try {
      created = await jobs.create(
        {
          id: jobId,
          userId: input.userId,
          toolkitId: input.toolkitId,
          confidence,
          source: input.source.kind,
          archiveName: input.source.kind === 'zip' ? input.source.filename : null,
          archiveSha256,
          total: items.length,
          skipped,
        },
        items,
      );
    } catch (err) {
      await Promise.all(stored.map((key) => media.delete(key).catch(() => undefined)));
      throw err;
    }

    const log = logger.child({ jobId });
    try {
      await deps.queue.enqueue(created.items.map((item) => ({ jobId, itemId: item.id })));
    } catch (err) {
      log.error({ err: (err as Error).message }, 'job could not be queued');
      await jobs.fail(jobId, 'The job queue is unavailable', deps.clock.now());
      await removeJobInputs({ media, jobs, logger: log }, jobId);
      throw new ServiceUnavailableError('jobs.queue_unavailable', 'The job queue is unavailable; retry shortly', 10);
    }
    log.info({ total: items.length, skipped: skipped.length, source: input.source.kind, toolkitId: input.toolkitId, queue: deps.queue.kind }, 'job queued');
    return { job: jobView(created.job, summaryOfItems(created.job, []), []), deduplicated: false };
  }

  async function get(viewer: Viewer, id: string, page?: ResultsPage): Promise<JobView> {
    const job = await visibleJob(viewer, id);
    // The page is read in SQL and the summary counted there: a job of a thousand photos
    // is not read whole (results of a few KB each) for every look at it.
    const results = await jobs.listItems(job.id, { finishedOnly: true, ...(page ? { offset: page.skip, limit: page.limit } : {}) });
    return jobView(job, jobSummary(job, await jobs.resultTotals(job.id)), results);
  }

  async function cancel(viewer: Viewer, id: string): Promise<JobView> {
    const job = await visibleJob(viewer, id);
    if (job.state === 'cancelled') return get(viewer, id, { skip: 0, limit: CANCEL_RESULTS_PAGE });
    const cancelled = await jobs.cancel(job.id, deps.clock.now());
    if (!cancelled) throw new ConflictError('job.finished', `Job ${id} is already ${job.state}`);
    const log = logger.child({ jobId: job.id });
    log.info({ processed: cancelled.processed, total: cancelled.total }, 'job cancelled');
    await removeJobInputs({ media, jobs, logger: log }, job.id);
    return get(viewer, id, { skip: 0, limit: CANCEL_RESULTS_PAGE });
  }

  /** Every item (pending ones too), for the reports. */
  async function report(viewer: Viewer, id: string): Promise<{ job: JobView; items: JobItem[] }> {
    const job = await visibleJob(viewer, id);
    const items = await jobs.listItems(job.id);
    return { job: jobView(job, summaryOfItems(job, items), items.filter((i) => i.state !== 'pending')), items };
  }

  /**
   * The job's progress as events: a `progress` snapshot, an `item` per finished image
   * (those finished before the call first), and `done` when it is over. Reads the
   * database every `intervalMs`, so it works whichever process runs the job.
   */
  async function* watch(viewer: Viewer, id: string, options: { signal: AbortSignal; intervalMs?: number }): AsyncGenerator<JobEvent> {
    let job = await visibleJob(viewer, id);
    const sent = new Set<number>();
    let newest: Date | null = null;
    /**
     * Items finished since the last look, in the order they finished. Only those finished
     * from shortly before the newest one sent are read, not every finished item each time;
     * `processed` (read with them) says whether that found all, else every id is read once.
     */
    const unsent = async (): Promise<JobItem[]> => {
      const since = newest ? new Date(newest.getTime() - WATCH_OVERLAP_MS) : null;
      const read = await jobs.finishedSince(job.id, since);
      if (!read) return [];
      let ids = read.items.filter((i) => !sent.has(i.id)).map((i) => i.id);
      if (sent.size + ids.length < read.processed) ids = (await jobs.finishedItemIds(job.id)).filter((i) => !sent.has(i));
      return jobs.itemsByIds(job.id, ids);
    };
    let last = '';
    for (;;) {
      const snapshot = `${job.state}:${job.processed}`;
      if (snapshot !== last) {
        for (const item of await unsent()) {
          sent.add(item.id);
          if (item.finishedAt && (!newest || item.finishedAt > newest)) newest = item.finishedAt;
          yield { event: 'item', id: String(item.id), data: itemView(item) };
        }
        yield { event: 'progress', data: { state: job.state, total: job.total, processed: job.processed, failed: job.failed } };
        last = snapshot;
      }
      if (isTerminal(job.state)) {
        yield { event: 'done', data: { state: job.state, summary: jobSummary(job, await jobs.resultTotals(job.id)), error: job.error } };
        return;
      }
      await sleep(options.intervalMs ?? 500, options.signal);
      if (options.signal.aborted) return;
      job = (await jobs.findById(job.id)) ?? job;
    }
  }

  /**
   * Queue again the pending items the queue does not hold. The database is the record, the
   * queue can lose tasks: the in-process queue on every restart, Redis when the API died
   * between writing the job and queueing it, or when Redis lost its data. `olderThanMs`
   * leaves alone jobs so young that their tasks may still be on their way.
   */
  async function recover(options: { olderThanMs?: number } = {}): Promise<number> {
    const createdBefore = options.olderThanMs === undefined ? undefined : new Date(deps.clock.now().getTime() - options.olderThanMs);
    const lost = await deps.queue.missing(await jobs.pendingItems({ createdBefore }));
    if (lost.length > 0) {
      await deps.queue.enqueue(lost);
      logger.info({ items: lost.length, jobs: new Set(lost.map((t) => t.jobId)).size }, 'queued again the pending items of unfinished jobs');
    }
    return lost.length;
  }

  return { create, get, cancel, report, watch, recover };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export type JobService = ReturnType<typeof createJobService>;
