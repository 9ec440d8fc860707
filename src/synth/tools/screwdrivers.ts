/**
 * Screwdrivers. The flat and the Phillips differ only at the tip, as real ones
 * do, so the tips are drawn large and clear: a flared blade with a straight
 * edge against a sharp four-fluted point. The offset Phillips is a Z-shaped bar
 * with a Phillips point on each bent end.
 */
import { METAL_EDGE, pickHandleColour, pickMetal, shade } from '../materials.js';
import type { Random } from '../random.js';
import { Sketch, type ToolDrawing } from '../sketch.js';
import { ridges, screwdriverHandle } from './parts.js';

type Tip = 'flat' | 'phillips';

function screwdriver(rng: Random, tip: Tip): ToolDrawing {
  const s = new Sketch();
  const handleLength = rng.uniform(82, 110);
  const handleWidth = rng.uniform(24, 31);
  const shaftLength = rng.uniform(55, 125);
  const shaftWidth = rng.uniform(5.5, 7.5);
  const colour = pickHandleColour(rng);
  const metal = rng.chance(0.85) ? 'url(#steel)' : pickMetal(rng);

  const ferruleStart = handleLength;
  const shaftStart = ferruleStart + 7;
  const shaftEnd = shaftStart + shaftLength;
  // Shaft first so the ferrule overlaps its end.
  s.bar([shaftStart - 1, 0], [shaftEnd, 0], shaftWidth, { fill: metal, stroke: METAL_EDGE, strokeWidth: 0.5 });
  s.line([shaftStart, -shaftWidth * 0.22], [shaftEnd - 2, -shaftWidth * 0.22], '#ffffff', shaftWidth * 0.18, 0.5);

  if (tip === 'flat') {
    // A keystone blade, clearly wider than the shaft: the flat tip's signature from above.
    const blade = shaftWidth * rng.uniform(2.1, 2.5);
    const flare = rng.uniform(14, 18);
    const bladeEnd = shaftEnd + flare + rng.uniform(4, 6);
    s.polygon(
      [
        [shaftEnd - 1, -shaftWidth / 2],
        [shaftEnd + flare, -blade / 2],
        [bladeEnd, -blade / 2],
        [bladeEnd, blade / 2],
        [shaftEnd + flare, blade / 2],
        [shaftEnd - 1, shaftWidth / 2],
      ],
      { fill: metal, stroke: METAL_EDGE, strokeWidth: 0.6 },
    );
    // Ground faces of the blade and its straight edge.
    s.polygon(
      [
        [shaftEnd + flare * 0.45, -blade * 0.2],
        [bladeEnd - 0.6, -blade * 0.3],
        [bladeEnd - 0.6, blade * 0.3],
        [shaftEnd + flare * 0.45, blade * 0.2],
      ],
      { fill: '#e9edf0', opacity: 0.8 },
      false,
    );
    s.line([bladeEnd, -blade / 2], [bladeEnd, blade / 2], '#1d2024', 1.8);
  } else {
    // A long four-fluted cone to a sharp point: narrower than the shaft, never a blade.
    const point = rng.uniform(16, 20);
    const tipEnd = shaftEnd + point;
    s.polygon(
      [
        [shaftEnd - 1, -shaftWidth / 2],
        [shaftEnd + point * 0.55, -shaftWidth * 0.4],
        [tipEnd, -0.5],
        [tipEnd, 0.5],
        [shaftEnd + point * 0.55, shaftWidth * 0.4],
        [shaftEnd - 1, shaftWidth / 2],
      ],
      { fill: metal, stroke: METAL_EDGE, strokeWidth: 0.6 },
    );
    // The cross flutes: a dark groove along the axis and two converging ones.
    s.line([shaftEnd + point * 0.15, 0], [tipEnd - 0.3, 0], '#15181b', 1.6);
    s.line([shaftEnd + point * 0.2, -shaftWidth * 0.32], [tipEnd - 0.8, -0.3], '#2a2e33', 1.1);
    s.line([shaftEnd + point * 0.2, shaftWidth * 0.32], [tipEnd - 0.8, 0.3], '#2a2e33', 1.1);
  }

  // Ferrule and handle.
  s.bar([ferruleStart - 2, 0], [shaftStart, 0], handleWidth * 0.5, { fill: 'url(#steel)', stroke: METAL_EDGE, strokeWidth: 0.5 }, handleWidth * 0.38);
  screwdriverHandle(s, 0, handleLength, handleWidth, colour);
  if (rng.chance(0.6)) {
    // Moulded tip marking on the handle end, as many makers do.
    s.text(handleLength * 0.42, 0.5, tip === 'flat' ? '—' : '+', handleWidth * 0.5, shade(colour, 0.45));
  }
  return s.build();
}

export function drawFlatScrewdriver(rng: Random): ToolDrawing {
  return screwdriver(rng, 'flat');
}

export function drawPhillipsScrewdriver(rng: Random): ToolDrawing {
  return screwdriver(rng, 'phillips');
}

/** Z-shaped offset screwdriver: a bar with both ends bent at right angles in opposite directions. */
export function drawOffsetPhillipsScrewdriver(rng: Random): ToolDrawing {
  const s = new Sketch();
  const length = rng.uniform(95, 135);
  const leg = rng.uniform(22, 30);
  const width = rng.uniform(7, 9);
  const metal = pickMetal(rng);
  const paint = { fill: metal, stroke: METAL_EDGE, strokeWidth: 0.6 };
  const x0 = 0;
  const x1 = length;

  // Bent legs with Phillips points, one up at the left end, one down at the right end.
  const legs: Array<{ x: number; dir: 1 | -1 }> = [
    { x: x0, dir: -1 },
    { x: x1, dir: 1 },
  ];
  for (const { x, dir } of legs) {
    const end = dir * leg;
    s.bar([x, 0], [x, end], width, paint);
    const point = width * 1.35;
    s.polygon(
      [
        [x - width / 2, end],
        [x - 0.5, end + dir * point],
        [x + 0.5, end + dir * point],
        [x + width / 2, end],
      ],
      paint,
    );
    s.line([x, end + dir * 0.5], [x, end + dir * (point - 0.4)], '#15181b', 1);
    s.circle(x, 0, width / 2, paint);
  }
  s.bar([x0, 0], [x1, 0], width, paint);
  s.line([x0 + 3, -width * 0.22], [x1 - 3, -width * 0.22], '#ffffff', width * 0.16, 0.5);

  if (rng.chance(0.6)) {
    // Knurled or rubber-sleeved middle grip.
    const sleeve = rng.chance(0.5) ? pickHandleColour(rng) : null;
    const a = length * 0.28;
    const b = length * 0.72;
    if (sleeve) {
      s.bar([a, 0], [b, 0], width * 1.7, { fill: sleeve, stroke: shade(sleeve, 0.5), strokeWidth: 0.8 });
    } else {
      ridges(s, [a, 0], [b, 0], width * 0.45, 18, METAL_EDGE, 0.45, 0.6);
    }
  }
  return s.build();
}
