import { and, asc, eq, inArray, isNotNull, lt, ne, sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import {
  jobItems,
  jobs,
  type ItemError,
  type Job,
  type JobItem,
  type JobState,
  type NewJob,
  type NewJobItem,
} from '../db/schema/index.js';

const ACTIVE: JobState[] = ['queued', 'running'];
const INSERT_CHUNK = 500;

export interface ItemOutcome {
  state: 'done' | 'failed';
  predictionId?: string | null;
  result?: Record<string, unknown> | null;
  error?: ItemError | null;
  /** The preview now owns the item's stored photo: the job's clean-up must leave it. */
  sourceHandedOver?: boolean;
}

export function createJobsRepository(db: Db) {
  return {
    /** The job and its items, in one transaction. */
    async create(job: NewJob, items: Array<Omit<NewJobItem, 'jobId'>>): Promise<{ job: Job; items: JobItem[] }> {
      return db.transaction(async (tx) => {
        const [created] = await tx.insert(jobs).values(job).returning();
        const inserted: JobItem[] = [];
        for (let i = 0; i < items.length; i += INSERT_CHUNK) {
          const chunk = items.slice(i, i + INSERT_CHUNK).map((item) => ({ ...item, jobId: created!.id }));
          inserted.push(...(await tx.insert(jobItems).values(chunk).returning()));
        }
        return { job: created!, items: inserted };
      });
    },

    async findById(id: string): Promise<Job | null> {
      const [row] = await db.select().from(jobs).where(eq(jobs.id, id)).limit(1);
      return row ?? null;
    },

    /** A queued or running job of this user for the same archive and settings (a resubmission). */
    async findActiveDuplicate(input: { userId: number; archiveSha256: string; toolkitId: number; confidence: number | null }): Promise<Job | null> {
      const [row] = await db
        .select()
        .from(jobs)
        .where(
          and(
            eq(jobs.userId, input.userId),
            eq(jobs.archiveSha256, input.archiveSha256),
            eq(jobs.toolkitId, input.toolkitId),
            input.confidence === null ? sql`${jobs.confidence} IS NULL` : eq(jobs.confidence, input.confidence),
            inArray(jobs.state, ACTIVE),
          ),
        )
        .limit(1);
      return row ?? null;
    },

    async findItem(jobId: string, itemId: number): Promise<JobItem | null> {
      const [row] = await db
        .select()
        .from(jobItems)
        .where(and(eq(jobItems.jobId, jobId), eq(jobItems.id, itemId)))
        .limit(1);
      return row ?? null;
    },

    /** queued → running; true when this call started it. */
    async markRunning(jobId: string, now: Date): Promise<Job | null> {
      const [row] = await db
        .update(jobs)
        .set({ state: 'running', startedAt: now })
        .where(and(eq(jobs.id, jobId), eq(jobs.state, 'queued')))
        .returning();
      return row ?? null;
    },

    /**
     * Record an item's outcome exactly once: only a pending item changes, and only then
     * do the job's counters move, in the same transaction. The increment that reaches
     * `total` finishes the job (completed; failed when every image failed).
     */
    async finishItem(jobId: string, itemId: number, outcome: ItemOutcome, now: Date): Promise<{ counted: boolean; finished: Job | null }> {
      return db.transaction(async (tx) => {
        const updated = await tx
          .update(jobItems)
          .set({
            state: outcome.state,
            predictionId: outcome.predictionId ?? null,
            result: outcome.result ?? null,
            error: outcome.error ?? null,
            finishedAt: now,
            ...(outcome.sourceHandedOver ? { sourceKey: null } : {}),
          })
          .where(and(eq(jobItems.id, itemId), eq(jobItems.jobId, jobId), eq(jobItems.state, 'pending')))
          .returning({ id: jobItems.id });
        if (updated.length === 0) return { counted: false, finished: null };
        const [job] = await tx
          .update(jobs)
          .set({
            processed: sql`${jobs.processed} + 1`,
            failed: outcome.state === 'failed' ? sql`${jobs.failed} + 1` : jobs.failed,
          })
          .where(eq(jobs.id, jobId))
          .returning();
        if (!job || job.processed < job.total || !ACTIVE.includes(job.state)) return { counted: true, finished: null };
        const allFailed = job.failed === job.total;
        const [finished] = await tx
          .update(jobs)
          .set({
            state: allFailed ? 'failed' : 'completed',
            finishedAt: now,
            ...(allFailed ? { error: 'Every image failed; see the items for the reasons' } : {}),
          })
          .where(and(eq(jobs.id, jobId), inArray(jobs.state, ACTIVE)))
          .returning();
        return { counted: true, finished: finished ?? null };
      });
    },

    /** Cancel a queued or running job; null when it was already over. */
    async cancel(jobId: string, now: Date): Promise<Job | null> {
      const [row] = await db
        .update(jobs)
        .set({ state: 'cancelled', finishedAt: now })
        .where(and(eq(jobs.id, jobId), inArray(jobs.state, ACTIVE)))
        .returning();
      return row ?? null;
    },

    /** A job-level failure (e.g. the queue refused it). */
    async fail(jobId: string, error: string, now: Date): Promise<void> {
      await db
        .update(jobs)
        .set({ state: 'failed', error, finishedAt: now })
        .where(and(eq(jobs.id, jobId), inArray(jobs.state, ACTIVE)));
    },

    async listItems(jobId: string, options: { finishedOnly?: boolean } = {}): Promise<JobItem[]> {
      return db
        .select()
        .from(jobItems)
        .where(and(eq(jobItems.jobId, jobId), options.finishedOnly ? ne(jobItems.state, 'pending') : undefined))
        .orderBy(asc(jobItems.entryIndex));
    },

    async finishedItemIds(jobId: string): Promise<number[]> {
      const rows = await db
        .select({ id: jobItems.id })
        .from(jobItems)
        .where(and(eq(jobItems.jobId, jobId), ne(jobItems.state, 'pending')));
      return rows.map((r) => r.id);
    },

    async itemsByIds(jobId: string, ids: number[]): Promise<JobItem[]> {
      if (ids.length === 0) return [];
      return db
        .select()
        .from(jobItems)
        .where(and(eq(jobItems.jobId, jobId), inArray(jobItems.id, ids)))
        .orderBy(asc(jobItems.finishedAt), asc(jobItems.entryIndex));
    },

    /** Input images still stored for a job (removed once it is over). */
    async sourceKeys(jobId: string): Promise<string[]> {
      const rows = await db
        .select({ key: jobItems.sourceKey })
        .from(jobItems)
        .where(and(eq(jobItems.jobId, jobId), isNotNull(jobItems.sourceKey)));
      return rows.map((r) => r.key!);
    },

    async clearSourceKeys(jobId: string): Promise<void> {
      await db.update(jobItems).set({ sourceKey: null }).where(eq(jobItems.jobId, jobId));
    },

    /** Pending items of unfinished jobs: what an in-process queue re-enqueues after a restart. */
    /** Items of unfinished jobs still waiting for their outcome (of jobs created before `createdBefore`, if given). */
    async pendingItems(options: { createdBefore?: Date } = {}): Promise<Array<{ jobId: string; itemId: number }>> {
      return db
        .select({ jobId: jobItems.jobId, itemId: jobItems.id })
        .from(jobItems)
        .innerJoin(jobs, eq(jobs.id, jobItems.jobId))
        .where(
          and(
            eq(jobItems.state, 'pending'),
            inArray(jobs.state, ACTIVE),
            options.createdBefore ? lt(jobs.createdAt, options.createdBefore) : undefined,
          ),
        )
        .orderBy(asc(jobs.createdAt), asc(jobItems.entryIndex));
    },

    /** Finished jobs created before the cutoff (retention). */
    async listFinishedBefore(cutoff: Date, limit: number): Promise<Job[]> {
      return db
        .select()
        .from(jobs)
        .where(and(lt(sql`coalesce(${jobs.finishedAt}, ${jobs.createdAt})`, cutoff), inArray(jobs.state, ['completed', 'failed', 'cancelled'])))
        .limit(limit);
    },

    async delete(jobId: string): Promise<void> {
      await db.delete(jobs).where(eq(jobs.id, jobId));
    },
  };
}

export type JobsRepository = ReturnType<typeof createJobsRepository>;
