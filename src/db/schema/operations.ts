import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgEnum, pgTable, real, serial, text, timestamp, unique } from 'drizzle-orm/pg-core';
import { toolkits } from './toolkits.js';
import { users } from './users.js';

export const operationType = pgEnum('operation_type', ['checkout', 'checkin']);
export const operationStatus = pgEnum('operation_status', ['success', 'discrepancy', 'manual_check']);
export const reviewDecision = pgEnum('review_decision', ['confirmed', 'marked_missing']);

export type OperationType = (typeof operationType.enumValues)[number];
export type OperationStatus = (typeof operationStatus.enumValues)[number];
export type ReviewDecision = (typeof reviewDecision.enumValues)[number];

/** A checkout or checkin, with the recognition result as evidence. */
export const operations = pgTable(
  'operations',
  {
    id: serial('id').primaryKey(),
    /** The engineer the kit is issued to / returned by. */
    userId: integer('user_id')
      .notNull()
      .references(() => users.id),
    /** Who performed it (the engineer, or a storekeeper on their behalf). */
    actedById: integer('acted_by_id')
      .notNull()
      .references(() => users.id),
    toolkitId: integer('toolkit_id')
      .notNull()
      .references(() => toolkits.id),
    operationType: operationType('operation_type').notNull(),
    timestamp: timestamp('timestamp', { withTimezone: true }).notNull().defaultNow(),
    status: operationStatus('status').notNull(),
    matchPercentage: real('match_percentage'),
    resultJson: jsonb('result_json').$type<Record<string, unknown>>().notNull(),
    modelSha256: text('model_sha256').notNull(),
    originalImageKey: text('original_image_key').notNull(),
    annotatedImageKey: text('annotated_image_key').notNull(),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
    resolvedById: integer('resolved_by_id').references(() => users.id),
    resolution: reviewDecision('resolution'),
    resolutionNote: text('resolution_note'),
  },
  (t) => [
    // History pages: ORDER BY timestamp DESC, id DESC. DESC means NULLS FIRST in PostgreSQL,
    // and drizzle's .desc() alone writes NULLS LAST, which that ORDER BY cannot read in order.
    index('operations_user_time_idx').on(t.userId, t.timestamp.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index('operations_toolkit_time_idx').on(t.toolkitId, t.timestamp.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index('operations_status_time_idx').on(t.status, t.timestamp),
    index('operations_time_id_idx').on(t.timestamp.desc().nullsFirst(), t.id.desc().nullsFirst()),
    // The review queue: open reviews, oldest first (same predicate as openReviews()).
    index('operations_open_review_idx')
      .on(t.timestamp, t.id)
      .where(sql`${t.resolvedAt} IS NULL AND ${t.status} IN ('manual_check', 'discrepancy')`),
    // Media access checks look an image up by key. Keys are random (newMediaKey), but tests
    // insert fixed ones, so these stay plain indexes rather than UNIQUE.
    index('operations_original_image_idx').on(t.originalImageKey),
    index('operations_annotated_image_idx').on(t.annotatedImageKey),
  ],
);

/** Audit of every review decision: who, when, the state before and after. */
export const reviewAudit = pgTable(
  'review_audit',
  {
    id: serial('id').primaryKey(),
    operationId: integer('operation_id')
      .notNull()
      .references(() => operations.id),
    reviewerId: integer('reviewer_id')
      .notNull()
      .references(() => users.id),
    decision: reviewDecision('decision').notNull(),
    note: text('note'),
    before: jsonb('before').$type<Record<string, unknown>>().notNull(),
    after: jsonb('after').$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  // One audit per resolution: resolve() writes it in the transaction whose conditional update
  // (resolved_at IS NULL) only one caller can win.
  (t) => [unique('review_audit_operation_uq').on(t.operationId)],
);

export type Operation = typeof operations.$inferSelect;
export type NewOperation = typeof operations.$inferInsert;
export type ReviewAuditEntry = typeof reviewAudit.$inferSelect;
