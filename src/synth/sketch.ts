/**
 * A tool drawing: SVG markup in the tool's own millimetre coordinates plus the
 * solid polygons that make up its silhouette. Boxes, overlap checks and
 * occlusion are computed from the polygons, so they match what is drawn.
 */
import { barPolygon, ellipsePolygon, pointsAttr, round, type Point, type Polygon } from './geometry.js';

export interface ToolDrawing {
  /** SVG elements in local millimetres. */
  svg: string;
  /** Silhouette; union of these polygons is the tool. */
  solids: Polygon[];
}

export interface Paint {
  fill?: string;
  stroke?: string;
  strokeWidth?: number;
  opacity?: number;
}

function paintAttrs({ fill = 'none', stroke, strokeWidth = 0.6, opacity }: Paint): string {
  let attrs = `fill="${fill}"`;
  if (stroke) attrs += ` stroke="${stroke}" stroke-width="${round(strokeWidth)}" stroke-linejoin="round"`;
  if (opacity !== undefined) attrs += ` opacity="${round(opacity)}"`;
  return attrs;
}

export class Sketch {
  private readonly parts: string[] = [];
  readonly solids: Polygon[] = [];

  /** Filled polygon; part of the silhouette unless `solid` is false. */
  polygon(points: Polygon, paint: Paint, solid = true): this {
    this.parts.push(`<polygon points="${pointsAttr(points)}" ${paintAttrs(paint)}/>`);
    if (solid) this.solids.push(points);
    return this;
  }

  ellipse(cx: number, cy: number, rx: number, ry: number, paint: Paint, solid = true): this {
    this.parts.push(`<ellipse cx="${round(cx)}" cy="${round(cy)}" rx="${round(rx)}" ry="${round(ry)}" ${paintAttrs(paint)}/>`);
    if (solid) this.solids.push(ellipsePolygon(cx, cy, rx, ry, 32));
    return this;
  }

  circle(cx: number, cy: number, r: number, paint: Paint, solid = true): this {
    return this.ellipse(cx, cy, r, r, paint, solid);
  }

  /** Straight bar between two points (shafts, handles, rods). */
  bar(from: Point, to: Point, width: number, paint: Paint, endWidth = width, solid = true): this {
    return this.polygon(barPolygon(from, to, width, endWidth), paint, solid);
  }

  /** Path with holes (even-odd): outer outline is solid, holes show what is below. */
  withHoles(outer: Polygon, holes: Polygon[], paint: Paint): this {
    const d = [outer, ...holes].map((ring) => `M${pointsAttr(ring).replace(/ /g, ' L')}Z`).join(' ');
    this.parts.push(`<path d="${d}" fill-rule="evenodd" ${paintAttrs(paint)}/>`);
    this.solids.push(outer);
    return this;
  }

  /** Decorative line (never part of the silhouette). */
  line(from: Point, to: Point, stroke: string, width = 0.6, opacity?: number): this {
    this.parts.push(
      `<line x1="${round(from[0])}" y1="${round(from[1])}" x2="${round(to[0])}" y2="${round(to[1])}" stroke="${stroke}" stroke-width="${round(width)}" stroke-linecap="round"${opacity === undefined ? '' : ` opacity="${round(opacity)}"`}/>`,
    );
    return this;
  }

  polyline(points: Polygon, stroke: string, width = 0.6, opacity?: number): this {
    this.parts.push(
      `<polyline points="${pointsAttr(points)}" fill="none" stroke="${stroke}" stroke-width="${round(width)}" stroke-linecap="round" stroke-linejoin="round"${opacity === undefined ? '' : ` opacity="${round(opacity)}"`}/>`,
    );
    return this;
  }

  text(x: number, y: number, content: string, size: number, fill: string, rotateDeg = 0): this {
    this.parts.push(
      `<text x="${round(x)}" y="${round(y)}" font-family="DejaVu Sans, sans-serif" font-weight="bold" font-size="${round(size)}" fill="${fill}" text-anchor="middle" dominant-baseline="middle"${rotateDeg ? ` transform="rotate(${round(rotateDeg)} ${round(x)} ${round(y)})"` : ''}>${content}</text>`,
    );
    return this;
  }

  raw(svg: string): this {
    this.parts.push(svg);
    return this;
  }

  build(): ToolDrawing {
    return { svg: this.parts.join(''), solids: this.solids };
  }
}
