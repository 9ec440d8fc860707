/**
 * Non-maximum suppression with the semantics of Ultralytics' ops.non_max_suppression
 * (multi_label=False) and torchvision.ops.nms: class-aware by default, across classes
 * with `agnostic` (Ultralytics' agnostic_nms=True).
 */

import type { Box } from './detector.js';

/** A box candidate in model-input pixels (xyxy), with its best class. */
export interface Candidate {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  classId: number;
  /** Anchor index in the model output (to fetch mask coefficients). */
  anchor: number;
}

/** Ultralytics caps the boxes entering NMS (max_nms). */
export const MAX_NMS_CANDIDATES = 30_000;

/** IoU as torchvision computes it (no +1 pixel convention). */
export function iou(a: Box, b: Box): number {
  const interWidth = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const interHeight = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (interWidth <= 0 || interHeight <= 0) return 0;
  const intersection = interWidth * interHeight;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - intersection;
  return union > 0 ? intersection / union : 0;
}

/**
 * Greedy NMS by descending score; a box is suppressed by a kept box of the same class (of
 * any class when `agnostic`) with IoU above `iouThreshold`. Returns at most `maxDetections`
 * boxes, highest score first. Stopping at maxDetections gives the same result as
 * torchvision's nms followed by [:max_det].
 */
export function nonMaxSuppression(candidates: Candidate[], iouThreshold: number, maxDetections: number, agnostic = false): Candidate[] {
  // Array.prototype.sort is stable: equal scores keep anchor order.
  const ordered = [...candidates].sort((a, b) => b.score - a.score).slice(0, MAX_NMS_CANDIDATES);
  const keptByClass = new Map<number, Candidate[]>();
  const kept: Candidate[] = [];
  for (const candidate of ordered) {
    if (kept.length >= maxDetections) break;
    const group = agnostic ? 0 : candidate.classId;
    const sameGroup = keptByClass.get(group);
    if (sameGroup?.some((other) => iou(other, candidate) > iouThreshold)) continue;
    kept.push(candidate);
    if (sameGroup) sameGroup.push(candidate);
    else keptByClass.set(group, [candidate]);
  }
  return kept;
}
