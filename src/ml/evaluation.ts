/**
 * Detection metrics as Ultralytics/COCO compute them: per-class average precision
 * (101-point interpolated precision envelope) at IoU thresholds 0.50…0.95.
 */
import type { Box } from './detector.js';
import { iou as boxIou } from './nms.js';

export interface GroundTruth {
  image: number;
  classId: number;
  box: Box;
}

export interface Prediction {
  image: number;
  classId: number;
  confidence: number;
  box: Box;
}

export const IOU_THRESHOLDS = Array.from({ length: 10 }, (_, i) => 0.5 + i * 0.05);

/** Area under the precision envelope, sampled at 101 recall points (COCO). */
export function interpolatedAp(recall: number[], precision: number[]): number {
  const r = [0, ...recall, 1];
  const p = [1, ...precision, 0];
  for (let i = p.length - 2; i >= 0; i--) p[i] = Math.max(p[i]!, p[i + 1]!);
  let sum = 0;
  for (let k = 0; k <= 100; k++) {
    const target = k / 100;
    let j = r.findIndex((v) => v >= target);
    if (j < 0) j = r.length - 1;
    sum += p[j]!;
  }
  return sum / 101;
}

/**
 * AP of one class at one IoU threshold: predictions sorted by confidence are
 * matched greedily to unmatched ground truths of the same image.
 */
export function averagePrecision(predictions: readonly Prediction[], truths: readonly GroundTruth[], iouThreshold: number): number {
  if (truths.length === 0) return predictions.length === 0 ? 1 : 0;
  const byImage = new Map<number, Array<{ box: Box; used: boolean }>>();
  for (const t of truths) {
    const list = byImage.get(t.image) ?? [];
    list.push({ box: t.box, used: false });
    byImage.set(t.image, list);
  }
  const sorted = [...predictions].sort((a, b) => b.confidence - a.confidence);
  let tp = 0;
  let fp = 0;
  const recall: number[] = [];
  const precision: number[] = [];
  for (const pred of sorted) {
    let best = -1;
    let bestIou = iouThreshold;
    const candidates = byImage.get(pred.image) ?? [];
    candidates.forEach((c, i) => {
      if (c.used) return;
      const iou = boxIou(pred.box, c.box);
      if (iou >= bestIou) {
        bestIou = iou;
        best = i;
      }
    });
    if (best >= 0) {
      candidates[best]!.used = true;
      tp++;
    } else {
      fp++;
    }
    recall.push(tp / truths.length);
    precision.push(tp / (tp + fp));
  }
  return interpolatedAp(recall, precision);
}

export interface ClassMetrics {
  classId: number;
  truths: number;
  precision: number;
  recall: number;
  ap50: number;
  ap50_95: number;
}

/** Per-class P and R at `confidence`, AP50 and AP50-95 over all predictions. */
export function detectionMetrics(
  predictions: readonly Prediction[],
  truths: readonly GroundTruth[],
  classIds: readonly number[],
  confidence: number,
): ClassMetrics[] {
  return classIds.map((classId) => {
    const preds = predictions.filter((p) => p.classId === classId);
    const gts = truths.filter((t) => t.classId === classId);
    const aps = IOU_THRESHOLDS.map((thr) => averagePrecision(preds, gts, thr));
    const kept = preds.filter((p) => p.confidence >= confidence);
    const matchedTp = countMatches(kept, gts, 0.5);
    return {
      classId,
      truths: gts.length,
      precision: kept.length === 0 ? 0 : matchedTp / kept.length,
      recall: gts.length === 0 ? 0 : matchedTp / gts.length,
      ap50: aps[0]!,
      ap50_95: aps.reduce((a, b) => a + b, 0) / aps.length,
    };
  });
}

function countMatches(predictions: readonly Prediction[], truths: readonly GroundTruth[], iouThreshold: number): number {
  const used = new Set<number>();
  let tp = 0;
  for (const pred of [...predictions].sort((a, b) => b.confidence - a.confidence)) {
    let best = -1;
    let bestIou = iouThreshold;
    truths.forEach((t, i) => {
      if (used.has(i) || t.image !== pred.image) return;
      const iou = boxIou(pred.box, t.box);
      if (iou >= bestIou) {
        bestIou = iou;
        best = i;
      }
    });
    if (best >= 0) {
      used.add(best);
      tp++;
    }
  }
  return tp;
}
