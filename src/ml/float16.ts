/**
 * IEEE 754 half precision ↔ single precision, for float16 exports (`yolo export half=True`).
 * Node 20 has no Float16Array: halves travel as their bit patterns in a Uint16Array, which is
 * what onnxruntime-node takes and gives for 'float16' tensors there.
 */

/** Float32 values → float16 bit patterns, rounded to nearest, ties to even (as numpy's astype). */
export function toFloat16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const halves = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) halves[i] = halfFromFloatBits(bits[i]!);
  return halves;
}

/** Float16 bit patterns → float32 values (exact: every half is a float). */
export function fromFloat16Bits(halves: Uint16Array): Float32Array {
  const table = halfTable();
  const values = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) values[i] = table[halves[i]!]!;
  return values;
}

function halfFromFloatBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 | (mantissa >>> 13) : 0); // NaN stays NaN, ±Inf
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00; // too large: ±Inf
  if (halfExponent <= 0) {
    // A half subnormal (k · 2^-24) or zero; float32 subnormals are far below and land here too.
    if (halfExponent < -10) return sign;
    const significand = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    return sign | roundShifted(significand, shift); // k = 1024 carries into the smallest normal
  }
  // A carry out of the mantissa moves into the exponent, up to Inf: still correctly rounded.
  return (sign | (halfExponent << 10)) + roundShifted(mantissa, 13);
}

/** value >> shift, rounded to nearest, ties to even. */
function roundShifted(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

let table: Float32Array | null = null;

/** All 65,536 halves as floats (256 KB, built on first use): decoding a model output is one lookup per value. */
function halfTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(0x10000);
  for (let h = 0; h < 0x10000; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >>> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) table[h] = sign * mantissa * 2 ** -24;
    else if (exponent === 0x1f) table[h] = mantissa ? NaN : sign * Infinity;
    else table[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
}
