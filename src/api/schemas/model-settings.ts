import { Type } from 'typebox';
import type { ClassThreshold, ModelClassAlias } from '../../db/schema/index.js';
import { ClassKey } from './tools.js';
import { DateTime } from './pagination.js';

export const AliasSchema = Type.Object({
  model_class_name: Type.String({ description: 'The class name as the model metadata gives it' }),
  class_key: Type.String(),
  updated_at: DateTime,
});

export const AliasParams = Type.Object({ model_class_name: Type.String({ minLength: 1, maxLength: 200 }) });
export const AliasBody = Type.Object({ class_key: ClassKey }, { additionalProperties: false });

export const ThresholdSchema = Type.Object({
  class_key: Type.String(),
  threshold: Type.Number({ minimum: 0, maximum: 1 }),
  updated_by: Type.Union([Type.Integer(), Type.Null()]),
  updated_at: DateTime,
});

export const ThresholdParams = Type.Object({ class_key: ClassKey });
export const ThresholdBody = Type.Object(
  { threshold: Type.Number({ minimum: 0, maximum: 1, description: 'Confidence a detection of this class needs' }) },
  { additionalProperties: false },
);

export function aliasDto(alias: ModelClassAlias) {
  return { model_class_name: alias.modelClassName, class_key: alias.classKey, updated_at: alias.updatedAt.toISOString() };
}

export function thresholdDto(row: ClassThreshold) {
  return { class_key: row.classKey, threshold: row.threshold, updated_by: row.updatedBy, updated_at: row.updatedAt.toISOString() };
}
