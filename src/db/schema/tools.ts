import { sql } from 'drizzle-orm';
import { boolean, check, pgTable, real, serial, text, timestamp, integer, index } from 'drizzle-orm/pg-core';
import { users } from './users.js';

/** A tool of the register (145.A.40): a physical instance of one tool class. */
export const tools = pgTable(
  'tools',
  {
    id: serial('id').primaryKey(),
    name: text('name').notNull(),
    serialNumber: text('serial_number').unique(),
    category: text('category'),
    /** The tool class key the detector recognises (e.g. `side_cutters`). */
    classKey: text('class_key').notNull(),
    isActive: boolean('is_active').notNull().default(true),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('tools_class_key_idx').on(t.classKey)],
);

/** Model class name (as a model's metadata names it) → tool class key. */
export const modelClassAliases = pgTable('model_class_aliases', {
  modelClassName: text('model_class_name').primaryKey(),
  classKey: text('class_key').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Per-class confidence thresholds set by an admin (request confidence applies otherwise). */
export const classThresholds = pgTable(
  'class_thresholds',
  {
    classKey: text('class_key').primaryKey(),
    threshold: real('threshold').notNull(),
    updatedBy: integer('updated_by').references(() => users.id),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  // The API accepts 0…1 (model-settings schema); a confidence outside it means nothing.
  (t) => [check('class_thresholds_threshold_range', sql`${t.threshold} >= 0 AND ${t.threshold} <= 1`)],
);

export type Tool = typeof tools.$inferSelect;
export type NewTool = typeof tools.$inferInsert;
export type ModelClassAlias = typeof modelClassAliases.$inferSelect;
export type ClassThreshold = typeof classThresholds.$inferSelect;
