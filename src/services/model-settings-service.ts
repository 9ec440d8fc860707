/** Aliases (model class name → tool class key) and per-class confidence thresholds. */
import type { Db } from '../db/client.js';
import type { ClassThreshold, ModelClassAlias } from '../db/schema/index.js';
import {
  deleteAlias,
  deleteThreshold,
  listAliasRows,
  listThresholdRows,
  upsertAlias,
  upsertThreshold,
} from '../repositories/model-settings-repository.js';
import type { Clock } from '../shared/clock.js';
import { NotFoundError } from '../shared/errors.js';

export function createModelSettingsService(deps: { db: Db; clock: Clock }) {
  const { db, clock } = deps;
  return {
    listAliases: (): Promise<ModelClassAlias[]> => listAliasRows(db),
    setAlias: (modelClassName: string, classKey: string) => upsertAlias(db, modelClassName, classKey, clock.now()),
    async deleteAlias(modelClassName: string): Promise<void> {
      if (!(await deleteAlias(db, modelClassName))) {
        throw new NotFoundError('alias.not_found', `No alias for model class «${modelClassName}»`);
      }
    },

    listThresholds: (): Promise<ClassThreshold[]> => listThresholdRows(db),
    setThreshold: (classKey: string, threshold: number, adminId: number) =>
      upsertThreshold(db, classKey, threshold, adminId, clock.now()),
    async deleteThreshold(classKey: string): Promise<void> {
      if (!(await deleteThreshold(db, classKey))) {
        throw new NotFoundError('threshold.not_found', `No threshold set for class ${classKey}`);
      }
    },
  };
}

export type ModelSettingsService = ReturnType<typeof createModelSettingsService>;
