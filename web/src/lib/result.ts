/**
 * What an operation's recorded result says about each tool of the kit: found, missing,
 * extra or uncertain, with the best confidence seen and what was lost since checkout.
 * Rows follow the kit's own list (a stable order); tools the kit does not hold come last.
 */
// The generated types only (no runtime import): the service's tests read this module too.
import type { components } from './api/schema.js';

type Operation = components['schemas']['Operation'];
type Toolkit = components['schemas']['Toolkit'];

export type ToolState = 'found' | 'missing' | 'extra' | 'uncertain';

export interface ToolRow {
  key: string;
  name: string;
  expected: number;
  found: number;
  state: ToolState;
  confidence: number | null;
  lost: number;
  missingAtCheckout: number;
}

interface Count {
  class_key: string;
  tool_name: string;
  count: number;
  expected?: number;
  found?: number;
  max_confidence?: number;
}

export interface StoredResult {
  counts: Record<string, number>;
  missing_tools: Count[];
  extra_tools: Count[];
  uncertain: Count[];
  detections: Array<{ tool_key: string | null; class_name: string; tool_name: string; confidence: number; uncertain: boolean; box: { x1: number; y1: number; x2: number; y2: number } }>;
  lost_since_checkout?: Count[];
  missing_at_checkout?: Count[];
  checkout_operation_id?: number | null;
  model?: { sha256: string; file: string; task: string; imgsz: number[]; version?: string };
  thresholds?: { confidence: number; review_floor: number; class_thresholds: Record<string, number>; match_threshold: number; iou: number; agnostic_nms: boolean };
  timings_ms?: Record<string, number | string>;
}

export function storedResult(op: Operation): StoredResult {
  const r = op.result_json as Partial<StoredResult>;
  return {
    ...r,
    counts: r.counts ?? {},
    missing_tools: r.missing_tools ?? [],
    extra_tools: r.extra_tools ?? [],
    uncertain: r.uncertain ?? [],
    detections: r.detections ?? [],
  };
}

const byKey = (list: Count[] | undefined, key: string) => list?.find((c) => c.class_key === key);

/**
 * One row per tool class, from what was recorded when the photo was judged (so a kit edited
 * later does not rewrite an old verdict): the kit's current list gives only the order and
 * the names. `checkout` (for a checkin) tells which tools were already missing when the kit
 * went out, so the engineer is not blamed for them.
 */
export function toolRows(op: Operation, kit: Pick<Toolkit, 'items'> | null, checkout: Operation | null = null): ToolRow[] {
  const r = storedResult(op);
  const best = new Map<string, number>();
  for (const d of r.detections) {
    if (d.uncertain || !d.tool_key) continue;
    best.set(d.tool_key, Math.max(best.get(d.tool_key) ?? 0, d.confidence));
  }
  const names = new Map<string, string>();
  for (const list of [r.missing_tools, r.extra_tools, r.uncertain, r.lost_since_checkout ?? []]) for (const c of list) names.set(c.class_key, c.tool_name);
  for (const item of kit?.items ?? []) if (!names.has(item.class_key)) names.set(item.class_key, item.name);
  const missingBefore = op.operation_type === 'checkin' && checkout ? storedResult(checkout).missing_at_checkout : undefined;

  const keys: string[] = [];
  const add = (key: string) => {
    if (!keys.includes(key)) keys.push(key);
  };
  const judged = (key: string) => key in r.counts || byKey(r.missing_tools, key) || byKey(r.extra_tools, key) || byKey(r.lost_since_checkout, key);
  for (const item of kit?.items ?? []) if (judged(item.class_key)) add(item.class_key);
  for (const c of r.missing_tools) add(c.class_key);
  for (const key of Object.keys(r.counts)) add(key);
  for (const c of r.extra_tools) add(c.class_key);
  for (const c of r.lost_since_checkout ?? []) add(c.class_key);

  return keys.map((key) => {
    const found = r.counts[key] ?? 0;
    const missing = byKey(r.missing_tools, key);
    const extra = byKey(r.extra_tools, key);
    const uncertain = byKey(r.uncertain, key);
    const lost = byKey(r.lost_since_checkout, key)?.count ?? 0;
    // Not in missing or extra: the count matched what the kit held then.
    const expected = missing?.expected ?? extra?.expected ?? (lost > 0 && !(key in r.counts) ? 0 : found);
    let state: ToolState = 'found';
    // Uncertain only when the uncertain detections could make up every missing one.
    if (missing) state = (uncertain?.count ?? 0) >= missing.count ? 'uncertain' : 'missing';
    else if (extra) state = 'extra';
    // A tool that left with the kit and did not come back is missing, whatever the list says.
    if (lost > 0 && state !== 'missing') state = 'missing';
    return {
      key,
      name: names.get(key) ?? key,
      expected,
      found,
      state,
      confidence: state === 'uncertain' ? (uncertain?.max_confidence ?? null) : (best.get(key) ?? null),
      lost,
      missingAtCheckout: byKey(missingBefore, key)?.count ?? 0,
    };
  });
}

/** "Пассатижи ×1, Бокорезы ×2" */
export function countList(list: Count[]): string {
  return list.map((c) => `${c.tool_name} ×${c.count}`).join(', ');
}

