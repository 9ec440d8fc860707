/**
 * Wrenches. The adjustable wrench has an angled head, a moving lower jaw and
 * the knurled worm in its window; the ¾" combination wrench has an angled
 * open end, a 12-point ring end and "3/4" stamped on the handle.
 */
import { affine, applyAffine, ellipsePolygon, type Point } from '../geometry.js';
import { METAL_EDGE, pickHandleColour, pickMetal, shade } from '../materials.js';
import type { Random } from '../random.js';
import { Sketch, type ToolDrawing } from '../sketch.js';
import { ridges } from './parts.js';

/** Points on a circle arc from `fromDeg` to `toDeg` (SVG convention: y down). */
function arc(cx: number, cy: number, r: number, fromDeg: number, toDeg: number, segments: number): Point[] {
  const out: Point[] = [];
  for (let i = 0; i <= segments; i++) {
    const t = ((fromDeg + ((toDeg - fromDeg) * i) / segments) * Math.PI) / 180;
    out.push([cx + r * Math.cos(t), cy + r * Math.sin(t)]);
  }
  return out;
}

/** Handle bar with a rounded end and an optional hang hole. */
function handleWithHole(s: Sketch, from: number, to: number, width0: number, width1: number, hole: boolean, fill: string): void {
  const outer: Point[] = [
    [from, -width0 / 2],
    [to, -width1 / 2],
    ...arc(to, 0, width1 / 2, -90, 90, 10).slice(1, -1),
    [to, width1 / 2],
    [from, width0 / 2],
  ];
  const holes = hole ? [ellipsePolygon(to - width1 * 0.1, 0, width1 * 0.24, width1 * 0.24, 16)] : [];
  s.withHoles(outer, holes, { fill, stroke: METAL_EDGE, strokeWidth: 0.7 });
}

export function drawAdjustableWrench(rng: Random): ToolDrawing {
  const s = new Sketch();
  const metal = pickMetal(rng);
  const paint = { fill: metal, stroke: METAL_EDGE, strokeWidth: 0.7 };
  const R = rng.uniform(24, 29);
  const gap = rng.uniform(8, 20);
  const handleEnd = rng.uniform(150, 195);
  const headAngle = rng.uniform(12, 20);

  const rubber = rng.chance(0.35) ? pickHandleColour(rng) : null;
  handleWithHole(s, R * 0.4, handleEnd, 21, 16, rubber === null, metal);
  if (rubber) {
    s.bar([handleEnd * 0.45, 0], [handleEnd + 4, 0], 19, { fill: rubber, stroke: shade(rubber, 0.5), strokeWidth: 0.8 }, 17);
    s.circle(handleEnd + 4, 0, 8.5, { fill: rubber, stroke: shade(rubber, 0.5), strokeWidth: 0.8 });
  } else {
    // Size scale stamped on the handle.
    s.line([R + 12, 0], [handleEnd * 0.7, 0], '#ffffff', 2.5, 0.3);
    ridges(s, [R + 14, -5], [R + 40, -5], 2, 10, '#3a3f45', 0.4);
  }

  const m = affine(0, 0, -headAngle, 1);
  const T = (points: Point[]): Point[] => points.map((p) => applyAffine(m, p));
  const g = gap / 2;
  const tipX = -R - 6;
  const slotBottom = -R + 22;
  // Fixed upper jaw and the head body.
  const head: Point[] = [
    [tipX, -g],
    [tipX, -g - 9],
    ...arc(0, 0, R, 215, 390, 14),
    [R * 0.7, R * 0.55],
    [slotBottom, R * 0.55],
    [slotBottom, -g],
  ];
  s.polygon(T(head), paint);
  // Moving lower jaw, slightly darker, with its rack under it.
  const movingJaw: Point[] = [
    [tipX, g],
    [slotBottom + 2, g],
    [slotBottom + 2, g + 7],
    [R * 0.25, g + 9],
    ...arc(0, 0, R, 40, 150, 8).filter(([x, y]) => y > g + 8 || x < -R * 0.5),
    [tipX, g + 10],
  ];
  s.polygon(T(movingJaw), { fill: 'url(#steelDark)', stroke: METAL_EDGE, strokeWidth: 0.7 });
  // The worm: knurled cylinder seen through the window of the head.
  const wormY = g + 12;
  s.polygon(T([[-8, wormY - 6], [12, wormY - 6], [12, wormY + 6], [-8, wormY + 6]]), { fill: '#1d2024' }, false);
  s.polygon(T([[-6, wormY - 5], [10, wormY - 5], [10, wormY + 5], [-6, wormY + 5]]), { fill: 'url(#steel)' }, false);
  const [w0, w1] = T([[-6, wormY], [10, wormY]]) as [Point, Point];
  ridges(s, w0, w1, 5, 9, '#202327', 0.9, 1.2);
  return s.build();
}

export function drawCombinationWrench(rng: Random): ToolDrawing {
  const s = new Sketch();
  const metal = rng.chance(0.8) ? 'url(#steel)' : pickMetal(rng);
  const paint = { fill: metal, stroke: METAL_EDGE, strokeWidth: 0.7 };
  const length = rng.uniform(200, 240);
  const gap = 19.05; // 3/4 inch across flats
  const g = gap / 2;
  const Ro = rng.uniform(22, 25);
  const Rr = rng.uniform(16.5, 18.5);

  // Handle: I-section look (bright edge, dark groove).
  s.polygon(
    [
      [Ro * 0.6, -8],
      [length / 2, -6.2],
      [length - Rr * 0.6, -7.5],
      [length - Rr * 0.6, 7.5],
      [length / 2, 6.2],
      [Ro * 0.6, 8],
    ],
    paint,
  );
  s.line([Ro + 4, 0], [length - Rr - 4, 0], '#5d636a', 3, 0.7);

  // Open end, angled 15 degrees.
  const m = affine(0, 0, rng.pick([-15, 15]), 1);
  const xJaw = -Math.sqrt(Ro * Ro - g * g);
  const outer: Point[] = [
    [xJaw - 3, -g],
    ...arc(0, 0, Ro, 180 + Math.asin(g / Ro) * (180 / Math.PI) + 2, 540 - Math.asin(g / Ro) * (180 / Math.PI) - 2, 22),
    [xJaw - 3, g],
    ...arc(3, 0, g, 90, -90, 8),
  ];
  s.polygon(outer.map((p) => applyAffine(m, p)), paint);

  // Ring end with a 12-point opening.
  const star: Point[] = [];
  for (let i = 0; i < 24; i++) {
    const r = i % 2 === 0 ? g * 1.17 : g * 1.02;
    const t = ((i * 15 + 7.5) * Math.PI) / 180;
    star.push([length + r * Math.cos(t), r * Math.sin(t)]);
  }
  s.withHoles(ellipsePolygon(length, 0, Rr, Rr, 36), [star], paint);

  const mark = rng.chance(0.5) ? '3/4' : '¾';
  s.text(Ro + 16, 0.5, mark, 7, '#30353a');
  s.text(length - Rr - 14, 0.5, mark, 6.5, '#30353a');
  return s.build();
}

/** Church-key style opener for oil cans: pointed piercer at one end, lifter hole at the other. */
export function drawOilCanOpener(rng: Random): ToolDrawing {
  const s = new Sketch();
  const length = rng.uniform(105, 135);
  const width = rng.uniform(19, 24);
  const h = width / 2;
  const finish = rng.weighted([
    ['url(#steel)', 5],
    ['url(#steelDark)', 2],
    ['#c9a227', 1], // zinc-yellow plating
  ] as const);
  const paint = { fill: finish, stroke: METAL_EDGE, strokeWidth: 0.7 };
  const beak = rng.uniform(20, 26);
  const outer: Point[] = [
    [-beak, -h * 0.35],
    [-beak * 0.35, -h],
    [length, -h],
    ...arc(length, 0, h, -90, 90, 10).slice(1, -1),
    [length, h],
    [0, h],
    [-beak * 0.5, h * 0.45],
    [-beak - 1.5, -h * 0.1],
  ];
  const piercerHole: Point[] = [
    [3, -h * 0.45],
    [15, -h * 0.55],
    [15, h * 0.55],
    [5, h * 0.3],
  ];
  const lifterHole = ellipsePolygon(length - h * 0.6, 0, h * 0.7, h * 0.5, 20);
  s.withHoles(outer, [piercerHole, lifterHole], paint);
  // Bent-down piercer shows a bright bevel; the strip a pressed rib.
  s.line([-beak + 2, -h * 0.3], [-3, -h * 0.75], '#f4f6f8', 1.3, 0.8);
  s.line([22, 0], [length - h * 1.6, 0], '#ffffff', 2.4, 0.35);
  if (rng.chance(0.6)) {
    const colour = pickHandleColour(rng);
    s.bar([length * 0.35, 0], [length * 0.75, 0], width + 2, { fill: colour, stroke: shade(colour, 0.5), strokeWidth: 0.7 });
  }
  return s.build();
}
