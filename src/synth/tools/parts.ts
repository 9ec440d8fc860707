/** Parts several tools share: screwdriver handles, plier grips, knurling, pivots. */
import { quadratic, type Point } from '../geometry.js';
import { METAL_EDGE, shade } from '../materials.js';
import type { Sketch } from '../sketch.js';

/** A moulded screwdriver handle lying along +x from `x0`, rounded at the back. */
export function screwdriverHandle(s: Sketch, x0: number, length: number, width: number, colour: string): void {
  const h = width / 2;
  const outline: Point[] = [
    ...quadratic([x0 + 0.12 * length, -h], [x0 - 0.02 * length, -h], [x0, 0], 5),
    ...quadratic([x0, 0], [x0 - 0.02 * length, h], [x0 + 0.12 * length, h], 5).slice(1),
    [x0 + 0.72 * length, h * 1.02],
    [x0 + 0.9 * length, h * 0.72],
    [x0 + length, h * 0.55],
    [x0 + length, -h * 0.55],
    [x0 + 0.9 * length, -h * 0.72],
    [x0 + 0.72 * length, -h * 1.02],
  ];
  s.polygon(outline, { fill: colour, stroke: shade(colour, 0.55), strokeWidth: 0.8 });
  // Grip flutes and a moulded highlight.
  for (const f of [-0.5, 0, 0.5]) {
    s.line([x0 + 0.16 * length, f * h], [x0 + 0.68 * length, f * h * 1.05], shade(colour, 0.6), width * 0.09);
  }
  s.line([x0 + 0.14 * length, -h * 0.75], [x0 + 0.7 * length, -h * 0.78], '#ffffff', width * 0.08, 0.35);
}

/** A plier-type handle: steel arm with a dipped plastic grip from `gripFrom` on. */
export function gripSleeve(s: Sketch, from: Point, to: Point, width: number, colour: string): void {
  s.bar(from, to, width * 0.9, { fill: colour, stroke: shade(colour, 0.5), strokeWidth: 0.8 }, width);
  s.circle(to[0], to[1], width / 2, { fill: colour, stroke: shade(colour, 0.5), strokeWidth: 0.8 });
  const dx = to[0] - from[0];
  const dy = to[1] - from[1];
  const len = Math.hypot(dx, dy);
  const nx = -dy / len;
  const ny = dx / len;
  s.line(
    [from[0] + dx * 0.08 + nx * width * 0.22, from[1] + dy * 0.08 + ny * width * 0.22],
    [to[0] - dx * 0.05 + nx * width * 0.25, to[1] - dy * 0.05 + ny * width * 0.25],
    '#ffffff',
    width * 0.12,
    0.3,
  );
}

/** Parallel dark ridges across a bar: knurling, threads, serrations. */
export function ridges(s: Sketch, from: Point, to: Point, halfWidth: number, count: number, stroke = METAL_EDGE, width = 0.5, slant = 0): void {
  const dx = to[0] - from[0];
  const dy = to[1] - from[1];
  const len = Math.hypot(dx, dy) || 1;
  const nx = -dy / len;
  const ny = dx / len;
  for (let i = 0; i <= count; i++) {
    const t = i / count;
    const cx = from[0] + dx * t;
    const cy = from[1] + dy * t;
    s.line(
      [cx + nx * halfWidth + (dx / len) * slant, cy + ny * halfWidth + (dy / len) * slant],
      [cx - nx * halfWidth - (dx / len) * slant, cy - ny * halfWidth - (dy / len) * slant],
      stroke,
      width,
    );
  }
}

export function pivotRivet(s: Sketch, x: number, y: number, r: number): void {
  s.circle(x, y, r, { fill: 'url(#steel)', stroke: METAL_EDGE, strokeWidth: 0.8 });
  s.circle(x, y, r * 0.45, { fill: '#9aa1a8', stroke: METAL_EDGE, strokeWidth: 0.5 }, false);
}
