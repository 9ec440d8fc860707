import { describe, expect, it } from 'vitest';
import { largestContour } from '../../src/ml/mask-contour.js';
import { iou, nonMaxSuppression, type Candidate } from '../../src/ml/nms.js';
import { decodeCandidates } from '../../src/ml/yolo-output.js';

function box(x1: number, y1: number, x2: number, y2: number, score: number, classId = 0, anchor = 0): Candidate {
  return { x1, y1, x2, y2, score, classId, anchor };
}

describe('iou', () => {
  it('matches torchvision (no +1 pixel)', () => {
    expect(iou(box(0, 0, 10, 10, 1), box(5, 0, 15, 10, 1))).toBeCloseTo(50 / 150, 12);
    expect(iou(box(0, 0, 10, 10, 1), box(10, 0, 20, 10, 1))).toBe(0);
    expect(iou(box(0, 0, 10, 10, 1), box(0, 0, 10, 10, 1))).toBe(1);
  });
});

describe('nonMaxSuppression', () => {
  it('suppresses overlapping boxes of the same class only', () => {
    const kept = nonMaxSuppression(
      [box(0, 0, 10, 10, 0.8, 0, 0), box(1, 0, 11, 10, 0.9, 0, 1), box(0, 0, 10, 10, 0.7, 1, 2)],
      0.7,
      300,
    );
    expect(kept.map((c) => c.anchor)).toEqual([1, 2]);
  });

  it('suppresses across classes when agnostic, keeping the higher score', () => {
    const boxes = [box(0, 0, 10, 10, 0.8, 0, 0), box(1, 0, 11, 10, 0.6, 1, 1), box(30, 30, 40, 40, 0.5, 1, 2)];
    expect(nonMaxSuppression(boxes, 0.7, 300).map((c) => c.anchor)).toEqual([0, 1, 2]);
    expect(nonMaxSuppression(boxes, 0.7, 300, true).map((c) => c.anchor)).toEqual([0, 2]);
  });

  it('keeps a box whose IoU equals the threshold (suppression needs IoU > threshold)', () => {
    // IoU = 50 / 150 = 1/3.
    const kept = nonMaxSuppression([box(0, 0, 10, 10, 0.9, 0, 0), box(5, 0, 15, 10, 0.8, 0, 1)], 1 / 3, 300);
    expect(kept).toHaveLength(2);
  });

  it('returns at most maxDetections, highest score first, ties in anchor order', () => {
    const candidates = Array.from({ length: 500 }, (_, i) => box(i * 20, 0, i * 20 + 10, 10, (i % 7) / 10, 0, i));
    const kept = nonMaxSuppression(candidates, 0.7, 300);
    expect(kept).toHaveLength(300);
    for (let i = 1; i < kept.length; i++) {
      const [previous, current] = [kept[i - 1]!, kept[i]!];
      expect(previous.score > current.score || (previous.score === current.score && previous.anchor < current.anchor)).toBe(
        true,
      );
    }
    expect(nonMaxSuppression(candidates, 0.7, 3).map((c) => c.anchor)).toEqual([6, 13, 20]);
  });
});

describe('decodeCandidates', () => {
  it('reads [B, 4 + nc, N], picks the best class and filters strictly above the confidence', () => {
    // Two anchors, two classes: anchor 0 → class 1 (0.6), anchor 1 → class 0 at exactly 0.5.
    const data = Float32Array.from([10, 50, 20, 60, 4, 8, 6, 10, 0.2, 0.5, 0.6, 0.1]);
    const candidates = decodeCandidates({ data, dims: [1, 6, 2] }, 2, 0.5);
    expect(candidates).toEqual([{ x1: 8, y1: 17, x2: 12, y2: 23, score: expect.closeTo(0.6, 6), classId: 1, anchor: 0 }]);
    expect(decodeCandidates({ data, dims: [1, 6, 2] }, 2, 0.49)).toHaveLength(2);
  });
});

describe('largestContour', () => {
  function mask(rows: string[]): [Uint8Array, number, number] {
    const width = rows[0]!.length;
    return [Uint8Array.from(rows.join('').split('').map((c) => (c === '#' ? 1 : 0))), width, rows.length];
  }

  it('outlines a rectangle by its four corner pixels', () => {
    expect(largestContour(...mask(['.....', '.###.', '.###.', '.....']))).toEqual([
      [1, 1],
      [3, 1],
      [3, 2],
      [1, 2],
    ]);
  });

  it('keeps the largest 8-connected component and follows diagonal steps', () => {
    const contour = largestContour(...mask(['#.....', '......', '..#...', '.###..', '..#...']));
    expect(contour).toEqual([
      [2, 2],
      [3, 3],
      [2, 4],
      [1, 3],
    ]);
  });

  it('handles a single pixel, a thin line and an empty mask', () => {
    expect(largestContour(...mask(['...', '.#.', '...']))).toEqual([[1, 1]]);
    expect(largestContour(...mask(['####']))).toEqual([
      [0, 0],
      [3, 0],
    ]);
    expect(largestContour(...mask(['...']))).toEqual([]);
  });

  it('traces only the outer boundary of a ring', () => {
    expect(largestContour(...mask(['###', '#.#', '###']))).toEqual([
      [0, 0],
      [2, 0],
      [2, 2],
      [0, 2],
    ]);
  });
});
