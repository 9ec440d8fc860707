import { index, integer, jsonb, pgEnum, pgTable, real, serial, text, timestamp } from 'drizzle-orm/pg-core';
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
    index('operations_user_time_idx').on(t.userId, t.timestamp.desc()),
    index('operations_toolkit_time_idx').on(t.toolkitId, t.timestamp.desc()),
    index('operations_status_time_idx').on(t.status, t.timestamp),
    index('operations_time_idx').on(t.timestamp.desc()),
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
  (t) => [index('review_audit_operation_idx').on(t.operationId)],
);

export type Operation = typeof operations.$inferSelect;
export type NewOperation = typeof operations.$inferInsert;
export type ReviewAuditEntry = typeof reviewAudit.$inferSelect;
