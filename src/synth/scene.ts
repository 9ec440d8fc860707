/**
 * Rendered photos of an open toolkit with known contents: the training data of
 * the default model, the evaluation set, and test fixtures.
 *
 * A scene is a pure function of its options (seed included): the same seed gives
 * the same JPEG bytes and the same boxes. It varies the background (foam tray
 * with cut-outs, workbench, cloth), each tool's rotation, mirror, scale and
 * position, lighting, shadows, blur, noise, JPEG quality and partial occlusion;
 * it lays out full kits, kits with tools missing (their empty cut-outs stay),
 * duplicates and stray tools.
 */
import sharp from 'sharp';
import { TOOL_CLASSES, type ToolClassKey } from '../domain/tool-classes.js';
import {
  affine,
  applyAffine,
  boundsOf,
  pointInAny,
  pointsAttr,
  round,
  sampleBoundary,
  svgMatrix,
  transformPolygon,
  type Affine,
  type Box,
  type Polygon,
} from './geometry.js';
import { GRADIENT_DEFS, shade } from './materials.js';
import { Random } from './random.js';
import { TOOL_DRAWERS } from './tools/index.js';

export interface SceneOptions {
  seed: number;
  width?: number;
  height?: number;
  /** full: one of each of the 11 tools (minus `without`); random: any mix, duplicates and absences included. */
  kit?: 'full' | 'random';
  without?: readonly ToolClassKey[];
}

/**
 * 0 to `upTo` tools taken out of a kit, chosen from the scene's seed: the kits the service
 * sees most (one returned with a tool missing, its empty cut-out in view). eval:model's
 * held-out kits and `npm run synth -- --missing N` use it.
 */
export function toolsRemoved(seed: number, upTo: number): ToolClassKey[] {
  const pick = new Random(seed ^ 0x5eed);
  return pick.shuffle(TOOL_CLASSES.map((c) => c.key)).slice(0, pick.int(0, upTo));
}

export interface SceneObject {
  key: ToolClassKey;
  classId: number;
  /** Tight box of the tool's silhouette, image pixels. */
  box: Box;
}

export interface Scene {
  jpeg: Buffer;
  width: number;
  height: number;
  objects: SceneObject[];
  background: Background;
}

type Background = 'foam' | 'bench' | 'cloth';

interface Placed {
  key: ToolClassKey;
  transform: Affine;
  solids: Polygon[];
  svg: string;
  box: Box;
  /** Drawn only as an empty cut-out (a tool missing from its tray). */
  absent: boolean;
}

const CLASS_ID = new Map<ToolClassKey, number>(TOOL_CLASSES.map((c, i) => [c.key, i]));

export async function renderScene(options: SceneOptions): Promise<Scene> {
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const rng = new Random(options.seed);
  const kit = options.kit ?? 'random';
  const without = new Set(options.without ?? []);

  const present = chooseContents(rng, kit, without);
  // Tools missing from a full kit still have their cut-out in a foam tray.
  const absent = kit === 'full' ? [...without] : rng.chance(0.3) ? rng.shuffle(TOOL_CLASSES.map((c) => c.key)).slice(0, rng.int(1, 2)) : [];
  const background: Background = rng.weighted([
    ['foam', 5],
    ['bench', 3],
    ['cloth', 2],
  ] as const);

  const placed = layOut(rng, width, height, present, absent, kit === 'full');
  const svg = sceneSvg(rng, width, height, background, placed);

  let image = sharp(Buffer.from(svg)).modulate({ brightness: rng.uniform(0.75, 1.2), saturation: rng.uniform(0.75, 1.25) });
  if (rng.chance(0.35)) image = image.blur(rng.uniform(0.4, 1.3) * Math.max(1, Math.min(width, height) / 480));
  const noise = noiseTile(rng, rng.uniform(4, 14));
  const rendered = await image.png().toBuffer();
  const jpeg = await sharp(rendered)
    .composite([{ input: noise.data, raw: { width: noise.size, height: noise.size, channels: 3 }, tile: true, blend: 'overlay' }])
    .removeAlpha()
    .jpeg({ quality: rng.int(60, 95), chromaSubsampling: rng.chance(0.5) ? '4:2:0' : '4:4:4' })
    .toBuffer();

  const objects = placed
    .filter((p) => !p.absent)
    .map((p) => ({ key: p.key, classId: CLASS_ID.get(p.key)!, box: clipBox(p.box, width, height) }));
  return { jpeg, width, height, objects, background };
}

function chooseContents(rng: Random, kit: 'full' | 'random', without: ReadonlySet<string>): ToolClassKey[] {
  const keys = TOOL_CLASSES.map((c) => c.key);
  if (kit === 'full') return keys.filter((k) => !without.has(k));
  const contents: ToolClassKey[] = [];
  for (const key of keys) {
    if (without.has(key)) continue;
    const count = rng.weighted([
      [0, 3],
      [1, 9],
      [2, 2],
    ] as const);
    for (let i = 0; i < count; i++) contents.push(key);
  }
  if (contents.length === 0) contents.push(rng.pick(keys.filter((k) => !without.has(k))));
  return contents;
}

/**
 * Places tools without overlap (full kits) or with slight overlap (random piles),
 * larger tools first. Shrinks the whole kit and retries when it does not fit.
 */
function layOut(rng: Random, width: number, height: number, present: ToolClassKey[], absent: ToolClassKey[], tidy: boolean): Placed[] {
  const unit = Math.min(width, height) / 480;
  let scale = unit * (tidy ? rng.uniform(0.62, 0.82) : rng.uniform(0.6, 1.05) * Math.min(1, Math.sqrt(11 / Math.max(present.length, 4)) * 0.8));
  const drawings = [...present.map((key) => ({ key, absent: false })), ...absent.map((key) => ({ key, absent: true }))].map((t) => ({
    ...t,
    drawing: TOOL_DRAWERS[t.key](rng.fork()),
  }));
  const order = drawings
    .map((d) => ({ ...d, size: boxAreaOf(boundsOf(d.drawing.solids)) }))
    .sort((a, b) => b.size - a.size || a.key.localeCompare(b.key));

  for (let attempt = 0; attempt < 8; attempt++, scale *= 0.9) {
    const placed: Placed[] = [];
    let ok = true;
    for (const item of order) {
      const spot = findSpot(rng, item.drawing.solids, scale, width, height, placed, tidy);
      if (!spot) {
        if (item.absent) continue; // an empty cut-out that does not fit is simply left out
        ok = false;
        break;
      }
      placed.push({ key: item.key, svg: item.drawing.svg, absent: item.absent, ...spot });
    }
    if (ok) return placed;
  }
  throw new Error('renderScene: could not lay out the kit');
}

function findSpot(
  rng: Random,
  solids: Polygon[],
  scale: number,
  width: number,
  height: number,
  placed: readonly Placed[],
  tidy: boolean,
): Pick<Placed, 'transform' | 'solids' | 'box'> | null {
  const local = boundsOf(solids);
  const centre: [number, number] = [(local.x1 + local.x2) / 2, (local.y1 + local.y2) / 2];
  const margin = 4;
  for (let tries = 0; tries < 80; tries++) {
    const rotation = rng.chance(0.7) ? rng.pick([0, 90, 180, 270]) + rng.normal(0, 10) : rng.uniform(0, 360);
    const mirror = rng.chance(0.5);
    const s = scale * rng.uniform(0.93, 1.07);
    const atOrigin = affine(0, 0, rotation, s, mirror);
    const [ox, oy] = applyAffine(atOrigin, centre);
    const turned = boundsOf(solids.map((p) => transformPolygon(atOrigin, p)));
    const w = turned.x2 - turned.x1;
    const h = turned.y2 - turned.y1;
    if (w > width - 2 * margin || h > height - 2 * margin) continue;
    const cx = rng.uniform(margin + w / 2, width - margin - w / 2);
    const cy = rng.uniform(margin + h / 2, height - margin - h / 2);
    const transform = affine(cx - ox, cy - oy, rotation, s, mirror);
    const world = solids.map((p) => transformPolygon(transform, p));
    const box = boundsOf(world);
    if (overlapFraction(world, box, placed) > (tidy ? 0 : 0.12)) continue;
    return { transform, solids: world, box };
  }
  return null;
}

/** Share of the new tool's outline that falls on tools already placed (and of theirs on it). */
function overlapFraction(world: Polygon[], box: Box, placed: readonly Placed[]): number {
  const near = placed.filter((p) => p.box.x1 < box.x2 + 3 && p.box.x2 > box.x1 - 3 && p.box.y1 < box.y2 + 3 && p.box.y2 > box.y1 - 3);
  if (near.length === 0) return 0;
  const outline = world.flatMap((p) => sampleBoundary(p, 1.5));
  const others = near.flatMap((p) => p.solids);
  const inside = outline.filter((pt) => pointInAny(pt, others)).length;
  const theirOutline = others.flatMap((p) => sampleBoundary(p, 1.5));
  const covered = theirOutline.filter((pt) => pointInAny(pt, world)).length;
  return Math.max(inside / Math.max(1, outline.length), covered / Math.max(1, theirOutline.length));
}

function sceneSvg(rng: Random, width: number, height: number, background: Background, placed: readonly Placed[]): string {
  const unit = Math.min(width, height) / 480;
  const ground = backgroundSvg(rng, width, height, background);
  const parts: string[] = [ground.svg];

  if (background === 'foam') {
    // Cut-outs: the tray's pockets, a little larger than the tool, darker than the foam.
    const pocket = shade(ground.colour, 0.45);
    for (const p of placed) {
      const grow = rng.uniform(2.5, 5) * unit;
      for (const solid of p.solids) {
        parts.push(`<polygon points="${pointsAttr(solid)}" fill="${pocket}" stroke="${pocket}" stroke-width="${round(grow * 2)}" stroke-linejoin="round"/>`);
      }
    }
  }

  const light = rng.uniform(0, Math.PI * 2);
  const shadowDx = Math.cos(light) * rng.uniform(2, 7) * unit;
  const shadowDy = Math.sin(light) * rng.uniform(2, 7) * unit;
  const shadowOpacity = rng.uniform(0.2, 0.45);
  for (const p of placed.filter((t) => !t.absent)) {
    const polys = p.solids.map((s) => `<polygon points="${pointsAttr(s)}"/>`).join('');
    parts.push(`<g transform="translate(${round(shadowDx)} ${round(shadowDy)})" fill="#000" opacity="${round(shadowOpacity)}" filter="url(#soft)">${polys}</g>`);
  }
  for (const p of placed.filter((t) => !t.absent)) {
    parts.push(`<g transform="${svgMatrix(p.transform)}">${p.svg}</g>`);
  }

  // Partial occlusion: a rag or a glove over part of one tool.
  const visible = placed.filter((t) => !t.absent);
  if (visible.length > 0 && rng.chance(0.2)) {
    const target = rng.pick(visible);
    const bw = target.box.x2 - target.box.x1;
    const bh = target.box.y2 - target.box.y1;
    const rx = Math.max(6 * unit, bw * rng.uniform(0.12, 0.25));
    const ry = Math.max(6 * unit, bh * rng.uniform(0.2, 0.45));
    const cx = rng.uniform(target.box.x1, target.box.x2);
    const cy = rng.uniform(target.box.y1, target.box.y2);
    const colour = rng.pick(['#e9e2cf', '#3f51b5', '#607d8b', '#f5f5f5', '#8d6e63']);
    parts.push(`<ellipse cx="${round(cx)}" cy="${round(cy)}" rx="${round(rx)}" ry="${round(ry)}" transform="rotate(${round(rng.uniform(0, 180))} ${round(cx)} ${round(cy)})" fill="${colour}" filter="url(#soft)"/>`);
  }

  // Uneven light: a bright spot and darker corners.
  const lx = rng.uniform(0.1, 0.9);
  const ly = rng.uniform(0.1, 0.9);
  parts.push(
    `<radialGradient id="light" cx="${round(lx)}" cy="${round(ly)}" r="${round(rng.uniform(0.5, 0.9))}"><stop offset="0" stop-color="#fff" stop-opacity="${round(rng.uniform(0, 0.18))}"/><stop offset="1" stop-color="#000" stop-opacity="${round(rng.uniform(0.05, 0.35))}"/></radialGradient>`,
    `<rect width="${width}" height="${height}" fill="url(#light)"/>`,
  );

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><defs>${GRADIENT_DEFS}<filter id="soft" x="-20%" y="-20%" width="140%" height="140%"><feGaussianBlur stdDeviation="${round(2 * unit)}"/></filter></defs>${parts.join('')}</svg>`;
}

const FOAM_COLOURS = ['#2b2d31', '#1f3a5f', '#3a3a3a', '#c0392b', '#f1c40f', '#1b5e20', '#263238'];

function backgroundSvg(rng: Random, width: number, height: number, background: Background): { svg: string; colour: string } {
  if (background === 'foam') {
    const colour = rng.pick(FOAM_COLOURS);
    let speckle = '';
    for (let i = 0; i < 60; i++) {
      speckle += `<circle cx="${round(rng.uniform(0, width))}" cy="${round(rng.uniform(0, height))}" r="${round(rng.uniform(0.5, 1.5))}" fill="${shade(colour, rng.uniform(0.7, 1.3))}"/>`;
    }
    return { svg: `<rect width="${width}" height="${height}" fill="${colour}"/>${speckle}`, colour };
  }
  if (background === 'bench') {
    const base = rng.pick(['#b07a45', '#c8965f', '#8d5a2b', '#d7b98e', '#9e9e9e', '#6d4c41']);
    let grain = '';
    const horizontal = rng.chance(0.5);
    for (let i = 0; i < 45; i++) {
      const pos = rng.uniform(0, horizontal ? height : width);
      const wobble = rng.uniform(-8, 8);
      const d = horizontal ? `M0 ${round(pos)} Q${round(width / 2)} ${round(pos + wobble)} ${width} ${round(pos)}` : `M${round(pos)} 0 Q${round(pos + wobble)} ${round(height / 2)} ${round(pos)} ${height}`;
      grain += `<path d="${d}" stroke="${shade(base, rng.uniform(0.6, 1.25))}" stroke-width="${round(rng.uniform(0.5, 3))}" fill="none" opacity="${round(rng.uniform(0.3, 0.8))}"/>`;
    }
    return { svg: `<rect width="${width}" height="${height}" fill="${base}"/>${grain}`, colour: base };
  }
  const base = rng.pick(['#455a64', '#5d4037', '#1a237e', '#616161', '#33691e', '#b0bec5', '#e0e0e0']);
  const cell = round(rng.uniform(6, 18));
  const line = shade(base, rng.uniform(0.7, 1.3));
  const svg =
    `<pattern id="weave" width="${cell}" height="${cell}" patternUnits="userSpaceOnUse" patternTransform="rotate(${round(rng.uniform(0, 90))})">` +
    `<rect width="${cell}" height="${cell}" fill="${base}"/><path d="M0 0 L${cell} 0 M0 0 L0 ${cell}" stroke="${line}" stroke-width="${round(cell / 5)}"/></pattern>` +
    `<rect width="${width}" height="${height}" fill="url(#weave)"/>`;
  return { svg, colour: base };
}

/** Grey noise centred on mid-grey: with an overlay blend it adds sensor-like grain. */
function noiseTile(rng: Random, amplitude: number): { data: Buffer; size: number } {
  const size = 128;
  const data = Buffer.alloc(size * size * 3);
  for (let i = 0; i < size * size; i++) {
    const v = Math.max(0, Math.min(255, Math.round(128 + rng.normal(0, amplitude))));
    data[i * 3] = v;
    data[i * 3 + 1] = Math.max(0, Math.min(255, v + Math.round(rng.normal(0, amplitude / 3))));
    data[i * 3 + 2] = v;
  }
  return { data, size };
}

function clipBox(box: Box, width: number, height: number): Box {
  const r = (v: number) => Math.round(v * 10) / 10;
  return {
    x1: r(Math.max(0, box.x1)),
    y1: r(Math.max(0, box.y1)),
    x2: r(Math.min(width, box.x2)),
    y2: r(Math.min(height, box.y2)),
  };
}

function boxAreaOf(b: Box): number {
  return (b.x2 - b.x1) * (b.y2 - b.y1);
}
