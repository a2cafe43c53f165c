/**
 * The WebAssembly SIMD block-sparse attention kernel (src/wasm/attention.wat), used on the wasm
 * backend: same inputs, outputs and results (within float32 rounding) as the typed-array kernel in
 * sparseKernel.ts, which stays the reference it is tested against.
 *
 * Each call copies q, k, v (and dO) once into the module's own memory in the layout the module
 * reads: rows padded per block to multiples of 4 (query) and 8 (key) rows and 8 columns, and k, v
 * also as transposed [dim][kvBlock] tiles so that scores load four keys per vector. The copies
 * cost O(seq * dim) against the kernel's O(seq^2 * dim) and keep the module free of edge cases.
 */
import type { MaskArrays, SparseDims } from './sparseKernel.js';
import { ATTENTION_WASM_BASE64 } from './wasm/attentionWasm.js';

interface Exports {
  forward: (params: number) => void;
  backward: (params: number) => void;
}

let compiled: WebAssembly.Module | undefined;
let supported: boolean | undefined;
let engine: { e: Exports; memory: WebAssembly.Memory } | undefined;

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const s = atob(ATTENTION_WASM_BASE64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

/** True when this JavaScript engine runs WebAssembly with 128-bit SIMD (validates the module itself). @internal */
export function attentionSimdSupported(): boolean {
  if (supported === undefined) {
    try {
      const bytes = moduleBytes();
      supported = typeof WebAssembly === 'object' && WebAssembly.validate(bytes);
      if (supported) compiled = new WebAssembly.Module(bytes);
    } catch {
      supported = false;
    }
  }
  return supported;
}

let preference: 'auto' | 'wasm-simd' | 'js' = 'auto';

/**
 * Chooses the kernel of the wasm backend: 'auto' (SIMD where the engine has it), 'wasm-simd' or
 * 'js' (the typed-array reference). For tests and benchmarks. @internal
 */
export function setAttentionKernel(choice: 'auto' | 'wasm-simd' | 'js'): void {
  if (choice !== 'auto' && choice !== 'wasm-simd' && choice !== 'js') {
    throw new Error(`setAttentionKernel: choice must be 'auto', 'wasm-simd' or 'js', got ${String(choice)}`);
  }
  if (choice === 'wasm-simd' && !attentionSimdSupported())
    throw new Error("setAttentionKernel: 'wasm-simd' needs WebAssembly SIMD, which this engine lacks");
  preference = choice;
}

/** Whether the wasm backend's kernel runs the SIMD module now. @internal */
export function useSimdKernel(): boolean {
  if (preference === 'js') return false;
  return attentionSimdSupported();
}

/** Where the last kernel call ran (tests). @internal */
export const lastAttentionPath = { path: 'none' as 'none' | 'js' | 'wasm-simd' };

const up = (x: number, m: number): number => Math.ceil(x / m) * m;

/** Byte offsets of the parameter block's fields (see attention.wat). */
const P = {
  nBH: 0,
  nq: 4,
  qBP: 8,
  kvBP: 12,
  dP: 16,
  qBlock: 20,
  kvBlock: 24,
  lk: 28,
  scale: 32,
  nk: 36,
  Q: 40,
  KT: 44,
  V: 48,
  ACC: 52,
  M: 56,
  L: 60,
  rowStart: 64,
  listKb: 68,
  listOff: 72,
  bits: 76,
  S: 80,
  kvHeadOf: 84,
  maskBaseOf: 88,
  dO: 92,
  VT: 96,
  K: 100,
  LSE: 104,
  DELTA: 108,
  dK: 112,
  dV: 116,
  DP: 120,
} as const;
const PARAM_BYTES = 128;

/** A bump allocator over the module's memory for one call (16-byte aligned regions). */
class Arena {
  private at = PARAM_BYTES;
  readonly offsets: Record<string, number> = {};
  add(name: string, bytes: number): void {
    this.offsets[name] = this.at;
    this.at = up(this.at + bytes, 16);
  }
  get size(): number {
    return this.at;
  }
}

function memoryFor(bytes: number): { e: Exports; memory: WebAssembly.Memory } {
  if (!attentionSimdSupported())
    throw new Error(
      'blockSparseAttention: the WebAssembly SIMD kernel needs WebAssembly SIMD, which this engine lacks',
    );
  if (!engine) {
    const memory = new WebAssembly.Memory({ initial: 1 });
    engine = { e: new WebAssembly.Instance(compiled!, { env: { memory } }).exports as unknown as Exports, memory };
  }
  const have = engine.memory.buffer.byteLength;
  if (bytes > 2 ** 32 - 65536)
    throw new Error(
      `blockSparseAttention: the WebAssembly kernel needs ${bytes} bytes of memory, more than the 4 GiB a module can address; use impl: 'ops'`,
    );
  if (bytes > have) {
    try {
      engine.memory.grow(Math.ceil((bytes - have) / 65536));
    } catch (e) {
      throw new Error(
        `blockSparseAttention: the WebAssembly kernel could not grow its memory to ${bytes} bytes (${e instanceof Error ? e.message : String(e)}); use impl: 'ops' or smaller inputs`,
        { cause: e },
      );
    }
  }
  return engine;
}

interface Geometry {
  nBH: number;
  nKv: number;
  qBP: number;
  kvBP: number;
  dP: number;
  /** Padded rows per head: query side and key side. */
  qRowsP: number;
  kRowsP: number;
  lists: { rowStart: Int32Array; kb: Int32Array; off: Int32Array };
  kvHeadOf: Int32Array;
  maskBaseOf: Int32Array;
}

/** Each mask row's active key blocks in ascending order (partial and full lists merged). */
function mergedLists(m: MaskArrays, rows: number, nk: number): Geometry['lists'] {
  const rowStart = new Int32Array(rows + 1);
  let total = 0;
  for (let r = 0; r < rows; r++) total += m.kvNum[r]! + m.fullNum[r]!;
  const kb = new Int32Array(Math.max(1, total));
  const off = new Int32Array(Math.max(1, total));
  let n = 0;
  for (let r = 0; r < rows; r++) {
    rowStart[r] = n;
    const np = m.kvNum[r]!;
    const nf = m.fullNum[r]!;
    const base = r * nk;
    let i = 0;
    let j = 0;
    while (i < np || j < nf) {
      const a = i < np ? m.kvIdx[base + i]! : nk;
      const b = j < nf ? m.fullIdx[base + j]! : nk;
      if (a < b) {
        kb[n] = a;
        off[n++] = m.pOff[base + a]!;
        i++;
      } else {
        kb[n] = b;
        off[n++] = -1;
        j++;
      }
    }
  }
  rowStart[rows] = n;
  return { rowStart, kb, off };
}

function geometry(dims: SparseDims, mask: MaskArrays): Geometry {
  const { batch, hq, hkv, d, qBlock, kvBlock, nq, nk, maskBatch, maskHeads } = dims;
  const qBP = up(qBlock, 4);
  const kvBP = up(kvBlock, 8);
  const group = hq / hkv;
  const kvHeadOf = new Int32Array(batch * hq);
  const maskBaseOf = new Int32Array(batch * hq);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < hq; h++) {
      kvHeadOf[b * hq + h] = b * hkv + Math.floor(h / group);
      maskBaseOf[b * hq + h] = ((maskBatch === 1 ? 0 : b) * maskHeads + (maskHeads === 1 ? 0 : h)) * nq;
    }
  }
  return {
    nBH: batch * hq,
    nKv: batch * hkv,
    qBP,
    kvBP,
    dP: up(d, 8),
    qRowsP: nq * qBP,
    kRowsP: nk * kvBP,
    lists: mergedLists(mask, maskBatch * maskHeads * nq, nk),
    kvHeadOf,
    maskBaseOf,
  };
}

/** Copies `[heads, len, d]` rows into `[heads][nBlocks * blockP][dP]` (zero padding already there). */
function padRows(
  src: Float32Array,
  heads: number,
  len: number,
  d: number,
  block: number,
  blockP: number,
  dP: number,
  dst: Float32Array,
): void {
  const rowsP = Math.ceil(len / block) * blockP;
  for (let h = 0; h < heads; h++) {
    for (let r = 0; r < len; r++) {
      const to = (h * rowsP + Math.floor(r / block) * blockP + (r % block)) * dP;
      const from = (h * len + r) * d;
      if (d === dP) dst.set(src.subarray(from, from + d), to);
      else for (let t = 0; t < d; t++) dst[to + t] = src[from + t]!;
    }
  }
}

/** Copies `[heads, len, d]` keys into transposed tiles `[heads][nk][dP][kvBP]`. */
function transposeTiles(
  src: Float32Array,
  heads: number,
  len: number,
  d: number,
  block: number,
  blockP: number,
  dP: number,
  dst: Float32Array,
): void {
  const nk = Math.ceil(len / block);
  for (let h = 0; h < heads; h++) {
    for (let r = 0; r < len; r++) {
      const kb = Math.floor(r / block);
      const j = r % block;
      const tile = (h * nk + kb) * dP * blockP;
      const from = (h * len + r) * d;
      for (let t = 0; t < d; t++) dst[tile + t * blockP + j] = src[from + t]!;
    }
  }
}

/** Copies padded rows `[heads][nBlocks * blockP][dP]` back to `[heads, len, d]`. */
function unpadRows(
  src: Float32Array,
  heads: number,
  len: number,
  d: number,
  block: number,
  blockP: number,
  dP: number,
  dst: Float32Array,
): void {
  const rowsP = Math.ceil(len / block) * blockP;
  for (let h = 0; h < heads; h++) {
    for (let r = 0; r < len; r++) {
      const from = (h * rowsP + Math.floor(r / block) * blockP + (r % block)) * dP;
      const to = (h * len + r) * d;
      dst.set(src.subarray(from, from + d), to);
    }
  }
}

function writeCommon(mem: ArrayBuffer, dims: SparseDims, g: Geometry, a: Arena, mask: MaskArrays): void {
  const p = new Int32Array(mem, 0, PARAM_BYTES / 4);
  const o = a.offsets;
  p.fill(0);
  p[P.nBH / 4] = g.nBH;
  p[P.nq / 4] = dims.nq;
  p[P.qBP / 4] = g.qBP;
  p[P.kvBP / 4] = g.kvBP;
  p[P.dP / 4] = g.dP;
  p[P.qBlock / 4] = dims.qBlock;
  p[P.kvBlock / 4] = dims.kvBlock;
  p[P.lk / 4] = dims.lk;
  new Float32Array(mem, P.scale, 1)[0] = dims.scale;
  p[P.nk / 4] = dims.nk;
  for (const k of Object.keys(o)) p[P[k as keyof typeof P] / 4] = o[k]!;
  new Int32Array(mem, o.rowStart!, g.lists.rowStart.length).set(g.lists.rowStart);
  new Int32Array(mem, o.listKb!, g.lists.kb.length).set(g.lists.kb);
  new Int32Array(mem, o.listOff!, g.lists.off.length).set(g.lists.off);
  new Uint8Array(mem, o.bits!, mask.pBits.length).set(mask.pBits);
  new Int32Array(mem, o.kvHeadOf!, g.nBH).set(g.kvHeadOf);
  new Int32Array(mem, o.maskBaseOf!, g.nBH).set(g.maskBaseOf);
}

function commonRegions(a: Arena, g: Geometry, mask: MaskArrays): void {
  a.add('rowStart', 4 * g.lists.rowStart.length);
  a.add('listKb', 4 * g.lists.kb.length);
  a.add('listOff', 4 * g.lists.off.length);
  a.add('bits', Math.max(4, mask.pBits.length));
  a.add('kvHeadOf', 4 * g.nBH);
  a.add('maskBaseOf', 4 * g.nBH);
  a.add('S', 4 * g.qBP * g.kvBP);
}

/** Forward pass on the SIMD module: same contract as `blockSparseForwardReference`. @internal */
export function blockSparseForwardSimd(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dims: SparseDims,
  mask: MaskArrays,
  out: Float32Array,
  lse: Float32Array,
): void {
  const { lq, lk, d, qBlock, kvBlock } = dims;
  const g = geometry(dims, mask);
  const qFloats = g.nBH * g.qRowsP * g.dP;
  const kFloats = g.nKv * g.kRowsP * g.dP;
  const a = new Arena();
  commonRegions(a, g, mask);
  a.add('Q', 4 * qFloats);
  a.add('KT', 4 * kFloats);
  a.add('V', 4 * kFloats);
  a.add('ACC', 4 * qFloats);
  a.add('M', 4 * g.nBH * g.qRowsP);
  a.add('L', 8 * g.nBH * g.qRowsP);
  const { e, memory } = memoryFor(a.size);
  const mem = memory.buffer;
  const o = a.offsets;
  writeCommon(mem, dims, g, a, mask);
  const Q = new Float32Array(mem, o.Q!, qFloats);
  const KT = new Float32Array(mem, o.KT!, kFloats);
  const V = new Float32Array(mem, o.V!, kFloats);
  const ACC = new Float32Array(mem, o.ACC!, qFloats);
  const M = new Float32Array(mem, o.M!, g.nBH * g.qRowsP);
  const L = new Float64Array(mem, o.L!, g.nBH * g.qRowsP);
  Q.fill(0);
  KT.fill(0);
  V.fill(0);
  ACC.fill(0);
  M.fill(-Infinity);
  L.fill(0);
  const nKv = g.nKv;
  padRows(q, g.nBH, lq, d, qBlock, g.qBP, g.dP, Q);
  transposeTiles(k, nKv, lk, d, kvBlock, g.kvBP, g.dP, KT);
  padRows(v, nKv, lk, d, kvBlock, g.kvBP, g.dP, V);
  e.forward(0);
  lastAttentionPath.path = 'wasm-simd';
  for (let h = 0; h < g.nBH; h++) {
    for (let r = 0; r < lq; r++) {
      const rp = h * g.qRowsP + Math.floor(r / qBlock) * g.qBP + (r % qBlock);
      const from = rp * g.dP;
      const to = (h * lq + r) * d;
      const li = L[rp]!;
      if (li > 0) {
        const inv = 1 / li;
        for (let t = 0; t < d; t++) out[to + t] = ACC[from + t]! * inv;
        lse[h * lq + r] = M[rp]! + Math.log(li);
      } else {
        out.fill(0, to, to + d);
        lse[h * lq + r] = -Infinity;
      }
    }
  }
}

/** Backward pass on the SIMD module: same contract as `blockSparseBackwardReference`. @internal */
export function blockSparseBackwardSimd(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  lse: Float32Array,
  delta: Float32Array,
  dO: Float32Array,
  dims: SparseDims,
  mask: MaskArrays,
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
): void {
  const { lq, lk, d, qBlock, kvBlock } = dims;
  const g = geometry(dims, mask);
  const qFloats = g.nBH * g.qRowsP * g.dP;
  const kFloats = g.nKv * g.kRowsP * g.dP;
  const rowsP = g.nBH * g.qRowsP;
  const a = new Arena();
  commonRegions(a, g, mask);
  a.add('DP', 4 * g.qBP * g.kvBP);
  for (const name of ['Q', 'dO', 'ACC']) a.add(name, 4 * qFloats);
  for (const name of ['KT', 'VT', 'K', 'dK', 'dV']) a.add(name, 4 * kFloats);
  a.add('LSE', 4 * rowsP);
  a.add('DELTA', 4 * rowsP);
  const { e, memory } = memoryFor(a.size);
  const mem = memory.buffer;
  const o = a.offsets;
  writeCommon(mem, dims, g, a, mask);
  const view = (name: string, n: number): Float32Array => {
    const x = new Float32Array(mem, o[name]!, n);
    x.fill(0);
    return x;
  };
  const [Q, DO, ACC] = ['Q', 'dO', 'ACC'].map((n) => view(n, qFloats)) as [Float32Array, Float32Array, Float32Array];
  const [KT, VT, K, DK, DV] = ['KT', 'VT', 'K', 'dK', 'dV'].map((n) => view(n, kFloats)) as [
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  const LSE = new Float32Array(mem, o.LSE!, rowsP);
  const DELTA = view('DELTA', rowsP);
  LSE.fill(-Infinity);
  padRows(q, g.nBH, lq, d, qBlock, g.qBP, g.dP, Q);
  padRows(dO, g.nBH, lq, d, qBlock, g.qBP, g.dP, DO);
  transposeTiles(k, g.nKv, lk, d, kvBlock, g.kvBP, g.dP, KT);
  transposeTiles(v, g.nKv, lk, d, kvBlock, g.kvBP, g.dP, VT);
  padRows(k, g.nKv, lk, d, kvBlock, g.kvBP, g.dP, K);
  padRows(lse, g.nBH, lq, 1, qBlock, g.qBP, 1, LSE);
  padRows(delta, g.nBH, lq, 1, qBlock, g.qBP, 1, DELTA);
  e.backward(0);
  lastAttentionPath.path = 'wasm-simd';
  unpadRows(ACC, g.nBH, lq, d, qBlock, g.qBP, g.dP, dq);
  unpadRows(DK, g.nKv, lk, d, kvBlock, g.kvBP, g.dP, dk);
  unpadRows(DV, g.nKv, lk, d, kvBlock, g.kvBP, g.dP, dv);
}
