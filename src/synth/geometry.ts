/** Plain 2-D geometry for laying out tools and computing their boxes. */

export type Point = readonly [number, number];
export type Polygon = readonly Point[];

export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** Affine transform [a, b, c, d, e, f] as in SVG's matrix(): x' = a x + c y + e, y' = b x + d y + f. */
export type Affine = readonly [number, number, number, number, number, number];

export function affine(translateX: number, translateY: number, rotationDeg: number, scale: number, mirror = false): Affine {
  const t = (rotationDeg * Math.PI) / 180;
  const cos = Math.cos(t) * scale;
  const sin = Math.sin(t) * scale;
  const m = mirror ? -1 : 1; // mirror across the local x axis before rotating
  return [cos, sin, -sin * m, cos * m, translateX, translateY];
}

export function applyAffine(m: Affine, [x, y]: Point): Point {
  return [m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]];
}

export function transformPolygon(m: Affine, polygon: Polygon): Polygon {
  return polygon.map((p) => applyAffine(m, p));
}

export function svgMatrix(m: Affine): string {
  return `matrix(${m.map((v) => round(v, 4)).join(' ')})`;
}

export function boundsOf(polygons: readonly Polygon[]): Box {
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (const polygon of polygons) {
    for (const [x, y] of polygon) {
      if (x < x1) x1 = x;
      if (y < y1) y1 = y;
      if (x > x2) x2 = x;
      if (y > y2) y2 = y;
    }
  }
  return { x1, y1, x2, y2 };
}

export function boxArea(b: Box): number {
  return Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1);
}

export function boxIntersection(a: Box, b: Box): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Even–odd point-in-polygon test. */
export function pointInPolygon([x, y]: Point, polygon: Polygon): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i]!;
    const [xj, yj] = polygon[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function pointInAny(point: Point, polygons: readonly Polygon[], boxes?: readonly Box[]): boolean {
  for (let i = 0; i < polygons.length; i++) {
    const box = boxes?.[i];
    if (box && (point[0] < box.x1 || point[0] > box.x2 || point[1] < box.y1 || point[1] > box.y2)) continue;
    if (pointInPolygon(point, polygons[i]!)) return true;
  }
  return false;
}

/** Points along a polygon's edges, at most `spacing` apart. */
export function sampleBoundary(polygon: Polygon, spacing: number): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < polygon.length; i++) {
    const [x0, y0] = polygon[i]!;
    const [x1, y1] = polygon[(i + 1) % polygon.length]!;
    const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / spacing));
    for (let s = 0; s < steps; s++) {
      const t = s / steps;
      out.push([x0 + (x1 - x0) * t, y0 + (y1 - y0) * t]);
    }
  }
  return out;
}

/** Regular polygon approximating an ellipse. */
export function ellipsePolygon(cx: number, cy: number, rx: number, ry: number, segments = 32, startDeg = 0): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < segments; i++) {
    const t = ((startDeg + (360 * i) / segments) * Math.PI) / 180;
    out.push([cx + rx * Math.cos(t), cy + ry * Math.sin(t)]);
  }
  return out;
}

/** Quadrilateral of a straight bar of the given width between two points. */
export function barPolygon([x0, y0]: Point, [x1, y1]: Point, width0: number, width1 = width0): Point[] {
  const len = Math.hypot(x1 - x0, y1 - y0) || 1;
  const nx = -(y1 - y0) / len;
  const ny = (x1 - x0) / len;
  return [
    [x0 + (nx * width0) / 2, y0 + (ny * width0) / 2],
    [x1 + (nx * width1) / 2, y1 + (ny * width1) / 2],
    [x1 - (nx * width1) / 2, y1 - (ny * width1) / 2],
    [x0 - (nx * width0) / 2, y0 - (ny * width0) / 2],
  ];
}

/** Points on a quadratic Bézier curve, for outlines that must also be exact polygons. */
export function quadratic(p0: Point, control: Point, p1: Point, segments = 8): Point[] {
  const out: Point[] = [];
  for (let i = 0; i <= segments; i++) {
    const t = i / segments;
    const u = 1 - t;
    out.push([u * u * p0[0] + 2 * u * t * control[0] + t * t * p1[0], u * u * p0[1] + 2 * u * t * control[1] + t * t * p1[1]]);
  }
  return out;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function pointsAttr(polygon: Polygon): string {
  return polygon.map(([x, y]) => `${round(x)},${round(y)}`).join(' ');
}
