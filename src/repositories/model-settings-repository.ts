/**
 * Model settings an admin controls: model class name → tool class key aliases, and
 * per-class confidence thresholds. `listAliases` / `listThresholds` are what
 * recognition reads.
 */
import { asc, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { classThresholds, modelClassAliases, type ClassThreshold, type ModelClassAlias } from '../db/schema/index.js';

/** `real` is float4: 0.35 comes back as 0.3499999940…; six decimals is what was stored. */
function fromReal(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** Every alias as a map: model class name (as the model's metadata names it) → tool class key. */
export async function listAliases(db: DbOrTx): Promise<Map<string, string>> {
  const rows = await db.select().from(modelClassAliases);
  return new Map(rows.map((r) => [r.modelClassName, r.classKey]));
}

/** Every per-class threshold as a map: tool class key → confidence threshold (0..1). */
export async function listThresholds(db: DbOrTx): Promise<Map<string, number>> {
  const rows = await db.select().from(classThresholds);
  return new Map(rows.map((r) => [r.classKey, fromReal(r.threshold)]));
}

export async function listAliasRows(db: DbOrTx): Promise<ModelClassAlias[]> {
  return db.select().from(modelClassAliases).orderBy(asc(modelClassAliases.classKey), asc(modelClassAliases.modelClassName));
}

export async function upsertAlias(db: DbOrTx, modelClassName: string, classKey: string, now: Date): Promise<ModelClassAlias> {
  const [row] = await db
    .insert(modelClassAliases)
    .values({ modelClassName, classKey, updatedAt: now })
    .onConflictDoUpdate({ target: modelClassAliases.modelClassName, set: { classKey, updatedAt: now } })
    .returning();
  return row!;
}

export async function deleteAlias(db: DbOrTx, modelClassName: string): Promise<boolean> {
  const deleted = await db
    .delete(modelClassAliases)
    .where(eq(modelClassAliases.modelClassName, modelClassName))
    .returning({ name: modelClassAliases.modelClassName });
  return deleted.length > 0;
}

export async function listThresholdRows(db: DbOrTx): Promise<ClassThreshold[]> {
  const rows = await db.select().from(classThresholds).orderBy(asc(classThresholds.classKey));
  return rows.map((r) => ({ ...r, threshold: fromReal(r.threshold) }));
}

export async function upsertThreshold(
  db: DbOrTx,
  classKey: string,
  threshold: number,
  updatedBy: number,
  now: Date,
): Promise<ClassThreshold> {
  const [row] = await db
    .insert(classThresholds)
    .values({ classKey, threshold, updatedBy, updatedAt: now })
    .onConflictDoUpdate({ target: classThresholds.classKey, set: { threshold, updatedBy, updatedAt: sql`excluded.updated_at` } })
    .returning();
  return { ...row!, threshold: fromReal(row!.threshold) };
}

export async function deleteThreshold(db: DbOrTx, classKey: string): Promise<boolean> {
  const deleted = await db
    .delete(classThresholds)
    .where(eq(classThresholds.classKey, classKey))
    .returning({ key: classThresholds.classKey });
  return deleted.length > 0;
}
