/**
 * Toolkits and their items: the only code that reads or writes `toolkits` and
 * `toolkit_items`. `getToolkitWithItems` is also what recognition compares a photo with.
 */
import { and, asc, count, eq, inArray, isNotNull, isNull, lt, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import {
  operations,
  jobs,
  predictions,
  toolkitItems,
  toolkits,
  tools,
  users,
  type NewToolkit,
  type Toolkit,
} from '../db/schema/index.js';
import { definedOnly } from './pg-helpers.js';

export const TOOLKIT_NAME_CONSTRAINT = 'toolkits_name_unique';

/** One line of a kit: the tool (with its class key, as recognition counts by class) and how many. */
export interface ToolkitItemView {
  toolId: number;
  classKey: string;
  name: string;
  serialNumber: string | null;
  quantity: number;
}

export interface ToolkitHolder {
  id: number;
  fullName: string;
  employeeNumber: string;
}

export interface ToolkitWithItems extends Toolkit {
  holder: ToolkitHolder | null;
  items: ToolkitItemView[];
}

/** held: someone has it (flagged kits included); available: in the tool room; flagged: an unresolved discrepancy. */
export type ToolkitStatusFilter = 'held' | 'available' | 'flagged';

export interface ToolkitFilter {
  status?: ToolkitStatusFilter;
  active?: boolean;
  /** Only kits held by this user. */
  holderId?: number;
  /** Only kits held since before this moment (overdue kits: now minus the allowed hours). */
  heldBefore?: Date;
  skip: number;
  limit: number;
}

const STATUS_CONDITION: Record<ToolkitStatusFilter, SQL> = {
  held: isNotNull(toolkits.holderId),
  available: isNull(toolkits.holderId),
  flagged: isNotNull(toolkits.flaggedOperationId),
};

const toolkitWithHolderColumns = {
  toolkit: toolkits,
  holderId: users.id,
  holderFullName: users.fullName,
  holderEmployeeNumber: users.employeeNumber,
};

type ToolkitWithHolderRow = {
  toolkit: Toolkit;
  holderId: number | null;
  holderFullName: string | null;
  holderEmployeeNumber: string | null;
};

function withHolder(row: ToolkitWithHolderRow): Omit<ToolkitWithItems, 'items'> {
  const holder =
    row.holderId === null ? null : { id: row.holderId, fullName: row.holderFullName!, employeeNumber: row.holderEmployeeNumber! };
  return { ...row.toolkit, holder };
}

async function itemsOf(db: DbOrTx, toolkitIds: number[]): Promise<Map<number, ToolkitItemView[]>> {
  const byKit = new Map<number, ToolkitItemView[]>(toolkitIds.map((id) => [id, []]));
  if (toolkitIds.length === 0) return byKit;
  const rows = await db
    .select({
      toolkitId: toolkitItems.toolkitId,
      toolId: tools.id,
      classKey: tools.classKey,
      name: tools.name,
      serialNumber: tools.serialNumber,
      quantity: toolkitItems.quantity,
    })
    .from(toolkitItems)
    .innerJoin(tools, eq(tools.id, toolkitItems.toolId))
    .where(inArray(toolkitItems.toolkitId, toolkitIds))
    .orderBy(asc(toolkitItems.toolkitId), asc(tools.id));
  for (const { toolkitId, ...item } of rows) byKit.get(toolkitId)!.push(item);
  return byKit;
}

/** A kit with its holder and items (tool id, class key, name, quantity); null when absent. */
export async function getToolkitWithItems(db: DbOrTx, id: number): Promise<ToolkitWithItems | null> {
  const [row] = await db
    .select(toolkitWithHolderColumns)
    .from(toolkits)
    .leftJoin(users, eq(users.id, toolkits.holderId))
    .where(eq(toolkits.id, id))
    .limit(1);
  if (!row) return null;
  const items = await itemsOf(db, [id]);
  return { ...withHolder(row), items: items.get(id)! };
}

export async function listToolkits(db: DbOrTx, filter: ToolkitFilter): Promise<{ items: ToolkitWithItems[]; total: number }> {
  const conditions: SQL[] = [];
  if (filter.status) conditions.push(STATUS_CONDITION[filter.status]);
  if (filter.active !== undefined) conditions.push(eq(toolkits.isActive, filter.active));
  if (filter.holderId !== undefined) conditions.push(eq(toolkits.holderId, filter.holderId));
  if (filter.heldBefore !== undefined) conditions.push(isNotNull(toolkits.holderId), lt(toolkits.heldSince, filter.heldBefore));
  const where = conditions.length > 0 ? and(...conditions) : undefined;
  const [rows, [totalRow]] = await Promise.all([
    db
      .select(toolkitWithHolderColumns)
      .from(toolkits)
      .leftJoin(users, eq(users.id, toolkits.holderId))
      .where(where)
      .orderBy(asc(toolkits.id))
      .offset(filter.skip)
      .limit(filter.limit),
    db.select({ n: count() }).from(toolkits).where(where),
  ]);
  const items = await itemsOf(
    db,
    rows.map((r) => r.toolkit.id),
  );
  return { items: rows.map((r) => ({ ...withHolder(r), items: items.get(r.toolkit.id)! })), total: totalRow?.n ?? 0 };
}

/** The kit row, locked until the transaction ends (so holding and item changes serialise). */
export async function lockToolkit(tx: DbOrTx, id: number): Promise<Toolkit | null> {
  const [row] = await tx.select().from(toolkits).where(eq(toolkits.id, id)).for('update');
  return row ?? null;
}

/** A taken name fails with a unique violation on TOOLKIT_NAME_CONSTRAINT. */
export async function insertToolkit(db: DbOrTx, values: Pick<NewToolkit, 'name' | 'description' | 'isActive'>): Promise<Toolkit> {
  const [row] = await db.insert(toolkits).values(values).returning();
  return row!;
}

export type ToolkitPatch = Partial<Pick<NewToolkit, 'name' | 'description' | 'isActive'>>;

export async function updateToolkit(db: DbOrTx, id: number, patch: ToolkitPatch): Promise<boolean> {
  const changes = definedOnly(patch);
  if (Object.keys(changes).length === 0) {
    const [row] = await db.select({ id: toolkits.id }).from(toolkits).where(eq(toolkits.id, id));
    return row !== undefined;
  }
  const updated = await db.update(toolkits).set(changes).where(eq(toolkits.id, id)).returning({ id: toolkits.id });
  return updated.length > 0;
}

/** Replace the kit's items (call inside a transaction). */
export async function replaceToolkitItems(
  db: DbOrTx,
  toolkitId: number,
  items: ReadonlyArray<{ toolId: number; quantity: number }>,
): Promise<void> {
  await db.delete(toolkitItems).where(eq(toolkitItems.toolkitId, toolkitId));
  if (items.length > 0) {
    await db.insert(toolkitItems).values(items.map((i) => ({ toolkitId, toolId: i.toolId, quantity: i.quantity })));
  }
}

/** True when an operation or a preview refers to the kit: its records must keep pointing at it. */
export async function toolkitHasHistory(db: DbOrTx, id: number): Promise<boolean> {
  const [operation] = await db.select({ id: operations.id }).from(operations).where(eq(operations.toolkitId, id)).limit(1);
  if (operation) return true;
  const [preview] = await db.select({ id: predictions.id }).from(predictions).where(eq(predictions.toolkitId, id)).limit(1);
  if (preview) return true;
  const [job] = await db.select({ id: jobs.id }).from(jobs).where(eq(jobs.toolkitId, id)).limit(1);
  return job !== undefined;
}

/** Delete the kit (its items go with it). False when absent. */
export async function deleteToolkit(db: DbOrTx, id: number): Promise<boolean> {
  const deleted = await db.delete(toolkits).where(eq(toolkits.id, id)).returning({ id: toolkits.id });
  return deleted.length > 0;
}
