/**
 * Hinged-jaw tools drawn closed, jaws to the left of the pivot (origin) and
 * handles to the right. Each has its own silhouette:
 *  - pliers: blunt serrated jaws with a pipe grip, two diverging grip sleeves;
 *  - side cutters: short pointed jaws angled off the axis, a return spring;
 *  - safety-wire pliers: long thin jaws, near-parallel handles and the spiral
 *    twister rod with its knob between the handle ends;
 *  - shernitsa (see MODEL_CARD.md): locking pliers with curved jaws, a pressed
 *    steel upper handle ending in an adjusting screw, a curved lower handle
 *    and its release lever.
 */
import { affine, applyAffine, quadratic, type Point } from '../geometry.js';
import { METAL_EDGE, pickHandleColour, pickMetal, shade } from '../materials.js';
import type { Random } from '../random.js';
import { Sketch, type ToolDrawing } from '../sketch.js';
import { gripSleeve, pivotRivet, ridges } from './parts.js';

function mirrorY(points: Point[]): Point[] {
  return points.map(([x, y]) => [x, -y] as Point).reverse();
}

export function drawPliers(rng: Random): ToolDrawing {
  const s = new Sketch();
  const metal = pickMetal(rng);
  const paint = { fill: metal, stroke: METAL_EDGE, strokeWidth: 0.7 };
  const jaw = rng.uniform(42, 52);
  const colour = pickHandleColour(rng);
  const spread = rng.uniform(17, 24);
  const handleEnd = rng.uniform(135, 160);

  // Handles first: steel arms under dipped grips.
  for (const side of [-1, 1]) {
    s.bar([4, side * 7], [30, side * 11], 11, paint);
    gripSleeve(s, [28, side * 10.5], [handleEnd, side * spread], rng.uniform(14, 17), colour);
  }
  // Head: blunt jaws, flat nose.
  const upper: Point[] = [
    [14, -13],
    [-4, -15],
    [-jaw * 0.55, -10],
    [-jaw, -5.5],
    [-jaw - 1.5, -2],
  ];
  s.polygon([...upper, ...mirrorY(upper)], paint);
  // Serrations on the flat nose, pipe grip and cutter.
  ridges(s, [-jaw + 1, 0], [-jaw * 0.55, 0], 4.5, 9, '#23272b', 0.55);
  s.ellipse(-jaw * 0.36, 0, 5.5, 3.2, { fill: '#2a2e33' }, false);
  s.line([-jaw * 0.22, -2], [-4, -1], '#1b1e21', 1.1);
  s.line([-jaw * 0.95, 0], [-jaw * 0.1, 0], '#15181b', 0.8);
  pivotRivet(s, 0, 0, 8);
  return s.build();
}

export function drawSideCutters(rng: Random): ToolDrawing {
  const s = new Sketch();
  const metal = pickMetal(rng);
  const paint = { fill: metal, stroke: METAL_EDGE, strokeWidth: 0.7 };
  const colour = pickHandleColour(rng);
  const handleEnd = rng.uniform(115, 140);
  const spread = rng.uniform(18, 25);

  for (const side of [-1, 1]) {
    s.bar([6, side * 8], [28, side * 12], 12, paint);
    gripSleeve(s, [26, side * 11.5], [handleEnd, side * spread], rng.uniform(14, 17), colour);
  }
  if (rng.chance(0.7)) {
    // Return spring between the handles.
    s.polyline(quadratic([18, -9], [34, 0], [18, 9], 8), '#b9bec4', 1.6);
  }
  // Stubby pointed head, angled off the handle axis like diagonal cutters.
  const angle = rng.uniform(8, 16) * rng.pick([-1, 1]);
  const m = affine(0, 0, angle, 1);
  const length = rng.uniform(28, 34);
  const half: Point[] = [
    [14, -16],
    [-2, -18],
    ...quadratic([-10, -16], [-length * 0.8, -12], [-length, -1.2], 6),
  ];
  const head = [...half, ...mirrorY(half)].map((p) => applyAffine(m, p));
  s.polygon(head, paint);
  // Cutting edges meet along the centre line; bevels either side.
  s.line(applyAffine(m, [-length + 1, 0]), applyAffine(m, [-6, 0]), '#121417', 1.2);
  s.line(applyAffine(m, [-length + 4, -3]), applyAffine(m, [-8, -7]), '#e3e7ea', 0.9, 0.7);
  s.line(applyAffine(m, [-length + 4, 3]), applyAffine(m, [-8, 7]), '#e3e7ea', 0.9, 0.7);
  pivotRivet(s, 0, 0, 8.5);
  return s.build();
}

export function drawSafetyWirePliers(rng: Random): ToolDrawing {
  const s = new Sketch();
  const metal = rng.chance(0.8) ? 'url(#steel)' : pickMetal(rng);
  const paint = { fill: metal, stroke: METAL_EDGE, strokeWidth: 0.7 };
  const colour = rng.chance(0.35) ? null : pickHandleColour(rng);
  const jaw = rng.uniform(62, 78);
  const handleEnd = rng.uniform(150, 170);
  const spread = rng.uniform(12, 15);

  // Twister: spiral rod along the axis between the handle ends, with a knob.
  const rodStart = handleEnd * 0.62;
  const rodEnd = handleEnd + rng.uniform(22, 32);
  s.bar([rodStart, 0], [rodEnd, 0], 7, { fill: 'url(#steel)', stroke: METAL_EDGE, strokeWidth: 0.5 });
  ridges(s, [rodStart + 2, 0], [rodEnd - 2, 0], 3.3, Math.round((rodEnd - rodStart) / 3.2), '#2d3136', 0.7, 1.8);
  s.circle(rodEnd + 5, 0, rng.uniform(6.5, 8), { fill: 'url(#steelDark)', stroke: METAL_EDGE, strokeWidth: 0.7 });

  for (const side of [-1, 1]) {
    s.bar([4, side * 6], [handleEnd * 0.3, side * spread], 10, paint);
    if (colour) {
      gripSleeve(s, [handleEnd * 0.3, side * spread], [handleEnd, side * (spread + 1)], 12.5, colour);
    } else {
      s.bar([handleEnd * 0.3, side * spread], [handleEnd, side * (spread + 1)], 11, paint, 10);
      s.circle(handleEnd, side * (spread + 1), 5, paint);
    }
  }
  // Locking sleeve that slides over the handles.
  const lockX = handleEnd * rng.uniform(0.38, 0.5);
  s.bar([lockX - 4, 0], [lockX + 4, 0], spread * 2 + 12, { fill: 'url(#steelDark)', stroke: METAL_EDGE, strokeWidth: 0.7 });

  // Long narrow jaws with a cutter near the pivot.
  const half: Point[] = [
    [12, -12],
    [-6, -12.5],
    [-16, -7],
    [-jaw, -2.4],
    [-jaw - 1.2, -0.8],
  ];
  s.polygon([...half, ...mirrorY(half)], paint);
  s.line([-jaw, 0], [-12, 0], '#15181b', 0.8);
  ridges(s, [-jaw + 2, 0], [-jaw * 0.45, 0], 1.6, 10, '#2b2f34', 0.45);
  pivotRivet(s, 0, 0, 8);
  return s.build();
}

/** Locking pliers, the drawing used for «шэрница» (see MODEL_CARD.md). */
export function drawShernitsa(rng: Random): ToolDrawing {
  const s = new Sketch();
  const metal = rng.chance(0.8) ? 'url(#steel)' : pickMetal(rng);
  const paint = { fill: metal, stroke: METAL_EDGE, strokeWidth: 0.7 };
  const upperEnd = rng.uniform(120, 140);

  // Lower handle curves away, with the release lever inside it.
  const lowerPath = quadratic([6, 10], [60, 30], [upperEnd - 8, 36], 8);
  for (let i = 0; i + 1 < lowerPath.length; i++) s.bar(lowerPath[i]!, lowerPath[i + 1]!, 10, paint);
  s.circle(lowerPath[lowerPath.length - 1]![0], lowerPath[lowerPath.length - 1]![1], 5, paint);
  const leverColour = rng.chance(0.6) ? pickHandleColour(rng) : '#9aa1a8';
  s.polyline(quadratic([48, 18], [80, 22], [upperEnd - 30, 27], 6), shade(leverColour, 0.6), 5);
  s.polyline(quadratic([48, 18], [80, 22], [upperEnd - 30, 27], 6), leverColour, 3.6);

  // Pressed-steel upper handle (a channel: bright edges), ending at the adjusting screw.
  s.polygon(
    [
      [8, -12],
      [upperEnd, -11],
      [upperEnd, 9],
      [30, 12],
      [8, 10],
    ],
    paint,
  );
  s.line([14, -9], [upperEnd - 2, -8.5], '#ffffff', 1.6, 0.55);
  s.line([30, 8], [upperEnd - 2, 6], METAL_EDGE, 1.2);
  const screwEnd = upperEnd + rng.uniform(14, 22);
  s.bar([upperEnd, -1], [screwEnd, -1], 8, { fill: 'url(#steel)', stroke: METAL_EDGE, strokeWidth: 0.5 });
  ridges(s, [upperEnd + 1, -1], [screwEnd - 1, -1], 3.6, 8, '#2d3136', 0.6, 1.2);
  s.bar([screwEnd, -1], [screwEnd + 12, -1], 17, { fill: 'url(#steelDark)', stroke: METAL_EDGE, strokeWidth: 0.7 });
  ridges(s, [screwEnd + 1, -1], [screwEnd + 11, -1], 8, 7, '#1c1f22', 0.6);

  // Curved jaws with the round pipe opening.
  const jaw = rng.uniform(36, 44);
  const upper: Point[] = [[10, -14], [-4, -15], ...quadratic([-10, -15], [-jaw * 0.7, -18], [-jaw, -3], 6)];
  const lower: Point[] = [...quadratic([-jaw, 3], [-jaw * 0.7, 16], [-10, 14], 6), [2, 16], [10, 12]];
  s.polygon([...upper, ...lower], paint);
  s.ellipse(-jaw * 0.5, 0, jaw * 0.2, 6, { fill: '#1f2226' }, false);
  s.line([-jaw + 1, 0], [-jaw * 0.7, 0], '#15181b', 0.9);
  ridges(s, [-jaw * 0.95, 0], [-jaw * 0.72, 0], 2.5, 5, '#2b2f34', 0.5);
  pivotRivet(s, 0, 0, 6.5);
  pivotRivet(s, 32, 9, 4.5);
  return s.build();
}
