/**
 * float32 ↔ float16 conversion for half=True exports. The reference for rounding is the
 * definition itself: the nearest of all finite halves, ties to the even bit pattern.
 */
import { describe, expect, it } from 'vitest';
import { fromFloat16Bits, toFloat16Bits } from '../../src/ml/float16.js';

const toHalf = (...values: number[]) => Array.from(toFloat16Bits(Float32Array.from(values)));
const fromHalf = (...bits: number[]) => Array.from(fromFloat16Bits(Uint16Array.from(bits)));

describe('float16', () => {
  it('decodes known bit patterns', () => {
    expect(fromHalf(0x0000, 0x8000, 0x3c00, 0xc000, 0x3555, 0x7bff, 0x0400, 0x0001, 0x7c00, 0xfc00)).toEqual([
      0, -0, 1, -2, 0.333251953125, 65504, 2 ** -14, 2 ** -24, Infinity, -Infinity,
    ]);
    expect(Number.isNaN(fromHalf(0x7e00)[0])).toBe(true);
  });

  it('round-trips every half exactly (normals, subnormals, zeros, infinities; NaN stays NaN)', () => {
    const all = new Uint16Array(0x10000).map((_, i) => i);
    const back = toFloat16Bits(fromFloat16Bits(all));
    for (let h = 0; h < 0x10000; h++) {
      const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN) expect((back[h]! & 0x7c00) === 0x7c00 && (back[h]! & 0x3ff) !== 0).toBe(true);
      else if (back[h] !== h) expect.fail(`half 0x${h.toString(16)} came back as 0x${back[h]!.toString(16)}`);
    }
  });

  it('rounds to nearest, ties to even', () => {
    const ulp1 = 2 ** -10; // spacing of halves in [1, 2)
    expect(toHalf(1 + ulp1 / 2)).toEqual([0x3c00]); // tie → even (1.0)
    expect(toHalf(1 + (3 * ulp1) / 2)).toEqual([0x3c02]); // tie → even (1 + 2 ulp)
    expect(toHalf(Math.fround(1 + ulp1 / 2 + 2 ** -23))).toEqual([0x3c01]); // just above the tie
    expect(toHalf(2 - ulp1 / 4)).toEqual([0x4000]); // carries into the exponent
    expect(toHalf(65504, 65519, 65520, 1e6, -1e6)).toEqual([0x7bff, 0x7bff, 0x7c00, 0x7c00, 0xfc00]);
    // Subnormals: k · 2^-24. 2^-25 is a tie between 0 and 2^-24 (→ 0); 3 · 2^-25 → 2 · 2^-24.
    expect(toHalf(2 ** -25, Math.fround(2 ** -25 * 1.0001), 3 * 2 ** -25, 2 ** -30, -(2 ** -24))).toEqual([
      0x0000, 0x0001, 0x0002, 0x0000, 0x8001,
    ]);
    expect(toHalf(2 ** -14 - 2 ** -25)).toEqual([0x0400]); // rounds up to the smallest normal
    expect(toHalf(-0, 1e-45)).toEqual([0x8000, 0x0000]);
    expect(toHalf(NaN, Infinity, -Infinity).map((h) => h & 0x7e00)).toEqual([0x7e00, 0x7c00, 0x7c00]);
  });

  it('agrees with the definition on random floats across the half range', () => {
    const halves = fromFloat16Bits(new Uint16Array(0x7c00).map((_, i) => i)); // +0 … 65504, ascending
    const nearest = (x: number): number => {
      const magnitude = Math.abs(x);
      if (magnitude >= 65520) return x < 0 ? 0xfc00 : 0x7c00;
      let lo = 0;
      let hi = halves.length - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (halves[mid]! <= magnitude) lo = mid;
        else hi = mid;
      }
      const below = magnitude - halves[lo]!;
      const above = halves[hi]! - magnitude;
      const bits = below < above ? lo : above < below ? hi : lo % 2 === 0 ? lo : hi;
      return (x < 0 || Object.is(x, -0) ? 0x8000 : 0) | bits;
    };
    let seed = 12345;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const values = new Float32Array(50_000).map(() => (random() - 0.5) * 2 ** (Math.floor(random() * 44) - 26));
    const got = toFloat16Bits(values);
    for (let i = 0; i < values.length; i++) {
      if (got[i] !== nearest(values[i]!)) expect.fail(`${values[i]} → 0x${got[i]!.toString(16)}, want 0x${nearest(values[i]!).toString(16)}`);
    }
  });

  it('reads a Float32Array that is a view into a larger buffer', () => {
    const buffer = new Float32Array([9, 1, -2, 9]);
    expect(Array.from(toFloat16Bits(buffer.subarray(1, 3)))).toEqual([0x3c00, 0xc000]);
  });
});
