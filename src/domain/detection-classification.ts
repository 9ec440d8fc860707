/**
 * Model detections → tool detections: model class names map to tool class keys
 * through aliases, and each detection is kept as confident, kept as uncertain
 * (between the review floor and its class threshold), or dropped.
 */

export interface ThresholdPolicy {
  /** The request's confidence (default 0.5, as the seed says). */
  requestConfidence: number;
  /** Per-class thresholds set by an admin; they replace the request confidence for their class. */
  classThresholds: ReadonlyMap<string, number>;
  /** Detections at or above this floor but under their threshold are uncertain. */
  reviewFloor: number;
}

export interface ClassifiedDetection<T> {
  detection: T;
  classKey: string | null;
  threshold: number;
  uncertain: boolean;
}

/** The tool class a model class name stands for: an alias, or the name itself when it is a known key. */
export function resolveClassKey(
  modelClassName: string,
  aliases: ReadonlyMap<string, string>,
  knownKeys: ReadonlySet<string>,
): string | null {
  const alias = aliases.get(modelClassName) ?? aliases.get(modelClassName.trim());
  if (alias) return alias;
  return knownKeys.has(modelClassName) ? modelClassName : null;
}

export function thresholdFor(classKey: string | null, policy: ThresholdPolicy): number {
  return (classKey !== null ? policy.classThresholds.get(classKey) : undefined) ?? policy.requestConfidence;
}

/** The lowest confidence any detection could be kept at: what to ask the detector for. */
export function detectorFloor(policy: ThresholdPolicy): number {
  return Math.min(policy.reviewFloor, policy.requestConfidence, ...policy.classThresholds.values());
}

export function classifyDetections<T extends { className: string; confidence: number }>(
  detections: readonly T[],
  aliases: ReadonlyMap<string, string>,
  knownKeys: ReadonlySet<string>,
  policy: ThresholdPolicy,
): ClassifiedDetection<T>[] {
  const kept: ClassifiedDetection<T>[] = [];
  for (const detection of detections) {
    const classKey = resolveClassKey(detection.className, aliases, knownKeys);
    const threshold = thresholdFor(classKey, policy);
    if (detection.confidence >= threshold) {
      kept.push({ detection, classKey, threshold, uncertain: false });
    } else if (detection.confidence >= Math.min(policy.reviewFloor, threshold)) {
      kept.push({ detection, classKey, threshold, uncertain: true });
    }
  }
  return kept;
}
