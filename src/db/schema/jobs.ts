import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgEnum, pgTable, real, serial, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { predictions } from './predictions.js';
import { toolkits } from './toolkits.js';
import { users } from './users.js';

export const jobState = pgEnum('job_state', ['queued', 'running', 'completed', 'failed', 'cancelled']);
export const jobItemState = pgEnum('job_item_state', ['pending', 'done', 'failed']);

export type JobState = (typeof jobState.enumValues)[number];
export type JobItemState = (typeof jobItemState.enumValues)[number];

/** An archive entry or upload that was not processed, and why (`path_traversal`, `not_an_image`…). */
export interface SkippedEntry {
  entry_name: string;
  reason: string;
  detail: string;
}

/** The problem of an image that could not be recognised. */
export interface ItemError {
  status: number;
  code: string;
  detail: string;
}

/**
 * A batch of photos (ZIP archive or several uploads) recognised in the background.
 * `processed` and `failed` only move when an item leaves `pending`, in the same
 * transaction, so retried or duplicated work never counts twice.
 */
export const jobs = pgTable(
  'jobs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    toolkitId: integer('toolkit_id')
      .notNull()
      .references(() => toolkits.id),
    confidence: real('confidence'),
    source: text('source').$type<'zip' | 'images'>().notNull(),
    /** The uploaded archive's name (or null for loose images). */
    archiveName: text('archive_name'),
    /** sha256 of the archive (or of the uploads' hashes and names): with the entry name, an item's identity. */
    archiveSha256: text('archive_sha256').notNull(),
    state: jobState('state').notNull().default('queued'),
    total: integer('total').notNull(),
    processed: integer('processed').notNull().default(0),
    failed: integer('failed').notNull().default(0),
    skipped: jsonb('skipped').$type<SkippedEntry[]>().notNull().default([]),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    index('jobs_user_created_idx').on(t.userId, t.createdAt.desc()),
    index('jobs_state_idx').on(t.state),
    index('jobs_archive_idx').on(t.archiveSha256),
    check('jobs_counts_check', sql`${t.processed} >= 0 AND ${t.failed} >= 0 AND ${t.processed} <= ${t.total} AND ${t.failed} <= ${t.processed}`),
  ],
);

/** One image of a job. (job_id, entry_name) and (job_id, entry_index) are unique: an entry has exactly one result. */
export const jobItems = pgTable(
  'job_items',
  {
    id: serial('id').primaryKey(),
    jobId: uuid('job_id')
      .notNull()
      .references(() => jobs.id, { onDelete: 'cascade' }),
    entryIndex: integer('entry_index').notNull(),
    entryName: text('entry_name').notNull(),
    imageSha256: text('image_sha256').notNull(),
    /** The stored input image (media store `jobs/…`); null once the job is over and it is removed. */
    sourceKey: text('source_key'),
    state: jobItemState('state').notNull().default('pending'),
    predictionId: uuid('prediction_id').references(() => predictions.id, { onDelete: 'set null' }),
    /** The Prediction as the API returns it. */
    result: jsonb('result').$type<Record<string, unknown>>(),
    error: jsonb('error').$type<ItemError>(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    unique('job_items_job_entry_unique').on(t.jobId, t.entryName),
    unique('job_items_job_index_unique').on(t.jobId, t.entryIndex),
    index('job_items_job_state_idx').on(t.jobId, t.state),
    // Deleting a prediction sets these to null (ON DELETE SET NULL): without it, a scan per delete.
    index('job_items_prediction_idx').on(t.predictionId),
  ],
);

export type Job = typeof jobs.$inferSelect;
export type NewJob = typeof jobs.$inferInsert;
export type JobItem = typeof jobItems.$inferSelect;
export type NewJobItem = typeof jobItems.$inferInsert;
