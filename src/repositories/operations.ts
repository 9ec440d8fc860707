/** Operations (checkouts and checkins), their review audit, and a kit's custody. */
import { and, asc, count, desc, eq, gte, inArray, isNull, lte, or, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import {
  operations,
  reviewAudit,
  toolkits,
  type NewOperation,
  type Operation,
  type OperationStatus,
  type OperationType,
  type ReviewDecision,
} from '../db/schema/index.js';

export interface HistoryFilter {
  userId?: number;
  toolkitId?: number;
  operationType?: OperationType;
  status?: OperationStatus;
  from?: Date;
  to?: Date;
}

export function createOperationsRepository(db: DbOrTx) {
  return {
    async insert(row: NewOperation, tx: DbOrTx = db): Promise<Operation> {
      const [inserted] = await tx.insert(operations).values(row).returning();
      return inserted!;
    },

    async findById(id: number, tx: DbOrTx = db): Promise<Operation | null> {
      const [row] = await tx.select().from(operations).where(eq(operations.id, id));
      return row ?? null;
    },

    /** Newest first, with the total matching count for paging. */
    async history(filter: HistoryFilter, page: { skip: number; limit: number }): Promise<{ rows: Operation[]; total: number }> {
      const conditions: SQL[] = [];
      if (filter.userId !== undefined) conditions.push(eq(operations.userId, filter.userId));
      if (filter.toolkitId !== undefined) conditions.push(eq(operations.toolkitId, filter.toolkitId));
      if (filter.operationType) conditions.push(eq(operations.operationType, filter.operationType));
      if (filter.status) conditions.push(eq(operations.status, filter.status));
      if (filter.from) conditions.push(gte(operations.timestamp, filter.from));
      if (filter.to) conditions.push(lte(operations.timestamp, filter.to));
      const where = conditions.length > 0 ? and(...conditions) : undefined;
      const [rows, [total]] = await Promise.all([
        db.select().from(operations).where(where).orderBy(desc(operations.timestamp), desc(operations.id)).offset(page.skip).limit(page.limit),
        db.select({ n: count() }).from(operations).where(where),
      ]);
      return { rows, total: total?.n ?? 0 };
    },

    /** Operations waiting for a storekeeper: manual_check or discrepancy, unresolved, oldest first. */
    async openReviews(page: { skip: number; limit: number }): Promise<Operation[]> {
      return db
        .select()
        .from(operations)
        .where(and(inArray(operations.status, ['manual_check', 'discrepancy']), isNull(operations.resolvedAt)))
        .orderBy(asc(operations.timestamp), asc(operations.id))
        .offset(page.skip)
        .limit(page.limit);
    },

    /** Mark resolved only if still open; false when someone resolved it first. */
    async resolve(
      id: number,
      resolution: { decision: ReviewDecision; note: string | null; reviewerId: number; at: Date },
      tx: DbOrTx = db,
    ): Promise<Operation | null> {
      const [row] = await tx
        .update(operations)
        .set({ resolution: resolution.decision, resolutionNote: resolution.note, resolvedById: resolution.reviewerId, resolvedAt: resolution.at })
        .where(and(eq(operations.id, id), isNull(operations.resolvedAt)))
        .returning();
      return row ?? null;
    },

    async insertAudit(
      entry: { operationId: number; reviewerId: number; decision: ReviewDecision; note: string | null; before: Record<string, unknown>; after: Record<string, unknown> },
      tx: DbOrTx = db,
    ) {
      const [row] = await tx.insert(reviewAudit).values(entry).returning();
      return row!;
    },

    async auditOf(operationId: number) {
      return db.select().from(reviewAudit).where(eq(reviewAudit.operationId, operationId)).orderBy(asc(reviewAudit.id));
    },

    /** Whether an engineer may read this image: true when one of their operations holds it. */
    async ownerOfImage(key: string): Promise<number | null> {
      const [row] = await db
        .select({ userId: operations.userId })
        .from(operations)
        .where(or(eq(operations.originalImageKey, key), eq(operations.annotatedImageKey, key)))
        .limit(1);
      return row?.userId ?? null;
    },
  };
}

/** A kit nobody holds: the columns a return clears. */
const BACK_IN_THE_TOOL_ROOM = { holderId: null, heldSince: null, checkoutOperationId: null, flaggedOperationId: null };

/** Who holds a kit. Conditional updates make concurrent checkouts of one kit safe. */
export function createKitCustodyRepository(db: DbOrTx) {
  return {
    async get(toolkitId: number, tx: DbOrTx = db) {
      const [row] = await tx
        .select({
          id: toolkits.id,
          name: toolkits.name,
          isActive: toolkits.isActive,
          holderId: toolkits.holderId,
          heldSince: toolkits.heldSince,
          checkoutOperationId: toolkits.checkoutOperationId,
          flaggedOperationId: toolkits.flaggedOperationId,
        })
        .from(toolkits)
        .where(eq(toolkits.id, toolkitId));
      return row ?? null;
    },

    /** Issue the kit; false when it is no longer available (held or deactivated). */
    async claim(toolkitId: number, holderId: number, checkoutOperationId: number, at: Date, tx: DbOrTx): Promise<boolean> {
      const rows = await tx
        .update(toolkits)
        .set({ holderId, heldSince: at, checkoutOperationId, flaggedOperationId: null })
        .where(and(eq(toolkits.id, toolkitId), isNull(toolkits.holderId), eq(toolkits.isActive, true)))
        .returning({ id: toolkits.id });
      return rows.length === 1;
    },

    /** Back in the tool room; false when the kit is not held by that holder any more. */
    async release(toolkitId: number, holderId: number, tx: DbOrTx): Promise<boolean> {
      const rows = await tx
        .update(toolkits)
        .set(BACK_IN_THE_TOOL_ROOM)
        .where(and(eq(toolkits.id, toolkitId), eq(toolkits.holderId, holderId)))
        .returning({ id: toolkits.id });
      return rows.length === 1;
    },

    /** Back in the tool room after a review; false unless the kit is still flagged by that operation. */
    async releaseFlagged(toolkitId: number, operationId: number, tx: DbOrTx): Promise<boolean> {
      const rows = await tx
        .update(toolkits)
        .set(BACK_IN_THE_TOOL_ROOM)
        .where(and(eq(toolkits.id, toolkitId), eq(toolkits.flaggedOperationId, operationId)))
        .returning({ id: toolkits.id });
      return rows.length === 1;
    },

    /** Keep the kit with its holder, flagged by the operation a storekeeper must resolve. */
    async flag(toolkitId: number, holderId: number, operationId: number, tx: DbOrTx): Promise<boolean> {
      const rows = await tx
        .update(toolkits)
        .set({ flaggedOperationId: operationId })
        .where(and(eq(toolkits.id, toolkitId), eq(toolkits.holderId, holderId)))
        .returning({ id: toolkits.id });
      return rows.length === 1;
    },
  };
}

export type OperationsRepository = ReturnType<typeof createOperationsRepository>;
export type KitCustodyRepository = ReturnType<typeof createKitCustodyRepository>;
