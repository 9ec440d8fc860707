/** What recognition reads: a kit's expected contents, model aliases, class thresholds. */
import type { DbOrTx } from '../db/client.js';
import type { RecognitionCatalog } from '../services/recognition-service.js';
import { listAliases, listThresholds } from './model-settings-repository.js';
import { getToolkitWithItems } from './toolkits-repository.js';

export function createRecognitionCatalog(db: DbOrTx): RecognitionCatalog {
  return {
    async kit(toolkitId) {
      const kit = await getToolkitWithItems(db, toolkitId);
      if (!kit) return null;
      return {
        toolkit: { id: kit.id, name: kit.name, isActive: kit.isActive },
        items: kit.items.map((i) => ({ classKey: i.classKey, toolName: i.name, quantity: i.quantity })),
      };
    },
    aliases: () => listAliases(db),
    classThresholds: () => listThresholds(db),
  };
}
