import type { KernelIO } from '@blockwise/tensor';
import { createDynamicMap } from './dynamicMap.js';
import type { Fused8bitAttrs } from './fused8bit.js';
import { blockMax, getScratch, updateBlock } from './updateRules.js';

/**
 * 4-bit state maps after arXiv 2309.01507: the signed dynamic-exponent map (bitsandbytes'
 * `create_dynamic_map(True, 3, 4)`, 16 values) for first moments, and the unsigned one without
 * its zero ("DE-0", 15 values, the last repeated to fill 16) for second moments, so a small
 * second moment never rounds to zero and blows up the step.
 */
let maps: { signed: Float32Array; unsigned: Float32Array } | undefined;
export function fourBitMaps(): { signed: Float32Array; unsigned: Float32Array } {
  if (!maps) {
    const distinct = (m: Float32Array): number[] => [...new Set(m)].sort((a, b) => a - b);
    const signed = Float32Array.from(distinct(createDynamicMap(true, 3, 4)));
    const noZero = distinct(createDynamicMap(false, 3, 4)).filter((v) => v !== 0);
    const unsigned = Float32Array.from([...noZero, noZero[noZero.length - 1]!]);
    if (signed.length !== 16 || unsigned.length !== 16) throw new Error('fourBitMaps: expected 16 values per map');
    maps = { signed, unsigned };
  }
  return maps;
}

/** The 4-bit map of state `s`: signed for first moments and momenta, DE-0 for Adam's second. */
export function fourBitStateMap(s: number, numStates: number): Float32Array {
  const m = fourBitMaps();
  return s === 1 && numStates === 2 ? m.unsigned : m.signed;
}

/** Nearest entry of a sorted 16-entry map (ties go to the lower index). */
export function nearest16(map: Float32Array, x: number): number {
  let lo = 0;
  for (let half = 8; half >= 1; half >>= 1) if (map[lo + half]! <= x) lo += half;
  if (lo < 15 && map[lo + 1]! - x < x - map[lo]!) lo++;
  return lo;
}

/**
 * The codes of a packed state, one per byte: `codes[s * n + i]`. 8-bit states are viewed in
 * place; 4-bit ones (two per byte, low nibble first) are unpacked.
 */
export function unpackCodes(
  st: Int32Array,
  n: number,
  numStates: number,
  bits: number,
): { codes: Uint8Array; stride: number } {
  const W = Math.ceil((n * bits) / 32);
  const bytes = new Uint8Array(st.buffer, st.byteOffset, numStates * W * 4);
  if (bits === 8) return { codes: bytes, stride: W * 4 };
  const codes = new Uint8Array(numStates * n);
  for (let s = 0; s < numStates; s++) {
    const off = s * W * 4;
    for (let i = 0; i < n; i++) {
      const byte = bytes[off + (i >> 1)]!;
      codes[s * n + i] = i & 1 ? byte >> 4 : byte & 15;
    }
  }
  return { codes, stride: n };
}

/** Typed-array fused step with 4-bit codes (eight per int32 word); same layout otherwise. */
export function fused4bitReference(inputs: KernelIO[], a: Fused8bitAttrs, numStates: 1 | 2): KernelIO[] {
  const p = inputs[0]!.data as Float32Array;
  const g = inputs[1]!.data as Float32Array;
  const st = inputs[2]!.data as Int32Array;
  const { n, blockSize: B } = a;
  const S = numStates;
  const W = Math.ceil(n / 8);
  const nb = Math.ceil(n / B);
  if (st.length !== S * (W + nb)) {
    throw new Error(
      `Fused8bitStep: 4-bit state holds ${st.length} words, expected ${S * (W + nb)} for ${n} elements, block ${B}`,
    );
  }
  const { codes, stride } = unpackCodes(st, n, S, 4);
  const absIn = new Float32Array(st.buffer, st.byteOffset + S * W * 4, S * nb);
  const outP = new Float32Array(n);
  const outS = new Int32Array(st.length);
  const bytesOut = new Uint8Array(outS.buffer, 0, S * W * 4);
  const absOut = new Float32Array(outS.buffer, S * W * 4, S * nb);
  const map0 = fourBitStateMap(0, S);
  const map1 = fourBitStateMap(1, S);
  const { s0, s1 } = getScratch(B);
  const pack = (s: number, src: Float32Array, max: number, map: Float32Array, start: number, end: number): void => {
    const inv = max > 0 ? Math.fround(1 / max) : 0;
    const off = s * W * 4;
    for (let i = start; i < end; i++) {
      const c = nearest16(map, Math.fround(src[i - start]! * inv));
      bytesOut[off + (i >> 1)]! |= i & 1 ? c << 4 : c;
    }
  };
  for (let b = 0; b < nb; b++) {
    const start = b * B;
    const end = Math.min(n, start + B);
    updateBlock(a, p, g, codes, stride, absIn[b]!, S === 2 ? absIn[nb + b]! : 0, map0, map1, outP, s0, s1, start, end);
    const max0 = Math.fround(blockMax[0]!);
    absOut[b] = max0;
    pack(0, s0, max0, map0, start, end);
    if (S === 2) {
      const max1 = Math.fround(blockMax[1]!);
      absOut[nb + b] = max1;
      pack(1, s1, max1, map1, start, end);
    }
  }
  return [
    { data: outP, shape: [n], dtype: 'float32' },
    { data: outS, shape: [outS.length], dtype: 'int32' },
  ];
}
