/**
 * Brace (коловорот): a wooden head knob, a U-shaped crank with a wooden grip
 * sleeve, a ratchet ring and a tapered chuck holding a bit.
 */
import { barPolygon, type Point } from '../geometry.js';
import { METAL_EDGE, pickMetal } from '../materials.js';
import type { Random } from '../random.js';
import { Sketch, type ToolDrawing } from '../sketch.js';
import { ridges } from './parts.js';

export function drawBrace(rng: Random): ToolDrawing {
  const s = new Sketch();
  const rod = rng.uniform(9, 11);
  const throwDepth = rng.uniform(62, 80); // how far the crank swings out
  const metal = pickMetal(rng);
  const rodPaint = { fill: metal, stroke: METAL_EDGE, strokeWidth: 0.6 };
  const wood = rng.chance(0.75) ? 'url(#wood)' : rng.pick(['#8d1c1c', '#2b2b2b', '#a0522d']);
  const woodEdge = '#5a3413';

  const headX = 0;
  const crank: Point[] = [
    [headX + 30, 0],
    [58, 0],
    [72, throwDepth],
    [178, throwDepth],
    [192, 0],
    [215, 0],
  ];
  for (let i = 0; i + 1 < crank.length; i++) {
    s.polygon(barPolygon(crank[i]!, crank[i + 1]!, rod), rodPaint);
    if (i > 0) s.circle(crank[i]![0], crank[i]![1], rod / 2, rodPaint);
  }
  // Rotating grip sleeve on the crank's throw.
  s.bar([92, throwDepth], [158, throwDepth], rng.uniform(24, 28), { fill: wood, stroke: woodEdge, strokeWidth: 0.8 });
  s.line([96, throwDepth - 6], [154, throwDepth - 6], '#ffffff', 2, 0.25);

  // Head: a mushroom-shaped wooden knob on a short spindle.
  s.bar([headX + 20, 0], [headX + 34, 0], 16, rodPaint);
  s.ellipse(headX + 12, 0, rng.uniform(13, 16), rng.uniform(30, 36), { fill: wood, stroke: woodEdge, strokeWidth: 0.8 });
  s.line([headX + 8, -22], [headX + 8, 22], '#ffffff', 2, 0.25);

  // Ratchet ring with its cam, then the chuck and the bit.
  s.bar([213, 0], [240, 0], 30, { fill: 'url(#steelDark)', stroke: METAL_EDGE, strokeWidth: 0.7 });
  ridges(s, [216, 0], [237, 0], 14, 12, '#202327', 0.6);
  s.bar([222, -16], [230, -24], 8, rodPaint);
  const chuckEnd = 240 + rng.uniform(48, 58);
  s.bar([240, 0], [chuckEnd, 0], 28, rodPaint, 17);
  for (const f of [-0.25, 0.25]) s.line([244, f * 24], [chuckEnd - 2, f * 15], METAL_EDGE, 0.7);
  const bitEnd = chuckEnd + rng.uniform(26, 55);
  s.bar([chuckEnd, 0], [bitEnd, 0], 7.5, { fill: 'url(#steel)', stroke: METAL_EDGE, strokeWidth: 0.5 }, 4);
  ridges(s, [chuckEnd + 4, 0], [bitEnd - 3, 0], 3.2, 10, '#30353a', 0.6, 2);
  return s.build();
}
