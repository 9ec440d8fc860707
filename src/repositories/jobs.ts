import { and, asc, eq, gte, inArray, isNotNull, lt, ne, sql } from 'drizzle-orm';
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

/** What a job's summary counts over its finished items (see `summarise` in batch-input). */
export interface ResultTotals {
  /** Items with a result. */
  processed: number;
  /** Items without a result that have a problem. */
  failed: number;
  /** Results whose comparison status is `success`. */
  kitsComplete: number;
  /** Missing tools over all results, by class, in the order they first appear (entry order). */
  toolsMissing: Record<string, number>;
}

/** A finished item as the event stream's cursor sees it. */
export interface FinishedItemMark {
  id: number;
  finishedAt: Date | null;
}

const finishedItemsOf = (jobId: string) => and(eq(jobItems.jobId, jobId), ne(jobItems.state, 'pending'));
/** A JSON value JavaScript would take as present (SQL NULL and JSON null are not). */
const present = (column: typeof jobItems.result | typeof jobItems.error) => sql`(${column} IS NOT NULL AND jsonb_typeof(${column}) <> 'null')`;

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
        // The job row is locked first, so a cancel either commits before (the outcome is not
        // recorded: the cancel's clean-up has removed or will remove the item's photo, which a
        // deferred preview would need) or waits until the outcome is in (and keeps its photo).
        const [current] = await tx.select({ state: jobs.state }).from(jobs).where(eq(jobs.id, jobId)).for('update');
        if (!current || !ACTIVE.includes(current.state)) return { counted: false, finished: null };
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

    /** A job's items in entry order: all, or only the finished ones; `offset`/`limit` page them. */
    async listItems(jobId: string, options: { finishedOnly?: boolean; offset?: number; limit?: number } = {}): Promise<JobItem[]> {
      let query = db
        .select()
        .from(jobItems)
        .where(options.finishedOnly ? finishedItemsOf(jobId) : eq(jobItems.jobId, jobId))
        .orderBy(asc(jobItems.entryIndex))
        .$dynamic();
      if (options.offset) query = query.offset(options.offset);
      if (options.limit !== undefined) query = query.limit(options.limit);
      return query;
    },

    /**
     * The summary's counts over a job's finished items, computed in the database: only the
     * comparison status, the missing tools and whether there is a result or a problem are
     * read, never the results themselves (a few KB each, up to ZIP_MAX_ENTRIES of them).
     */
    async resultTotals(jobId: string): Promise<ResultTotals> {
      const hasResult = present(jobItems.result);
      const [counts] = await db
        .select({
          processed: sql<number>`count(*) filter (where ${hasResult})::int`,
          failed: sql<number>`count(*) filter (where not ${hasResult} and ${present(jobItems.error)})::int`,
          kitsComplete: sql<number>`count(*) filter (where ${hasResult} and ${jobItems.result} -> 'comparison' ->> 'status' = 'success')::int`,
        })
        .from(jobItems)
        .where(finishedItemsOf(jobId));
      const missing = sql`${jobItems.result} -> 'comparison' -> 'missing'`;
      // Ordered by where each class first appears (entry, then position in its list): the
      // order in which adding them up item by item would have met them.
      const result = await db.execute(sql`
        select m.tool ->> 'class_key' as class_key, sum((m.tool ->> 'count')::float8)::float8 as count
        from ${jobItems}
        cross join lateral jsonb_array_elements(case when jsonb_typeof(${missing}) = 'array' then ${missing} else '[]'::jsonb end)
          with ordinality as m(tool, ord)
        where ${finishedItemsOf(jobId)} and ${hasResult}
        group by 1
        order by min(array[${jobItems.entryIndex}::bigint, m.ord])`);
      const toolsMissing: Record<string, number> = {};
      for (const row of (result as unknown as { rows: Array<{ class_key: string; count: number | string }> }).rows) {
        toolsMissing[row.class_key] = Number(row.count);
      }
      return { processed: counts?.processed ?? 0, failed: counts?.failed ?? 0, kitsComplete: counts?.kitsComplete ?? 0, toolsMissing };
    },

    /**
     * The job's `processed` and its items finished at or after `since` (every finished item
     * without it), in one statement: `processed` moves in the same transaction as an item's
     * state, so it is exactly how many items this read saw finished. Null when the job is gone.
     */
    async finishedSince(jobId: string, since: Date | null): Promise<{ processed: number; items: FinishedItemMark[] } | null> {
      const rows = await db
        .select({ processed: jobs.processed, id: jobItems.id, finishedAt: jobItems.finishedAt })
        .from(jobs)
        .leftJoin(jobItems, and(eq(jobItems.jobId, jobs.id), ne(jobItems.state, 'pending'), since ? gte(jobItems.finishedAt, since) : undefined))
        .where(eq(jobs.id, jobId));
      if (rows.length === 0) return null;
      const items: FinishedItemMark[] = [];
      for (const row of rows) if (row.id !== null) items.push({ id: row.id, finishedAt: row.finishedAt });
      return { processed: rows[0]!.processed, items };
    },

    async finishedItemIds(jobId: string): Promise<number[]> {
      const rows = await db.select({ id: jobItems.id }).from(jobItems).where(finishedItemsOf(jobId));
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

    /** Input images still stored for any of these jobs (retention, a batch of jobs at once). */
    async sourceKeysOfJobs(jobIds: string[]): Promise<Array<{ jobId: string; key: string }>> {
      if (jobIds.length === 0) return [];
      const rows = await db
        .select({ jobId: jobItems.jobId, key: jobItems.sourceKey })
        .from(jobItems)
        .where(and(inArray(jobItems.jobId, jobIds), isNotNull(jobItems.sourceKey)));
      return rows.map((r) => ({ jobId: r.jobId, key: r.key! }));
    },

    async clearSourceKeys(jobId: string): Promise<void> {
      await db.update(jobItems).set({ sourceKey: null }).where(eq(jobItems.jobId, jobId));
    },

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

    /** Jobs with their items, in one statement. */
    async deleteMany(jobIds: string[]): Promise<void> {
      if (jobIds.length === 0) return;
      await db.delete(jobs).where(inArray(jobs.id, jobIds));
    },
  };
}

export type JobsRepository = ReturnType<typeof createJobsRepository>;
