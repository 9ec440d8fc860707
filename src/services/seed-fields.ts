/**
 * The fields seed 000's own backend returned from /predict/* (its `PredictResponse`,
 * `BatchImageResult` and `BatchPredictResponse`), derived from a prediction, so that its
 * React frontend and Swagger clients read toolcontrol's answers unchanged. They come on
 * top of toolcontrol's own fields, never instead of them.
 *
 * The seed's model predicted tool ids; toolcontrol's predicts tool classes. The counted
 * detections of a class go to the kit's tools of that class in id order, each taking as many
 * as its quantity; a tool is in `found_tools` only when all of its quantity was seen, so a
 * client that reads "missing = kit − found_tools" never misses a shortfall. Detections beyond
 * the kit's tools (extras), and classes the kit does not hold, map to the kit's first tool
 * of the class, else to the lowest-id active tool of the register with it.
 */
import type { ItemError } from '../db/schema/index.js';
import type { PredictionResult } from './prediction-service.js';

/** seed 000 `ToolInfo`: id int, name str, serial_number str, category str. */
export interface SeedToolInfo {
  id: number;
  name: string;
  /** The register's serial number; '' when it has none (the seed's type is a string). */
  serial_number: string;
  /** The register's category; '' when it has none. */
  category: string;
}

/** seed 000 `PredictResponse`. */
export interface SeedPredictFields {
  found_tools: SeedToolInfo[];
  hand_check: boolean;
  processed_image_url: string;
  ml_predictions: number[];
  inference_time_ms: number;
}

/** seed 000 `BatchImageResult`, less `filename` (the batch item has it already). */
export type SeedBatchItemFields =
  | (SeedPredictFields & { success: true; error_message: null })
  | {
      success: false;
      found_tools: [];
      hand_check: true;
      processed_image_url: null;
      ml_predictions: null;
      inference_time_ms: null;
      error_message: string;
    };

/** What the seed fields need of the register: a kit's tools, and a tool per class key. */
export interface SeedRegister {
  /** The kit's tools, by tool id. */
  kitTools: Array<{ id: number; name: string; serialNumber: string | null; category: string | null; classKey: string; quantity: number }>;
  /** Class key → the lowest id among the register's active tools of that class. */
  toolIdByClass: ReadonlyMap<string, number>;
}

export interface SeedRegisterSource {
  forKit(toolkitId: number): Promise<SeedRegister>;
}

type SeedSource = Pick<PredictionResult, 'detections' | 'comparison' | 'image_url' | 'timings_ms'>;

export function seedPredictFields(prediction: SeedSource, register: SeedRegister): SeedPredictFields {
  // Counted detections only, as the comparison counts them: mapped to a class, not uncertain.
  const counted = prediction.detections.filter((d) => !d.uncertain && d.tool_key !== null).map((d) => d.tool_key!);
  const seen = new Map<string, number>();
  for (const key of counted) seen.set(key, (seen.get(key) ?? 0) + 1);

  // Each kit tool of a class, in id order, takes its quantity of that class's detections.
  const slots = new Map<string, number[]>();
  const found: SeedRegister['kitTools'] = [];
  const left = new Map(seen);
  for (const tool of register.kitTools) {
    const list = slots.get(tool.classKey) ?? [];
    for (let i = 0; i < tool.quantity; i++) list.push(tool.id);
    slots.set(tool.classKey, list);
    const remaining = left.get(tool.classKey) ?? 0;
    if (remaining >= tool.quantity) found.push(tool);
    left.set(tool.classKey, Math.max(0, remaining - tool.quantity));
  }
  const used = new Map<string, number>();
  const mlPredictions: number[] = [];
  for (const key of counted) {
    const n = used.get(key) ?? 0;
    used.set(key, n + 1);
    const list = slots.get(key);
    const id = list?.[n] ?? list?.[0] ?? register.toolIdByClass.get(key);
    if (id !== undefined) mlPredictions.push(id);
  }
  return {
    found_tools: found.map((t) => ({ id: t.id, name: t.name, serial_number: t.serialNumber ?? '', category: t.category ?? '' })),
    hand_check: prediction.comparison.status !== 'success',
    processed_image_url: prediction.image_url,
    ml_predictions: mlPredictions,
    inference_time_ms: prediction.timings_ms.inference,
  };
}

export function seedBatchItemFields(prediction: SeedSource, register: SeedRegister): SeedBatchItemFields {
  return { success: true, ...seedPredictFields(prediction, register), error_message: null };
}

/** A failed image as the seed showed it: its `BatchImageResult` defaults, and the error's detail. */
export function seedFailedItemFields(error: ItemError): SeedBatchItemFields {
  return {
    success: false,
    found_tools: [],
    hand_check: true,
    processed_image_url: null,
    ml_predictions: null,
    inference_time_ms: null,
    error_message: error.detail,
  };
}
