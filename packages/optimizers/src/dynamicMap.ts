/**
 * The dynamic tree quantization map of bitsandbytes (`create_dynamic_map`), built value for
 * value: float32 arithmetic as torch does it on the CPU (linspace, midpoints, decade scaling),
 * then sorted ascending.
 */

/**
 * torch.linspace(start, end, steps) in float32 as the printed bitsandbytes map was built: the
 * first half forward from start, the second half backward from end, each value a fused
 * multiply-add (`start + step * i` rounded once to float32). These are the ATen CPU kernel's
 * formulas; the fused rounding reproduces the published map bit for bit.
 */
function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const f = Math.fround;
  const s = f(start);
  const e = f(end);
  const step = f(f(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) {
    // A float32 product is exact in a double, so one fround gives the fused result.
    out[i] = i < half ? f(s + step * i) : f(e - step * (steps - i - 1));
  }
  return out;
}

/** Midpoints of consecutive linspace(0.1, 1, items) boundaries, times 10^exponent, in float32. */
function scaledMeans(items: number, exponent: number): number[] {
  const b = linspaceF32(0.1, 1, items);
  const scale = Math.fround(Number(`1e${exponent}`));
  const out: number[] = [];
  for (let i = 0; i + 1 < b.length; i++) {
    const mean = Math.fround(Math.fround(b[i]! + b[i + 1]!) / 2);
    out.push(Math.fround(scale * mean));
  }
  return out;
}

/**
 * Builds the 256-entry dynamic quantization map of arXiv 2110.02861 exactly as bitsandbytes'
 * `create_dynamic_map(signed, max_exponent_bits, total_bits)`: sorted ascending; the signed map
 * runs from -0.99296875 to 1, the unsigned one from 0 to 1. Maps with `totalBits < 8` are padded
 * with zeros to 256 entries, as in bitsandbytes.
 */
export function createDynamicMap(signed = true, maxExponentBits = 7, totalBits = 8): Float32Array {
  if (typeof signed !== 'boolean')
    throw new TypeError(`createDynamicMap: signed must be true or false, got ${JSON.stringify(signed)}`);
  if (!Number.isInteger(totalBits) || totalBits < 2 || totalBits > 8) {
    throw new Error(`createDynamicMap: totalBits must be an integer in [2, 8], got ${totalBits}`);
  }
  if (!Number.isInteger(maxExponentBits) || maxExponentBits < 1 || maxExponentBits > totalBits - 1) {
    throw new Error(
      `createDynamicMap: maxExponentBits must be an integer in [1, ${totalBits - 1}], got ${maxExponentBits}`,
    );
  }
  // bitsandbytes reserves one bit in both cases (the unsigned map uses it for an extra fraction bit).
  const nonSignBits = totalBits - 1;
  const additionalItems = 2 ** (nonSignBits - maxExponentBits) - 1;
  const data: number[] = [];
  for (let i = 0; i < maxExponentBits; i++) {
    const items = signed
      ? 2 ** (i + nonSignBits - maxExponentBits) + 1
      : 2 ** (i + nonSignBits - maxExponentBits + 1) + 1;
    const means = scaledMeans(items, -(maxExponentBits - 1) + i);
    data.push(...means);
    if (signed) data.push(...means.map((m) => -m));
  }
  if (additionalItems > 0) {
    // bitsandbytes reuses the last loop exponent here.
    const means = scaledMeans(additionalItems + 1, -(maxExponentBits - 1) + (maxExponentBits - 1));
    data.push(...means);
    if (signed) data.push(...means.map((m) => -m));
  }
  data.push(0, 1);
  if (data.length !== 2 ** totalBits) {
    throw new Error(`createDynamicMap: built ${data.length} values, expected ${2 ** totalBits}`);
  }
  while (data.length < 256) data.push(0);
  data.sort((a, b) => a - b);
  return Float32Array.from(data);
}

let signedMap: Float32Array | undefined;
let unsignedMap: Float32Array | undefined;

/** The default signed (first-moment) map, built once. */
export function signedDynamicMap(): Float32Array {
  signedMap ??= createDynamicMap(true);
  return signedMap;
}

/** The default unsigned (second-moment) map, built once. */
export function unsignedDynamicMap(): Float32Array {
  unsignedMap ??= createDynamicMap(false);
  return unsignedMap;
}
