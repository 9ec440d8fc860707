/**
 * The annotated evidence photo: a box per detection coloured by tool class
 * (dashed when uncertain), a label tab «Russian name 0.87», translucent segment
 * fills when the model gives masks, and a legend listing what is missing and what is
 * extra («Комплект полный» when neither).
 *
 * - The photo is EXIF auto-oriented first: boxes refer to the upright image.
 * - Large photos are annotated on a copy whose long side is at most `maxSide`
 *   (2048 px by default; boxes scaled with it). libvips shrinks JPEGs on load,
 *   so a 4000×3000 photo never needs its full-size pixels in memory here, and
 *   the evidence stays readable; the original photo is stored separately.
 * - Line widths, font size and padding scale with the annotated size, so labels
 *   read the same on 640×480 and on 4000×3000.
 * - Boxes, tabs and the legend are drawn straight into the decoded pixels (raster.ts),
 *   segment masks through a small SVG (no text in it: SVG text needs system fonts);
 *   text is rasterised from the shipped font file (annotate-text.ts).
 */
import sharp from 'sharp';
import { TOOL_CLASSES } from '../domain/tool-classes.js';
import { UnprocessableImageError } from '../shared/errors.js';
import { assertFontFile, escapeMarkup, renderText, type TextTile } from './annotate-text.js';
import { DECODE_FAIL_ON } from './preprocess.js';
import { parseHexColour, RgbCanvas } from './raster.js';

export { escapeMarkup };

export interface AnnotatedDetection {
  toolKey: string | null;
  /** Russian tool name, or the model's class name when the class maps to no tool. */
  label: string;
  confidence: number;
  /** Original-image pixels after EXIF orientation. */
  box: { x1: number; y1: number; x2: number; y2: number };
  uncertain?: boolean;
  /** Segment models: the mask outline in original-image pixels. */
  polygon?: Array<[number, number]>;
}

export interface AnnotateInput {
  image: Buffer;
  detections: readonly AnnotatedDetection[];
  missing: ReadonlyArray<{ label: string; count: number }>;
  /** Tools beyond the kit's quantities (or of classes it does not hold). */
  extra?: ReadonlyArray<{ label: string; count: number }>;
  fontPath: string;
  /** JPEG quality, default 85. */
  quality?: number;
  /** Long side of the annotated copy, default 2048 px; smaller photos are never enlarged. */
  maxSide?: number;
}

export const DEFAULT_ANNOTATION_MAX_SIDE = 2048;

/** Distinct colours, one per tool class in class order; grey for classes that map to no tool. */
const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#008080', '#f032e6', '#9a6324', '#800000', '#808000', '#000075'];
const UNMAPPED_COLOUR = '#808080';
const LEGEND_COLOURS = { complete: '#1b7f3b', missing: '#b00020', review: '#b36b00' } as const;

/** Stable per tool key: the same tool has the same colour on every photo. */
export function colourFor(toolKey: string | null): string {
  const index = toolKey === null ? -1 : TOOL_CLASSES.findIndex((c) => c.key === toolKey);
  return index >= 0 ? PALETTE[index % PALETTE.length]! : UNMAPPED_COLOUR;
}

/** Black or white, whichever reads better on `background` (`#rrggbb`). */
export function textColourOn(background: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(background.slice(i, i + 2), 16) / 255) as [number, number, number];
  return 0.299 * r + 0.587 * g + 0.114 * b > 0.6 ? '#000000' : '#ffffff';
}

/** The label a technician reads on the tab: «Пассатижи 0.87», with «?» when it needs review. */
export function labelText(detection: Pick<AnnotatedDetection, 'label' | 'confidence' | 'uncertain'>): string {
  const name = detection.label.trim() || '?';
  return `${name} ${detection.confidence.toFixed(2)}${detection.uncertain ? ' ?' : ''}`;
}

/** Legend lines in Russian, and the panel's colour. */
export function legendFor(input: Pick<AnnotateInput, 'missing' | 'extra' | 'detections'>): { lines: string[]; colour: string } {
  const uncertain = input.detections.filter((d) => d.uncertain).length;
  const extra = input.extra ?? [];
  const lines: string[] = [];
  if (input.missing.length > 0) lines.push('Отсутствует:', ...input.missing.map((m) => `• ${m.label} ×${m.count}`));
  if (extra.length > 0) lines.push('Лишние:', ...extra.map((m) => `• ${m.label} ×${m.count}`));
  if (lines.length === 0) lines.push('Комплект полный');
  if (uncertain > 0) lines.push(`Пунктир — требует проверки: ${uncertain}`);
  const colour = lines[0] !== 'Комплект полный' ? LEGEND_COLOURS.missing : uncertain > 0 ? LEGEND_COLOURS.review : LEGEND_COLOURS.complete;
  return { lines, colour };
}

interface Style {
  stroke: number;
  fontPx: number;
  pad: number;
}

/** Sizes proportional to the annotated image (640 px long side is the unit), with readable minimums. */
export function styleFor(width: number, height: number): Style {
  const unit = Math.max(width, height) / 640;
  return {
    stroke: Math.max(2, Math.round(2.5 * unit)),
    fontPx: Math.max(12, Math.round(14 * unit)),
    pad: Math.max(2, Math.round(3 * unit)),
  };
}

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

const overlapArea = (a: Rect, b: Rect) =>
  Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x)) * Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));

export async function annotateImage(input: AnnotateInput): Promise<Buffer> {
  assertFontFile(input.fontPath);
  const maxSide = Math.max(1, Math.round(input.maxSide ?? DEFAULT_ANNOTATION_MAX_SIDE));
  const meta = await sharp(input.image).metadata();
  const width = meta.autoOrient?.width ?? meta.width ?? 0;
  const height = meta.autoOrient?.height ?? meta.height ?? 0;
  if (width <= 0 || height <= 0) throw new UnprocessableImageError('image.corrupt', 'The image has no dimensions');
  const scale = Math.min(1, maxSide / Math.max(width, height));
  const W = Math.max(1, Math.round(width * scale));
  const H = Math.max(1, Math.round(height * scale));
  const style = styleFor(W, H);
  const { stroke, fontPx, pad } = style;

  // The photo, upright and bounded, as RGB pixels to draw on.
  // Each step only when this photo needs it: on a plain sRGB JPEG this is a bare decode.
  // Sequential: a large PNG streams through the resize instead of being held whole.
  let decode = sharp(input.image, { failOn: DECODE_FAIL_ON, sequentialRead: true });
  if ((meta.orientation ?? 1) > 1) decode = decode.autoOrient();
  if (W !== width || H !== height) decode = decode.resize(W, H, { fit: 'fill' });
  if (meta.space !== 'srgb' || (meta.channels ?? 3) < 3) decode = decode.toColourspace('srgb');
  if (meta.hasAlpha || (meta.channels ?? 3) > 3) decode = decode.removeAlpha();
  const legend = legendFor(input);
  // The photo decodes while the labels are set (both in sharp's threads).
  const [{ data: pixels, info }, labels, legendTile] = await Promise.all([
    decode.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }),
    Promise.all(input.detections.map((d) => renderText(labelText(d), { fontPath: input.fontPath, sizePx: fontPx, colour: textColourOn(colourFor(d.toolKey)) }))),
    renderText(legend.lines.join('\n'), { fontPath: input.fontPath, sizePx: fontPx, colour: textColourOn(legend.colour), wrapWidth: W - 4 * pad }),
  ]);
  if (info.channels !== 3 || info.width !== W || info.height !== H) {
    throw new Error(`Annotation canvas is ${info.width}×${info.height}×${info.channels}, expected ${W}×${H}×3`);
  }
  const canvas = new RgbCanvas(pixels, W, H);
  const placeText = (tile: TextTile, left: number, top: number) => canvas.blendRgba(tile, Math.max(0, left), Math.max(0, top));

  // Segment fills first, so every outline and label stays on top of every fill. Polygons
  // are the one shape rasterised by SVG (anti-aliased), only when a segment model gave masks.
  const polygons = input.detections
    .filter((d) => d.polygon && d.polygon.length >= 3)
    .map((d) => {
      const colour = colourFor(d.toolKey);
      const points = d.polygon!.map(([px, py]) => `${fmt(clamp(px * scale, 0, W))},${fmt(clamp(py * scale, 0, H))}`).join(' ');
      return `<polygon points="${points}" fill="${colour}" fill-opacity="0.35" stroke="${colour}" stroke-opacity="0.9" stroke-width="${Math.max(1, stroke / 2)}"/>`;
    });
  if (polygons.length > 0) {
    const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${polygons.join('')}</svg>`);
    const { data, info: layer } = await sharp(svg).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    canvas.blendRgba({ data, width: layer.width, height: layer.height }, 0, 0);
  }

  const boxes: Rect[] = [];
  for (const d of input.detections) {
    const x1 = clamp(Math.min(d.box.x1, d.box.x2) * scale, 0, W);
    const y1 = clamp(Math.min(d.box.y1, d.box.y2) * scale, 0, H);
    const x2 = clamp(Math.max(d.box.x1, d.box.x2) * scale, 0, W);
    const y2 = clamp(Math.max(d.box.y1, d.box.y2) * scale, 0, H);
    boxes.push({ x: x1, y: y1, w: x2 - x1, h: y2 - y1 });
    canvas.strokeRect(x1, y1, x2, y2, stroke, parseHexColour(colourFor(d.toolKey)), d.uncertain ? [stroke * 3, stroke * 2] : undefined);
  }

  // Label tabs: above the box, else inside its top, else below it — the first spot
  // that hides no earlier tab; never outside the image.
  const tabs: Rect[] = [];
  input.detections.forEach((d, i) => {
    const label = labels[i]!;
    const box = boxes[i]!;
    const w = Math.min(W, label.width + 2 * pad);
    const h = Math.min(H, Math.max(label.height, Math.round(fontPx * 1.1)) + 2 * pad);
    const x = clamp(box.x, 0, Math.max(0, W - w));
    const candidates = [box.y - h, box.y, box.y + box.h].filter((y) => y >= 0 && y + h <= H);
    if (candidates.length === 0) candidates.push(clamp(box.y, 0, Math.max(0, H - h)));
    const spot = candidates.map((y) => ({ x, y, w, h })).find((r) => tabs.every((t) => overlapArea(r, t) === 0)) ?? { x, y: candidates[0]!, w, h };
    tabs.push(spot);
    canvas.fillRect(spot.x, spot.y, w, h, parseHexColour(colourFor(d.toolKey)), 0.85);
    placeText(label, spot.x + pad, spot.y + (h - label.height) / 2);
  });

  // Legend: the corner that hides the least of the detected tools (bottom-left on a tie).
  const legendW = Math.min(W, legendTile.width + 4 * pad);
  const legendH = Math.min(H, legendTile.height + 4 * pad);
  const corners: Rect[] = [
    { x: 0, y: H - legendH, w: legendW, h: legendH },
    { x: W - legendW, y: H - legendH, w: legendW, h: legendH },
    { x: 0, y: 0, w: legendW, h: legendH },
    { x: W - legendW, y: 0, w: legendW, h: legendH },
  ];
  const hidden = (r: Rect) => boxes.reduce((sum, b) => sum + overlapArea(r, b), 0) + tabs.reduce((sum, t) => sum + overlapArea(r, t), 0);
  const legendRect = corners.reduce((best, r) => (hidden(r) < hidden(best) ? r : best));
  canvas.fillRect(legendRect.x, legendRect.y, legendW, legendH, parseHexColour(legend.colour), 0.88);
  placeText(legendTile, legendRect.x + 2 * pad, legendRect.y + 2 * pad);

  // Huffman optimisation would double the encode time for a few per cent of size.
  return sharp(pixels, { raw: { width: W, height: H, channels: 3 } })
    .jpeg({ quality: input.quality ?? 85, optimiseCoding: false })
    .toBuffer();
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** SVG numbers: at most one decimal, never NaN. */
function fmt(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value * 10) / 10) : '0';
}
