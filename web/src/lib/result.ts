/**
 * What an operation's recorded result says about each tool of the kit: found, missing,
 * extra or uncertain, with the best confidence seen and what was lost since checkout.
 * Rows follow the kit's own list (a stable order); tools the kit does not hold come last.
 */
import type { Operation, Toolkit } from './api/client';

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

export function toolRows(op: Operation, kit: Pick<Toolkit, 'items'> | null): ToolRow[] {
  const r = storedResult(op);
  const best = new Map<string, number>();
  for (const d of r.detections) {
    if (d.uncertain || !d.tool_key) continue;
    best.set(d.tool_key, Math.max(best.get(d.tool_key) ?? 0, d.confidence));
  }
  const expected = new Map<string, { name: string; quantity: number }>();
  for (const item of kit?.items ?? []) {
    const e = expected.get(item.class_key);
    expected.set(item.class_key, { name: e?.name ?? item.name, quantity: (e?.quantity ?? 0) + item.quantity });
  }
  // Without the kit's list (no access), the recorded missing tools stand for it.
  if (expected.size === 0) {
    for (const c of [...r.missing_tools]) expected.set(c.class_key, { name: c.tool_name, quantity: c.expected ?? c.count });
    for (const [key, n] of Object.entries(r.counts)) if (!expected.has(key) && !byKey(r.extra_tools, key)) expected.set(key, { name: key, quantity: n });
  }

  const rows: ToolRow[] = [];
  for (const [key, { name, quantity }] of expected) {
    const found = r.counts[key] ?? 0;
    const uncertain = byKey(r.uncertain, key);
    const state: ToolState = byKey(r.missing_tools, key) || found < quantity ? (uncertain ? 'uncertain' : 'missing') : found > quantity ? 'extra' : 'found';
    rows.push({
      key,
      name,
      expected: quantity,
      found,
      state,
      confidence: best.get(key) ?? uncertain?.max_confidence ?? null,
      lost: byKey(r.lost_since_checkout, key)?.count ?? 0,
      missingAtCheckout: byKey(r.missing_at_checkout, key)?.count ?? 0,
    });
  }
  for (const extra of r.extra_tools) {
    if (expected.has(extra.class_key)) continue;
    rows.push({
      key: extra.class_key,
      name: extra.tool_name,
      expected: 0,
      found: extra.found ?? extra.count,
      state: 'extra',
      confidence: best.get(extra.class_key) ?? null,
      lost: 0,
      missingAtCheckout: 0,
    });
  }
  return rows;
}

/** "Пассатижи ×1, Бокорезы ×2" */
export function countList(list: Count[]): string {
  return list.map((c) => `${c.tool_name} ×${c.count}`).join(', ');
}
