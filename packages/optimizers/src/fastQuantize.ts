/**
 * Nearest-code lookup without a search, for the inner loop of the fused 8-bit step. The nearest
 * map entry of x is the number of midpoints between consecutive entries that lie below x. A
 * 131,072-entry table keyed by the top 17 bits of x's float32 pattern (sign, exponent, 8 mantissa
 * bits: buckets 0.4% wide) gives that count at the bucket's low end; the dynamic maps are never
 * denser than 0.7%, so at most one midpoint lies inside a bucket and one comparison finishes.
 */

/** Lookup tables of one map. */
export interface CodeTable {
  /** Midpoints between consecutive entries; `mid[255] = Infinity`. */
  mid: Float64Array;
  /** Per bucket: how many midpoints lie below the bucket's lowest value. */
  base: Uint8Array;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const tables = new WeakMap<Float32Array, CodeTable>();

/** Builds (once per map) the tables of `quantizeInto`; throws if a bucket holds two midpoints. */
export function codeTable(map: Float32Array): CodeTable {
  const cached = tables.get(map);
  if (cached) return cached;
  const mid = new Float64Array(256);
  for (let k = 0; k < 255; k++) mid[k] = (map[k]! + map[k + 1]!) / 2;
  mid[255] = Infinity;
  const base = new Uint8Array(1 << 17);
  const below = (x: number): number => {
    let c = 0;
    while (c < 255 && mid[c]! < x) c++;
    return c;
  };
  for (let key = 0; key < 1 << 17; key++) {
    const neg = (key & 0x10000) !== 0;
    // Lowest and highest float of the bucket (for negatives the larger magnitude is lower).
    u32[0] = ((key << 15) | (neg ? 0x7fff : 0)) >>> 0;
    const lo = f32[0]!;
    u32[0] = ((key << 15) | (neg ? 0 : 0x7fff)) >>> 0;
    const hi = f32[0]!;
    if (Number.isNaN(lo) || Number.isNaN(hi)) continue;
    const c = below(lo);
    base[key] = c;
    if (below(hi) > c + 1) throw new Error('codeTable: the map is too dense for 17-bit buckets');
  }
  const t = { mid, base };
  tables.set(map, t);
  return t;
}

/**
 * Writes the nearest codes of `src[0..len) * fround(1 / amax)` to `out[outOffset..]` (ties go to the lower
 * entry, as `nearestCode`). `scratch` is a Float32Array of at least `len` elements.
 */
export function quantizeInto(
  src: Float32Array,
  len: number,
  amax: number,
  out: Uint8Array,
  outOffset: number,
  t: CodeTable,
  scratch: Float32Array,
  scratchBits: Uint32Array,
): void {
  // bitsandbytes multiplies by the reciprocal of the block max (kQuantizeBlockwise).
  const inv = amax > 0 ? Math.fround(1 / amax) : 0;
  for (let j = 0; j < len; j++) scratch[j] = src[j]! * inv;
  const { mid, base } = t;
  for (let j = 0; j < len; j++) {
    const b = base[scratchBits[j]! >>> 15]!;
    out[outOffset + j] = scratch[j]! > mid[b]! ? b + 1 : b;
  }
}

/** Nearest code of one value via the tables (same result as `nearestCode`). */
export function nearestCodeFast(t: CodeTable, x: number): number {
  f32[0] = x;
  const v = f32[0]!;
  const b = t.base[u32[0]! >>> 15]!;
  return v > t.mid[b]! ? b + 1 : b;
}
