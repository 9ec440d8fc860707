/** Tools of the register: the only code that reads or writes the `tools` table. */
import { and, asc, count, eq, ilike, inArray, isNotNull, or, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { operations, toolkitItems, toolkits, tools, type NewTool, type Tool } from '../db/schema/index.js';
import { definedOnly, escapeLike } from './pg-helpers.js';

export const SERIAL_NUMBER_CONSTRAINT = 'tools_serial_number_unique';

export interface ToolFilter {
  classKey?: string;
  category?: string;
  active?: boolean;
  /** Case-insensitive substring of the name or the serial number. */
  q?: string;
  skip: number;
  limit: number;
}

export async function listTools(db: DbOrTx, filter: ToolFilter): Promise<{ items: Tool[]; total: number }> {
  const conditions: SQL[] = [];
  if (filter.classKey) conditions.push(eq(tools.classKey, filter.classKey));
  if (filter.category) conditions.push(eq(tools.category, filter.category));
  if (filter.active !== undefined) conditions.push(eq(tools.isActive, filter.active));
  if (filter.q) {
    const pattern = `%${escapeLike(filter.q)}%`;
    conditions.push(or(ilike(tools.name, pattern), ilike(tools.serialNumber, pattern))!);
  }
  const where = conditions.length > 0 ? and(...conditions) : undefined;
  const [items, [totalRow]] = await Promise.all([
    db.select().from(tools).where(where).orderBy(asc(tools.id)).offset(filter.skip).limit(filter.limit),
    db.select({ n: count() }).from(tools).where(where),
  ]);
  return { items, total: totalRow?.n ?? 0 };
}

export async function findToolById(db: DbOrTx, id: number): Promise<Tool | null> {
  const [row] = await db.select().from(tools).where(eq(tools.id, id)).limit(1);
  return row ?? null;
}

export async function findToolsByIds(db: DbOrTx, ids: readonly number[]): Promise<Tool[]> {
  if (ids.length === 0) return [];
  return db.select().from(tools).where(inArray(tools.id, [...ids]));
}

/** A taken serial number fails with a unique violation on SERIAL_NUMBER_CONSTRAINT. */
export async function insertTool(db: DbOrTx, values: NewTool): Promise<Tool> {
  const [row] = await db.insert(tools).values(values).returning();
  return row!;
}

export type ToolPatch = Partial<Pick<NewTool, 'name' | 'serialNumber' | 'category' | 'classKey' | 'isActive'>>;

export async function updateTool(db: DbOrTx, id: number, patch: ToolPatch): Promise<Tool | null> {
  const changes = definedOnly(patch);
  if (Object.keys(changes).length === 0) return findToolById(db, id);
  const [row] = await db.update(tools).set(changes).where(eq(tools.id, id)).returning();
  return row ?? null;
}

/** True when the tool belongs to a kit that has at least one operation (its record is evidence). */
export async function toolHasHistory(db: DbOrTx, toolId: number): Promise<boolean> {
  const rows = await db
    .select({ one: operations.id })
    .from(toolkitItems)
    .innerJoin(operations, eq(operations.toolkitId, toolkitItems.toolkitId))
    .where(eq(toolkitItems.toolId, toolId))
    .limit(1);
  return rows.length > 0;
}

/** Kits holding this tool that are checked out now (their contents must not change until they are back). */
export async function heldKitsWithTool(db: DbOrTx, toolId: number): Promise<Array<{ id: number; name: string; holderId: number }>> {
  const rows = await db
    .select({ id: toolkits.id, name: toolkits.name, holderId: toolkits.holderId })
    .from(toolkitItems)
    .innerJoin(toolkits, eq(toolkits.id, toolkitItems.toolkitId))
    .where(and(eq(toolkitItems.toolId, toolId), isNotNull(toolkits.holderId)));
  return rows.map((r) => ({ ...r, holderId: r.holderId! }));
}

/** Remove the tool and its places in kits (call inside a transaction). False when absent. */
export async function deleteTool(db: DbOrTx, toolId: number): Promise<boolean> {
  await db.delete(toolkitItems).where(eq(toolkitItems.toolId, toolId));
  const deleted = await db.delete(tools).where(eq(tools.id, toolId)).returning({ id: tools.id });
  return deleted.length > 0;
}
