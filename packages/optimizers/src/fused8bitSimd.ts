import * as tf from '@tensorflow/tfjs-core';
import { refreshWasmTensor, type KernelIO } from '@blockwise/tensor';
import { signedDynamicMap, unsignedDynamicMap } from './dynamicMap.js';
import { codeTable } from './fastQuantize.js';
import { fourBitMaps } from './fourBit.js';
import type { Fused8bitAttrs } from './fused8bit.js';
import { ALGO } from './kernelDefs.js';
import { ruleConstants } from './updateRules.js';
import { FUSED8BIT_WASM_BASE64 } from './wasm/fused8bitWasm.js';

interface Exports {
  step: (
    algo: number,
    n4: number,
    bs: number,
    p: number,
    q: number,
    g: number,
    st: number,
    out: number,
    tab: number,
  ) => void;
  step4: (
    algo: number,
    n4: number,
    bs: number,
    p: number,
    q: number,
    g: number,
    st: number,
    out: number,
    tab: number,
    cs: number,
  ) => void;
  MAP0: WebAssembly.Global;
  MAP1: WebAssembly.Global;
  THR0: WebAssembly.Global;
  THR1: WebAssembly.Global;
  BASE0: WebAssembly.Global;
  BASE1: WebAssembly.Global;
  TABLE_BYTES: WebAssembly.Global;
  TAB4: WebAssembly.Global;
  THR4_0: WebAssembly.Global;
  THR4_1: WebAssembly.Global;
  ALGO_ADAM: WebAssembly.Global;
  ALGO_MOMENTUM: WebAssembly.Global;
  ALGO_LION: WebAssembly.Global;
  ALGO_LAMB: WebAssembly.Global;
}

/** One instance of the module on one memory, with its table area at `tab` (room for blocks of `maxBlock`). */
interface Engine {
  e: Exports;
  memory: WebAssembly.Memory;
  tab: number;
  /** Blocks the table area has scratch room for (heap engines; the own memory places data after it). */
  maxBlock: number;
  /** The allocation holding the table area (heap engines). */
  raw: number;
}

let bytes: Uint8Array<ArrayBuffer> | undefined;
let compiled: WebAssembly.Module | undefined;
let supported: boolean | undefined;
let own: Engine | undefined;
const onHeap = new WeakMap<WebAssembly.Memory, Engine | null>();
/** Where the last fused 8-bit step ran (tests): on the tfjs heap, on copies in the module's memory, or in JavaScript. */
export const lastFused8bitPath = { path: 'none' as 'none' | 'heap' | 'copy' | 'js' };

function moduleBytes(): Uint8Array<ArrayBuffer> {
  if (!bytes) {
    const s = atob(FUSED8BIT_WASM_BASE64);
    bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  }
  return bytes;
}

/** True when this JavaScript engine runs WebAssembly with 128-bit SIMD (validates the module itself). */
export function wasmSimdSupported(): boolean {
  if (supported === undefined) {
    try {
      supported = typeof WebAssembly === 'object' && WebAssembly.validate(moduleBytes());
    } catch {
      supported = false;
    }
  }
  return supported;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The smallest float32 above `mid`, so that for a float32 x, `x > mid` is `x >= threshold(mid)`. */
export function threshold(mid: number): number {
  const f = Math.fround(mid);
  if (f > mid || !Number.isFinite(f)) return f;
  if (f === 0) return 1.401298464324817e-45; // the smallest positive subnormal
  f32[0] = f;
  u32[0] = f > 0 ? u32[0]! + 1 : u32[0]! - 1;
  return f32[0]!;
}

const zeroCodes = [signedDynamicMap().indexOf(0), unsignedDynamicMap().indexOf(0)] as const;

/**
 * @internal The 15 thresholds of a sorted 16-entry map for the module's 4-bit quantizer: the code
 * `nearest16` gives x is the number of thresholds x reaches (`x >= t`). Entry c: the smallest
 * float32 above the midpoint of entries c and c+1, or entry c+1 itself where the two are equal
 * (the DE-0 map repeats its last value, and `nearest16` then picks the higher index).
 */
export function fourBitThresholds(map: Float32Array): Float32Array {
  return Float32Array.from({ length: 15 }, (_, c) =>
    map[c] === map[c + 1] ? map[c + 1]! : threshold((map[c]! + map[c + 1]!) / 2),
  );
}

/**
 * Codes of padded lanes (p = g = 0) in the 4-bit maps: 0.0 in the signed one; the DE-0 map has no
 * zero, so its smallest entry: a padded lane's new second moment (beta2 times that entry times the
 * block maximum) stays below every real element's, which start at or above it, so no block maximum
 * changes.
 */
const zeroCodes4 = [fourBitMaps().signed.indexOf(0), 0] as const;

/** @internal The module's exports on a memory (tests compare its rule ids with `ALGO`). */
export function instantiate(memory: WebAssembly.Memory): Exports {
  compiled ??= new WebAssembly.Module(moduleBytes());
  return new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as Exports;
}

/** Writes the maps, thresholds and bucket tables at `tab`. */
function fillTables(g: Engine): void {
  const { e, tab } = g;
  const buf = g.memory.buffer;
  [signedDynamicMap(), unsignedDynamicMap()].forEach((map, s) => {
    const t = codeTable(map);
    const at = (x: WebAssembly.Global): number => tab + (x.value as number);
    new Float32Array(buf, at(s ? e.MAP1 : e.MAP0), 256).set(map);
    new Float32Array(buf, at(s ? e.THR1 : e.THR0), 256).set(Array.from(t.mid, threshold));
    new Uint8Array(buf, at(s ? e.BASE1 : e.BASE0), t.base.length).set(t.base);
  });
  const four = fourBitMaps();
  const tab4 = tab + (e.TAB4.value as number);
  [four.signed, four.unsigned].forEach((map, s) => {
    new Float32Array(buf, tab4 + ((s ? e.MAP1 : e.MAP0).value as number), 16).set(map);
    new Float32Array(buf, tab4 + ((s ? e.THR4_1 : e.THR4_0).value as number), 15).set(fourBitThresholds(map));
  });
}

/** Bytes of the table area for blocks of B (tables, then two float32 and two byte scratch blocks). */
const areaBytes = (e: Exports, B: number): number => (e.TABLE_BYTES.value as number) + 10 * B;

/** Bytes of one state's code array: ceil(n * bits / 32) int32 words. */
const codeBytes = (n: number, bits: number): number => 4 * Math.ceil((n * bits) / 32);

function checkState(length: number, n: number, S: number, B: number, bits: number): void {
  const want = S * (codeBytes(n, bits) / 4 + Math.ceil(n / B));
  if (length !== want)
    throw new Error(
      `Fused8bitStep: ${bits}-bit state holds ${length} words, expected ${want} for ${n} elements, block ${B}`,
    );
}

/**
 * Runs the module on data already in `g.memory`: parameter p -> q, packed state st -> out (n4
 * elements, a multiple of 4; q may be p and out st). 4-bit states: `cs` bytes of codes per state.
 */
function run(
  g: Engine,
  a: Fused8bitAttrs,
  n4: number,
  p: number,
  q: number,
  grad: number,
  st: number,
  out: number,
  cs: number,
): void {
  if (a.bits === 4) {
    new Float32Array(g.memory.buffer, g.tab + (g.e.TAB4.value as number), 32).set(ruleConstants(a));
    g.e.step4(a.algo, n4, a.blockSize, p, q, grad, st, out, g.tab, cs);
  } else {
    new Float32Array(g.memory.buffer, g.tab, 32).set(ruleConstants(a));
    g.e.step(a.algo, n4, a.blockSize, p, q, grad, st, out, g.tab);
  }
}

/**
 * The fused step of 8-bit and 4-bit states in WebAssembly SIMD on the module's own memory: copies
 * p, g and the packed state in, runs, and returns views of that memory on the wasm backend (which
 * copies kernel outputs into its heap) or copies elsewhere. Same inputs, outputs and results as
 * `fused8bitReference`.
 */
export function fused8bitSimd(inputs: KernelIO[], a: Fused8bitAttrs, numStates: 1 | 2): KernelIO[] {
  const p = inputs[0]!.data;
  const grad = inputs[1]!.data;
  const st = inputs[2]!.data;
  const { n, blockSize: B } = a;
  const S = numStates;
  const bits = a.bits;
  checkState(st.length, n, S, B, bits);
  if (!own) {
    const memory = new WebAssembly.Memory({ initial: 8 });
    own = { e: instantiate(memory), memory, tab: 0, maxBlock: 0, raw: 0 };
    fillTables(own);
  }
  const n4 = 4 * Math.ceil(n / 4);
  const pP = (areaBytes(own.e, B) + 15) & ~15;
  const pG = pP + 4 * n4;
  const pSt = pG + 4 * n4;
  const need = pSt + 4 * st.length;
  const have = own.memory.buffer.byteLength;
  // Growing keeps the tables; the scratch after them and the data move with B.
  if (need > have) own.memory.grow(Math.ceil((need - have) / 65536));
  const buf = own.memory.buffer;
  const pv = new Float32Array(buf, pP, n4);
  pv.set(p);
  pv.fill(0, n);
  const gv = new Float32Array(buf, pG, n4);
  gv.set(grad);
  gv.fill(0, n);
  const sv = new Int32Array(buf, pSt, st.length);
  sv.set(st);
  const cs = codeBytes(n, bits);
  const codes = new Uint8Array(buf, pSt, S * cs);
  if (bits === 8) {
    // Padded lanes: p = g = 0 and the code of 0.0, so their states stay exactly 0.
    for (let s = 0; s < S; s++) codes.fill(zeroCodes[s]!, s * n4 + n, (s + 1) * n4);
  } else {
    // 4-bit codes of the padded lanes (n4 / 2 <= cs bytes: they fit in the state's own words).
    for (let s = 0; s < S; s++) {
      const z = S === 2 ? zeroCodes4[s]! : zeroCodes4[0];
      for (let i = n; i < n4; i++) codes[s * cs + (i >> 1)]! |= i & 1 ? z << 4 : z;
    }
  }
  run(own, a, n4, pP, pP, pG, pSt, pSt, cs);
  lastFused8bitPath.path = 'copy';
  if (bits === 8) for (let s = 0; s < S; s++) codes.fill(0, s * n4 + n, (s + 1) * n4);
  else for (let s = 0; s < S; s++) for (let i = n; i < n4; i++) codes[s * cs + (i >> 1)]! &= i & 1 ? 0x0f : 0xf0;
  let outP = new Float32Array(buf, pP, n);
  let outS = sv;
  if (tf.getBackend() !== 'wasm') {
    outP = outP.slice();
    outS = outS.slice();
  }
  return [
    { data: outP, shape: [n], dtype: 'float32' },
    { data: outS, shape: [outS.length], dtype: 'int32' },
  ];
}

type Info = tf.TensorInfo;

/** The parts of the tfjs wasm backend the in-heap path uses. */
interface WasmBackend {
  wasm?: {
    HEAPU8?: Uint8Array;
    asm?: { memory?: unknown };
    wasmMemory?: unknown;
    _malloc?: (n: number) => number;
    _free?: (p: number) => void;
  };
  typedArrayFromHeap(t: Info): Float32Array | Int32Array | Uint8Array;
  makeOutput(shape: number[], dtype: string): Info;
  refCount?(dataId: Info['dataId']): number;
  incRef?(dataId: Info['dataId']): void;
}

/**
 * @internal The output `t`'s own memory can take, when nothing but the tensor being updated holds it (the
 * variable or state slot alone: a reshape or the initial value of a variable still alive, which
 * share it, raise the count), else a fresh one. Writing in place spares the wasm heap a large free
 * and allocation per tensor and step: tfjs-wasm's allocator hands such a block back as fresh
 * pages, which the OS then faults in one by one (about 1,000 faults per 4 MB, 40% of AdamW8bit's
 * step at 10M parameters).
 */
export function outputFor(
  b: Pick<WasmBackend, 'makeOutput' | 'refCount' | 'incRef'>,
  t: Info,
  shape: number[],
  dtype: 'float32' | 'int32',
  allowed: boolean,
): Info {
  if (allowed && b.refCount && b.incRef && b.refCount(t.dataId) === 1) {
    b.incRef(t.dataId);
    // tfjs-wasm caches XNNPACK's packed copy of a matmul's right operand by tensor id: the memory
    // about to change gets a new id, else the next matMul(x, w) would use the old weights.
    refreshWasmTensor(t, b as unknown as tf.KernelBackend);
    return { dataId: t.dataId, shape, dtype };
  }
  return b.makeOutput(shape, dtype);
}

/** The module instantiated on the tfjs wasm backend's own memory, or null where that is not possible. */
function heapEngine(b: WasmBackend, B: number): Engine | null {
  const w = b.wasm;
  const memory = w?.asm?.memory ?? w?.wasmMemory;
  if (!w || !(memory instanceof WebAssembly.Memory) || memory.buffer !== w.HEAPU8?.buffer || !w._malloc || !w._free)
    return null;
  let g = onHeap.get(memory);
  if (g === undefined) {
    try {
      // A shared (threaded) heap does not match the module's unshared memory import: null.
      g = { e: instantiate(memory), memory, tab: 0, maxBlock: 0, raw: 0 };
    } catch {
      g = null;
    }
    onHeap.set(memory, g);
  }
  if (g && B > g.maxBlock) {
    if (g.raw) w._free(g.raw);
    g.raw = w._malloc(areaBytes(g.e, B) + 16);
    g.tab = (g.raw + 15) & ~15;
    g.maxBlock = B;
    fillTables(g);
  }
  return g;
}

/**
 * The wasm backend's kernel function of the fused step: with WebAssembly SIMD and a parameter
 * count divisible by 4, the module runs on the tfjs heap itself (it reads p, g and the state
 * where tfjs keeps them and writes straight into the outputs: no copies); otherwise `compute` runs on views of the heap and its outputs are copied in.
 */
export function fused8bitWasmKernel(
  compute: (inputs: KernelIO[], a: Fused8bitAttrs) => KernelIO[],
  numStates: (a: Fused8bitAttrs) => 1 | 2,
): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const b = backend as unknown as WasmBackend;
    const a = attrs as unknown as Fused8bitAttrs;
    const [p, g, st] = (['p', 'g', 'state'] as const).map((k) => inputs[k] as Info) as [Info, Info, Info];
    const B = a.blockSize;
    const engine = a.n % 4 === 0 && a.impl !== 'js' && wasmSimdSupported() ? heapEngine(b, B) : null;
    if (!engine) {
      const io = (t: Info): KernelIO => ({
        data: b.typedArrayFromHeap(t) as Float32Array | Int32Array,
        shape: [...t.shape],
        dtype: t.dtype === 'int32' ? 'int32' : 'float32',
      });
      return compute([io(p), io(g), io(st)], a).map((o) => {
        const out = b.makeOutput(o.shape, o.dtype);
        (b.typedArrayFromHeap(out) as Float32Array | Int32Array).set(o.data);
        return out;
      });
    }
    const len = st.shape[0]!;
    checkState(len, a.n, numStates(a), B, a.bits);
    // LAMB's first output is its update, not the parameter: never in place of the parameter.
    const outP = outputFor(b, p, [a.n], 'float32', a.algo !== ALGO.lamb && p.dataId !== g.dataId);
    const outS = outputFor(b, st, [len], 'int32', st.dataId !== p.dataId && st.dataId !== g.dataId);
    // Offsets are stable; views are not (the allocations above may have grown the memory).
    const at = (t: Info): number => b.typedArrayFromHeap(t).byteOffset;
    run(engine, a, a.n, at(p), at(outP), at(g), at(st), at(outS), codeBytes(a.n, a.bits));
    lastFused8bitPath.path = 'heap';
    return [outP, outS];
  };
}
