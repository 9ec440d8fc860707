import { describe, expect, it } from 'vitest';
import { parseHexColour, RgbCanvas } from '../../src/media/raster.js';

const blank = (width: number, height: number, value = 100) => new RgbCanvas(Buffer.alloc(width * height * 3, value), width, height);
const at = (c: RgbCanvas, x: number, y: number) => [...c.pixels.subarray((y * c.width + x) * 3, (y * c.width + x) * 3 + 3)];

describe('RgbCanvas', () => {
  it('parses #rrggbb and refuses anything else', () => {
    expect(parseHexColour('#ff8000')).toEqual([255, 128, 0]);
    expect(() => parseHexColour('red')).toThrow(/colour/);
  });

  it('fills rectangles clipped to the canvas, opaque or blended (rounded, never wrapped)', () => {
    const c = blank(10, 10);
    c.fillRect(-5, -5, 8, 8, [255, 0, 0]);
    expect(at(c, 0, 0)).toEqual([255, 0, 0]);
    expect(at(c, 2, 2)).toEqual([255, 0, 0]);
    expect(at(c, 3, 3)).toEqual([100, 100, 100]);
    c.fillRect(5, 5, 100, 100, [200, 0, 255], 0.5);
    expect(at(c, 9, 9)).toEqual([150, 50, 178]); // 100 + (255 − 100) × 0.5 = 177.5 → 178
    expect(at(c, 4, 4)).toEqual([100, 100, 100]);
  });

  it('outlines boxes inside their bounds, solid or dashed', () => {
    const c = blank(40, 20, 0);
    c.strokeRect(0, 0, 40, 20, 2, [0, 255, 0]);
    expect(at(c, 0, 0)).toEqual([0, 255, 0]);
    expect(at(c, 39, 19)).toEqual([0, 255, 0]);
    expect(at(c, 20, 1)).toEqual([0, 255, 0]);
    expect(at(c, 20, 2)).toEqual([0, 0, 0]);
    const d = blank(40, 20, 0);
    d.strokeRect(0, 0, 40, 20, 2, [0, 255, 0], [6, 4]);
    const top = Array.from({ length: 40 }, (_, x) => at(d, x, 0)[1] === 255);
    expect(top.slice(0, 6).every(Boolean)).toBe(true);
    expect(top.slice(6, 10).some(Boolean)).toBe(false);
    expect(top.slice(10, 16).every(Boolean)).toBe(true);
  });

  it('blends RGBA tiles by their alpha and clips them at the edges', () => {
    const c = blank(4, 4, 0);
    const tile = { data: Buffer.from([255, 255, 255, 255, 255, 255, 255, 0, 255, 255, 255, 128, 255, 255, 255, 255]), width: 2, height: 2 };
    c.blendRgba(tile, 3, 3);
    expect(at(c, 3, 3)).toEqual([255, 255, 255]);
    c.blendRgba(tile, 0, 0);
    expect(at(c, 1, 0)).toEqual([0, 0, 0]);
    expect(at(c, 0, 1)).toEqual([128, 128, 128]);
  });
});
