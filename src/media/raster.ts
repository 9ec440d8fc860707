/**
 * Drawing straight into decoded RGB pixels: the few shapes an annotated photo needs
 * (filled and outlined rectangles, dashed outlines, RGBA tiles blended on top).
 * Cheaper than rasterising a full-size SVG overlay and compositing it: the cost is
 * proportional to the pixels drawn, not to the photo.
 */

export type Rgb = readonly [number, number, number];

/** `#rrggbb` → [r, g, b]. */
export function parseHexColour(colour: string): Rgb {
  if (!/^#[0-9a-fA-F]{6}$/.test(colour)) throw new Error(`Invalid colour: ${colour}`);
  return [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16)) as unknown as Rgb;
}

export class RgbCanvas {
  /** A clamped view of the pixels: blended values are rounded, never wrapped. */
  private readonly px: Uint8ClampedArray;

  constructor(
    readonly pixels: Buffer,
    readonly width: number,
    readonly height: number,
  ) {
    if (pixels.length !== width * height * 3) throw new Error(`Expected ${width}×${height}×3 bytes, got ${pixels.length}`);
    this.px = new Uint8ClampedArray(pixels.buffer, pixels.byteOffset, pixels.length);
  }

  /** Fills the rectangle [x, x + w) × [y, y + h), clipped to the canvas, with `opacity`. */
  fillRect(x: number, y: number, w: number, h: number, colour: Rgb, opacity = 1): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    if (x1 <= x0 || y1 <= y0) return;
    const a = Math.min(1, Math.max(0, opacity));
    const [r, g, b] = colour;
    const px = this.px;
    for (let row = y0; row < y1; row++) {
      let i = (row * this.width + x0) * 3;
      if (a >= 1) {
        for (let col = x0; col < x1; col++, i += 3) {
          px[i] = r;
          px[i + 1] = g;
          px[i + 2] = b;
        }
      } else {
        for (let col = x0; col < x1; col++, i += 3) {
          px[i] = px[i]! + (r - px[i]!) * a;
          px[i + 1] = px[i + 1]! + (g - px[i + 1]!) * a;
          px[i + 2] = px[i + 2]! + (b - px[i + 2]!) * a;
        }
      }
    }
  }

  /**
   * Outlines a box with a band of `stroke` pixels just inside [x1, x2] × [y1, y2] (so the
   * whole line shows even at the photo's border). `dash` = [on, off] lengths along each edge.
   */
  strokeRect(x1: number, y1: number, x2: number, y2: number, stroke: number, colour: Rgb, dash?: readonly [number, number]): void {
    const s = Math.max(1, Math.min(stroke, (x2 - x1) / 2, (y2 - y1) / 2));
    const edges: Array<{ x: number; y: number; length: number; horizontal: boolean }> = [
      { x: x1, y: y1, length: x2 - x1, horizontal: true },
      { x: x1, y: y2 - s, length: x2 - x1, horizontal: true },
      { x: x1, y: y1, length: y2 - y1, horizontal: false },
      { x: x2 - s, y: y1, length: y2 - y1, horizontal: false },
    ];
    for (const edge of edges) {
      const period = dash ? dash[0] + dash[1] : edge.length;
      for (let at = 0; at < edge.length; at += period) {
        const run = Math.min(dash ? dash[0] : edge.length, edge.length - at);
        if (edge.horizontal) this.fillRect(edge.x + at, edge.y, run, s, colour);
        else this.fillRect(edge.x, edge.y + at, s, run, colour);
      }
    }
  }

  /** Blends a non-premultiplied RGBA tile with its top-left corner at (left, top), clipped. */
  blendRgba(tile: { data: Buffer; width: number; height: number }, left: number, top: number, opacity = 1): void {
    const x0 = Math.round(left);
    const y0 = Math.round(top);
    const px = this.px;
    for (let ty = Math.max(0, -y0); ty < tile.height && y0 + ty < this.height; ty++) {
      for (let tx = Math.max(0, -x0); tx < tile.width && x0 + tx < this.width; tx++) {
        const t = (ty * tile.width + tx) * 4;
        const a = (tile.data[t + 3]! / 255) * opacity;
        if (a <= 0) continue;
        const i = ((y0 + ty) * this.width + x0 + tx) * 3;
        px[i] = px[i]! + (tile.data[t]! - px[i]!) * a;
        px[i + 1] = px[i + 1]! + (tile.data[t + 1]! - px[i + 1]!) * a;
        px[i + 2] = px[i + 2]! + (tile.data[t + 2]! - px[i + 2]!) * a;
      }
    }
  }
}
