import { and, eq, gte, inArray, isNotNull, isNull, lt, notExists, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { jobs, predictions, type NewPrediction, type Prediction } from '../db/schema/index.js';

export function createPredictionsRepository(db: DbOrTx) {
  return {
    async insert(row: NewPrediction): Promise<Prediction> {
      const [inserted] = await db.insert(predictions).values(row).returning();
      return inserted!;
    },
    /** The preview an image belongs to, for media access checks. */
    async findByImageKey(key: string): Promise<Pick<Prediction, 'id' | 'userId'> | null> {
      const [row] = await db
        .select({ id: predictions.id, userId: predictions.userId })
        .from(predictions)
        .where(or(eq(predictions.annotatedImageKey, key), eq(predictions.originalImageKey, key)))
        .limit(1);
      return row ?? null;
    },
    /** A preview whose annotated image is drawn on first view: it keeps the photo's key. */
    async findDeferred(annotatedKey: string): Promise<Pick<Prediction, 'id' | 'originalImageKey' | 'resultJson'> | null> {
      const [row] = await db
        .select({ id: predictions.id, originalImageKey: predictions.originalImageKey, resultJson: predictions.resultJson })
        .from(predictions)
        .where(and(eq(predictions.annotatedImageKey, annotatedKey), isNotNull(predictions.originalImageKey)))
        .limit(1);
      return row ?? null;
    },
    /**
     * Previews made before `cutoff`, except those of a job that is still running or finished
     * after it: a job's previews go with the job, not one by one while it runs.
     */
    async listOlderThan(cutoff: Date, limit: number): Promise<Prediction[]> {
      const jobStillKept = db
        .select({ id: jobs.id })
        .from(jobs)
        .where(and(sql`${jobs.id}::text = ${predictions.jobId}`, or(isNull(jobs.finishedAt), gte(jobs.finishedAt, cutoff))));
      return db
        .select()
        .from(predictions)
        .where(and(lt(predictions.createdAt, cutoff), or(isNull(predictions.jobId), notExists(jobStillKept))))
        .limit(limit);
    },
    async delete(id: string): Promise<void> {
      await db.delete(predictions).where(and(eq(predictions.id, id)));
    },
    /** Several previews in one statement (retention). */
    async deleteMany(ids: string[]): Promise<void> {
      if (ids.length === 0) return;
      await db.delete(predictions).where(inArray(predictions.id, ids));
    },
  };
}

export type PredictionsRepository = ReturnType<typeof createPredictionsRepository>;
