/**
 * Nearest-code lookup in O(1) for the inner loop of the fused 8-bit step: a 65,536-entry table
 * keyed by the top 16 bits of the float32 value gives the last map entry below the bucket, and a
 * short forward walk finishes the search. Returns exactly what `nearestCode` returns.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

const tables = new WeakMap<Float32Array, Uint8Array>();

/** Builds (once per map) the bucket table of `nearestCodeFast`. */
export function codeTable(map: Float32Array): Uint8Array {
  let t = tables.get(map);
  if (t) return t;
  t = new Uint8Array(65536);
  for (let key = 0; key < 65536; key++) {
    // The smallest float in the bucket: low bits 0 for positives, all ones for negatives.
    u32[0] = ((key << 16) | (key & 0x8000 ? 0xffff : 0)) >>> 0;
    const lowest = f32[0]!;
    if (Number.isNaN(lowest)) continue;
    let lo = 0;
    for (let half = 128; half >= 1; half >>= 1) if (map[lo + half]! <= lowest) lo += half;
    t[key] = lo;
  }
  tables.set(map, t);
  return t;
}

/** Nearest map index of `x` using a table from `codeTable(map)`; ties go to the lower index. */
export function nearestCodeFast(table: Uint8Array, map: Float32Array, x: number): number {
  f32[0] = x;
  let lo = table[u32[0]! >>> 16]!;
  while (lo < 255 && map[lo + 1]! <= x) lo++;
  if (lo < 255 && map[lo + 1]! - x < x - map[lo]!) lo++;
  return lo;
}
