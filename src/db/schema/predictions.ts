import { index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { toolkits } from './toolkits.js';
import { users } from './users.js';

/**
 * A preview recognition (/predict/*): no operation is recorded, but the images
 * are kept for a while and must stay access-checked (owner) until retention
 * deletes them.
 */
export const predictions = pgTable(
  'predictions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: integer('user_id').references(() => users.id),
    toolkitId: integer('toolkit_id').references(() => toolkits.id),
    jobId: text('job_id'),
    originalImageKey: text('original_image_key'),
    annotatedImageKey: text('annotated_image_key').notNull(),
    resultJson: jsonb('result_json').$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('predictions_created_idx').on(t.createdAt),
    index('predictions_user_idx').on(t.userId),
    // Media access checks and deferred annotation look a preview up by image key.
    index('predictions_original_image_idx').on(t.originalImageKey),
    index('predictions_annotated_image_idx').on(t.annotatedImageKey),
  ],
);

export type Prediction = typeof predictions.$inferSelect;
export type NewPrediction = typeof predictions.$inferInsert;
