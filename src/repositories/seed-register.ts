/** The register as seed 000's /predict/* fields need it (see services/seed-fields). */
import { asc, eq, min } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { toolkitItems, tools } from '../db/schema/index.js';
import type { SeedRegisterSource } from '../services/seed-fields.js';

export function createSeedRegister(db: DbOrTx): SeedRegisterSource {
  return {
    async forKit(toolkitId) {
      const [kitTools, byClass] = await Promise.all([
        db
          .select({ id: tools.id, name: tools.name, serialNumber: tools.serialNumber, category: tools.category, classKey: tools.classKey, quantity: toolkitItems.quantity })
          .from(toolkitItems)
          .innerJoin(tools, eq(tools.id, toolkitItems.toolId))
          .where(eq(toolkitItems.toolkitId, toolkitId))
          .orderBy(asc(tools.id)),
        db.select({ classKey: tools.classKey, id: min(tools.id) }).from(tools).where(eq(tools.isActive, true)).groupBy(tools.classKey),
      ]);
      const toolIdByClass = new Map<string, number>();
      for (const row of byClass) if (row.id !== null) toolIdByClass.set(row.classKey, row.id);
      return { kitTools, toolIdByClass };
    },
  };
}
