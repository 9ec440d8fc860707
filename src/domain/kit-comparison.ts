/**
 * What the photo shows against what the kit must hold. Pure: no I/O, fully
 * determined by its inputs, unit-tested on every branch.
 *
 * Rules (DESIGN.md "Counting"):
 * - Confident detections are counted per tool class and compared with each kit
 *   item's quantity → missing (fewer than expected) and extra (more than expected,
 *   or a class the kit does not hold).
 * - `match_percentage` = Σ min(found, expected) / Σ expected × 100.
 * - `success` needs nothing missing, nothing extra, and the match at or above the
 *   threshold.
 * - Uncertain detections (between the review floor and the class threshold) can
 *   only stand in for missing tools: when every missing tool could be one of the
 *   uncertain detections, the verdict depends on them and the operation goes to
 *   `manual_check` for a storekeeper to decide. Uncertain detections beyond the
 *   kit's quantities are reported but do not change the verdict: the question the
 *   check answers is "is every tool back?".
 */

export type ComparisonStatus = 'success' | 'discrepancy' | 'manual_check';

export interface KitItemExpectation {
  classKey: string;
  toolName: string;
  quantity: number;
}

export interface CountedDetection {
  /** Null when the model class maps to no tool: ignored by the comparison. */
  classKey: string | null;
  confidence: number;
  uncertain: boolean;
}

export interface ClassShortfall {
  class_key: string;
  tool_name: string;
  expected: number;
  found: number;
  /** How many are missing (expected − found). */
  count: number;
}

export interface ClassSurplus {
  class_key: string;
  tool_name: string;
  expected: number;
  found: number;
  /** How many are extra (found − expected). */
  count: number;
}

export interface UncertainClass {
  class_key: string;
  tool_name: string;
  count: number;
  max_confidence: number;
}

export interface KitComparison {
  status: ComparisonStatus;
  match_percentage: number;
  expected_total: number;
  found_total: number;
  /** Confident detections per tool class. */
  counts: Record<string, number>;
  missing: ClassShortfall[];
  extra: ClassSurplus[];
  uncertain: UncertainClass[];
}

export interface CompareOptions {
  /** Match percentage needed for success, 0–100 (seed: 95). */
  matchThreshold: number;
  /** Names for classes outside the kit (extra tools), by key. */
  toolNames?: Readonly<Record<string, string>>;
}

export function compareKit(
  items: readonly KitItemExpectation[],
  detections: readonly CountedDetection[],
  options: CompareOptions,
): KitComparison {
  const expected = new Map<string, KitItemExpectation>();
  for (const item of items) {
    const existing = expected.get(item.classKey);
    // A kit may list two tools of one class (two registered instances): their quantities add up.
    expected.set(item.classKey, existing ? { ...existing, quantity: existing.quantity + item.quantity } : { ...item });
  }

  const counts = new Map<string, number>();
  const uncertain = new Map<string, { count: number; max: number }>();
  for (const d of detections) {
    if (d.classKey === null) continue;
    if (d.uncertain) {
      const u = uncertain.get(d.classKey) ?? { count: 0, max: 0 };
      uncertain.set(d.classKey, { count: u.count + 1, max: Math.max(u.max, d.confidence) });
    } else {
      counts.set(d.classKey, (counts.get(d.classKey) ?? 0) + 1);
    }
  }

  const nameOf = (key: string) => expected.get(key)?.toolName ?? options.toolNames?.[key] ?? key;

  let expectedTotal = 0;
  let matched = 0;
  let missingResolvableByUncertain = true;
  const missing: ClassShortfall[] = [];
  for (const item of expected.values()) {
    const found = counts.get(item.classKey) ?? 0;
    expectedTotal += item.quantity;
    matched += Math.min(found, item.quantity);
    if (found < item.quantity) {
      const count = item.quantity - found;
      missing.push({ class_key: item.classKey, tool_name: item.toolName, expected: item.quantity, found, count });
      if ((uncertain.get(item.classKey)?.count ?? 0) < count) missingResolvableByUncertain = false;
    }
  }

  const extra: ClassSurplus[] = [];
  for (const [key, found] of counts) {
    const quantity = expected.get(key)?.quantity ?? 0;
    if (found > quantity) extra.push({ class_key: key, tool_name: nameOf(key), expected: quantity, found, count: found - quantity });
  }

  const matchPercentage = expectedTotal === 0 ? 100 : round2((matched / expectedTotal) * 100);
  const foundTotal = [...counts.values()].reduce((a, b) => a + b, 0);

  let status: ComparisonStatus;
  if (missing.length === 0 && extra.length === 0 && matchPercentage >= options.matchThreshold) {
    status = 'success';
  } else if (extra.length === 0 && missing.length > 0 && missingResolvableByUncertain) {
    status = 'manual_check';
  } else {
    status = 'discrepancy';
  }

  return {
    status,
    match_percentage: matchPercentage,
    expected_total: expectedTotal,
    found_total: foundTotal,
    counts: Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b))),
    missing: missing.sort(byKey),
    extra: extra.sort(byKey),
    uncertain: [...uncertain]
      .map(([key, u]) => ({ class_key: key, tool_name: nameOf(key), count: u.count, max_confidence: round4(u.max) }))
      .sort(byKey),
  };
}

function byKey(a: { class_key: string }, b: { class_key: string }): number {
  return a.class_key.localeCompare(b.class_key);
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function round4(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}
