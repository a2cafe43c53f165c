import * as tf from '@tensorflow/tfjs-core';
import { defineKernel, type KernelIO } from '@blockwise/tensor';
import { applyRange, laneNorms, normsRange, trust, type Fused32Arrays } from './fused32Rules.js';
import { outputFor } from './fused8bitSimd.js';
import { fused32Wgsl, NORM_CHUNK, normPartsWgsl, normSumsWgsl } from './fused32Wgsl.js';
import {
  hasNorms,
  MAX_CONSTANTS,
  packConstants,
  RULE32,
  RULE32_CONSTANTS,
  RULE32_SLOTS,
  rule32Name,
  type KernelChoice,
  type KernelName,
  type Rule32Constants,
  type Rule32Name,
} from './kernelDefs.js';
import { FUSED32_WASM_BASE64 } from './wasm/fused32Wasm.js';

/**
 * Attributes of one fused float32 step (numbers and a string, so they pass through tfjs attrs).
 * `k` holds the rule's constants in `RULE32_CONSTANTS` order; for LARS and LAMB the kernel fills
 * `scale` itself from the norms of its first pass.
 */
export interface Fused32Attrs {
  rule: number;
  n: number;
  k: number[];
  impl: KernelChoice;
  /** LARS / LAMB: 1 to scale by the trust ratio, 0 for the plain learning rate. */
  adapt: number;
  /** LARS / LAMB: learning rate, trust coefficient and the epsilon added to the update norm. */
  lr: number;
  eta: number;
  trustEps: number;
}

interface Exports {
  apply: (
    rule: number,
    n4: number,
    p: number,
    g: number,
    s0: number,
    s1: number,
    op: number,
    o0: number,
    o1: number,
    k: number,
  ) => void;
  norms: (
    rule: number,
    n4: number,
    p: number,
    g: number,
    s0: number,
    s1: number,
    op: number,
    o0: number,
    o1: number,
    k: number,
  ) => void;
  RULE_ADAM: WebAssembly.Global;
  RULE_MOMENTUM: WebAssembly.Global;
  RULE_LION: WebAssembly.Global;
  RULE_LARS: WebAssembly.Global;
  RULE_LAMB: WebAssembly.Global;
  RULE_TRUST: WebAssembly.Global;
  NORMS_OFFSET: WebAssembly.Global;
}

/** Bytes of the constant area: the constants, then 8 float64 norm lanes. */
const AREA_BYTES = 4 * MAX_CONSTANTS + 64;

let compiled: WebAssembly.Module | undefined;
let supported: boolean | undefined;

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const s = atob(FUSED32_WASM_BASE64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** True when this engine validates the float32 SIMD module (WebAssembly with 128-bit SIMD). */
export function fused32SimdSupported(): boolean {
  if (supported === undefined) {
    try {
      supported = typeof WebAssembly === 'object' && WebAssembly.validate(moduleBytes());
    } catch {
      supported = false;
    }
  }
  return supported;
}

/** @internal The module's exports on a fresh memory (tests compare its rule ids with `RULE32`). */
export function instantiateFused32(memory: WebAssembly.Memory): Exports {
  compiled ??= new WebAssembly.Module(moduleBytes());
  return new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as Exports;
}

/** One instance on one memory with its constant area at `k`. */
interface Engine {
  e: Exports;
  memory: WebAssembly.Memory;
  k: number;
}

/** Pointers of one call's arrays in an engine's memory. */
interface Ptrs {
  p: number;
  g: number;
  s0: number;
  s1: number;
  op: number;
  o0: number;
  o1: number;
}

const onHeap = new WeakMap<WebAssembly.Memory, Engine | null>();
let own: Engine | undefined;
const lanes = new Float64Array(8);

/** Where the last fused float32 step ran (read by the optimizer right after the call). */
export const lastFused32Kernel = { kernel: 'js' as KernelName };

/** The SIMD module's part of a step: the first n4 elements in `engine`'s memory. */
interface SimdPart {
  engine: Engine;
  ptrs: Ptrs;
  n4: number;
}

function callSimd(part: SimdPart, fn: 'apply' | 'norms', rule: number, k: Float32Array): void {
  const { engine, ptrs: q, n4 } = part;
  new Float32Array(engine.memory.buffer, engine.k, MAX_CONSTANTS).set(k);
  engine.e[fn](rule, n4, q.p, q.g, q.s0, q.s1, q.op, q.o0, q.o1, engine.k);
}

/**
 * One step over the arrays: the SIMD module on the first `simd.n4` elements (when given), the
 * reference on the rest; for LARS and LAMB a first pass for the norms, the trust ratio, then
 * the second pass. The arrays and the module's memory are the same bytes on the in-heap path.
 */
function runStep(a: Fused32Attrs, x: Fused32Arrays, simd: SimdPart | null): void {
  const rule = rule32Name(a.rule);
  const k = new Float32Array(MAX_CONSTANTS);
  k.set(a.k);
  const n4 = simd ? simd.n4 : 0;
  if (hasNorms(rule)) {
    lanes.fill(0);
    if (simd && n4 > 0) {
      callSimd(simd, 'norms', a.rule, k);
      lanes.set(new Float64Array(simd.engine.memory.buffer, simd.engine.k + 4 * MAX_CONSTANTS, 8));
    }
    normsRange(rule as 'lars' | 'lamb' | 'trust', k, x, n4, a.n, lanes);
    const [wNorm, uNorm] = laneNorms(lanes);
    const scaleAt = (RULE32_CONSTANTS[rule] as readonly string[]).indexOf('scale');
    k[scaleAt] = a.adapt ? a.lr * trust(wNorm, uNorm, a.eta, a.trustEps) : a.lr;
  }
  if (simd && n4 > 0) callSimd(simd, 'apply', a.rule, k);
  applyRange(rule, k, x, n4, a.n);
}

const numStates = (a: Fused32Attrs): number => RULE32_SLOTS[rule32Name(a.rule)].length;
/** The output arrays a rule does not write. */
const NONE = new Float32Array(0);

/** The step on the module's own memory: copies in, runs every element, returns copies. */
function simdOnCopies(ins: Float32Array[], a: Fused32Attrs): Float32Array[] {
  const n = a.n;
  const n4 = 4 * Math.ceil(n / 4);
  if (!own) {
    const memory = new WebAssembly.Memory({ initial: 1 });
    own = { e: instantiateFused32(memory), memory, k: 0 };
  }
  const need = AREA_BYTES + 7 * 4 * n4;
  const have = own.memory.buffer.byteLength;
  if (need > have) own.memory.grow(Math.ceil((need - have) / 65536));
  const at = (i: number): number => AREA_BYTES + i * 4 * n4;
  const ptrs: Ptrs = { p: at(0), g: at(1), s0: at(2), s1: at(3), op: at(4), o0: at(5), o1: at(6) };
  const buf = own.memory.buffer;
  const view = (ptr: number): Float32Array => new Float32Array(buf, ptr, n4);
  // Padding lanes are zeros: finite, and zero squares leave the norms alone.
  [ptrs.p, ptrs.g, ptrs.s0, ptrs.s1].forEach((ptr, i) => {
    const v = view(ptr);
    v.set(ins[i]!);
    v.fill(0, n);
  });
  const x: Fused32Arrays = {
    p: view(ptrs.p),
    g: view(ptrs.g),
    s0: view(ptrs.s0),
    s1: view(ptrs.s1),
    op: view(ptrs.op),
    o0: view(ptrs.o0),
    o1: view(ptrs.o1),
  };
  runStep({ ...a, n: n4 }, x, { engine: own, ptrs, n4 });
  return [x.op, x.o0, x.o1].slice(0, 1 + numStates(a)).map((o) => o.slice(0, n));
}

/** The cpu backend's step: the typed-array reference (or the SIMD module on copies when asked). */
function computeCpu(inputs: KernelIO[], a: Fused32Attrs): KernelIO[] {
  const S = numStates(a);
  const ins = inputs.map((t) => t.data as Float32Array);
  let outs: Float32Array[];
  if (a.impl === 'simd') {
    outs = simdOnCopies([ins[0]!, ins[1]!, ins[2]!, ins[S === 2 ? 3 : 2]!], a);
    lastFused32Kernel.kernel = 'wasm-simd';
  } else {
    const x: Fused32Arrays = {
      p: ins[0]!,
      g: ins[1]!,
      s0: ins[2]!,
      s1: ins[3]!,
      op: new Float32Array(a.n),
      o0: S >= 1 ? new Float32Array(a.n) : NONE,
      o1: S === 2 ? new Float32Array(a.n) : NONE,
    };
    runStep(a, x, null);
    outs = [x.op, x.o0, x.o1].slice(0, 1 + S);
    lastFused32Kernel.kernel = 'js';
  }
  return outs.map((data) => ({ data, shape: [a.n], dtype: 'float32' as const }));
}

type Info = tf.TensorInfo;

/** The parts of the tfjs wasm backend the in-heap path uses. */
interface WasmBackend {
  wasm?: { HEAPU8?: Uint8Array; asm?: { memory?: unknown }; wasmMemory?: unknown; _malloc?: (n: number) => number };
  typedArrayFromHeap(t: Info): Float32Array | Int32Array | Uint8Array;
  makeOutput(shape: number[], dtype: string): Info;
  refCount?(dataId: Info['dataId']): number;
  incRef?(dataId: Info['dataId']): void;
}

/** The module on the tfjs wasm backend's own memory, or null (no SIMD, a shared threaded heap). */
function heapEngine(b: WasmBackend): Engine | null {
  const w = b.wasm;
  const memory = w?.asm?.memory ?? w?.wasmMemory;
  if (
    !w ||
    !(memory instanceof WebAssembly.Memory) ||
    memory.buffer !== w.HEAPU8?.buffer ||
    !w._malloc ||
    !fused32SimdSupported()
  )
    return null;
  let engine = onHeap.get(memory);
  if (engine === undefined) {
    try {
      // One small allocation per heap for the constants, kept for the process.
      const raw = w._malloc(AREA_BYTES + 16);
      engine = { e: instantiateFused32(memory), memory, k: (raw + 15) & ~15 };
    } catch {
      engine = null;
    }
    onHeap.set(memory, engine);
  }
  return engine;
}

/**
 * The wasm backend's kernel function: the outputs are allocated on the tfjs heap and the SIMD
 * module reads and writes there directly (no copies); the reference runs on heap views for the
 * last n % 4 elements, or for all of them with `impl: 'js'` or without SIMD.
 */
const wasmKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as unknown as WasmBackend;
  const a = attrs as unknown as Fused32Attrs;
  const S = numStates(a);
  const p = inputs.p as Info;
  const g = inputs.g as Info;
  const s0 = inputs.s0 as Info;
  const s1 = (S === 2 ? inputs.s1 : inputs.s0) as Info;
  // In place of the parameter and states where nothing else holds their memory (see `outputFor`):
  // every rule reads an element before writing it. Not LARS and LAMB, whose update pass reads
  // the old states again after the norms pass.
  const inPlace = a.rule !== RULE32.lars && a.rule !== RULE32.lamb;
  const outs = [p, s0, s1]
    .slice(0, 1 + S)
    .map((t, i) =>
      outputFor(
        b,
        t,
        [a.n],
        'float32',
        inPlace && t.dataId !== g.dataId && (i === 0 || (t.dataId !== p.dataId && (i === 1 || t.dataId !== s0.dataId))),
      ),
    );
  const engine = a.impl === 'js' ? null : heapEngine(b);
  if (a.impl === 'simd' && !engine) {
    // A heap the module cannot import (threaded build): the module on copies.
    const res = simdOnCopies(
      [p, g, s0, s1].map((t) => b.typedArrayFromHeap(t) as Float32Array),
      a,
    );
    outs.forEach((o, i) => (b.typedArrayFromHeap(o) as Float32Array).set(res[i]!));
    lastFused32Kernel.kernel = 'wasm-simd';
    return outs;
  }
  // Views after every allocation: an allocation may have grown (and detached) the heap.
  const view = (t: Info): Float32Array => b.typedArrayFromHeap(t) as Float32Array;
  // Rules with fewer states point the unused outputs at the parameter output (never written).
  const x: Fused32Arrays = {
    p: view(p),
    g: view(g),
    s0: view(s0),
    s1: view(s1),
    op: view(outs[0]!),
    o0: view(outs[Math.min(1, S)]!),
    o1: view(outs[S]!),
  };
  const simd = engine
    ? {
        engine,
        n4: a.n & ~3,
        ptrs: {
          p: x.p.byteOffset,
          g: x.g.byteOffset,
          s0: x.s0.byteOffset,
          s1: x.s1.byteOffset,
          op: x.op.byteOffset,
          o0: x.o0.byteOffset,
          o1: x.o1.byteOffset,
        },
      }
    : null;
  runStep(a, x, simd);
  lastFused32Kernel.kernel = engine ? 'wasm-simd' : 'js';
  return outs;
};

// Registered before `defineKernel`, which keeps a kernel already registered for a backend.
if (!tf.getKernel('BlockwiseFused32Step', 'wasm')) {
  tf.registerKernel({ kernelName: 'BlockwiseFused32Step', backendName: 'wasm', kernelFunc: wasmKernel });
}

const fusedOp = defineKernel<Fused32Attrs>({
  name: 'BlockwiseFused32Step',
  // `norms` (the two sums of squares) is read only by the WGSL programs.
  inputNames: ['p', 'g', 's0', 's1', 'norms'],
  compute: computeCpu,
  webgpu: (_inputs, a) => fused32Wgsl(a),
});

/** WebGPU's first pass: scaled sums of squares per chunk (typed-array version: max and plain sums, for completeness). */
const normPartsOp = defineKernel<Fused32Attrs>({
  name: 'BlockwiseFused32NormParts',
  inputNames: ['p', 'g', 's0', 's1'],
  compute: (inputs, a) => {
    const [p, g, s0, s1] = inputs.map((t) => t.data as Float32Array) as [
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    const chunks = Math.ceil(a.n / NORM_CHUNK);
    const out = new Float32Array(4 * chunks);
    const x: Fused32Arrays = {
      p,
      g,
      s0,
      s1,
      op: new Float32Array(a.n),
      o0: new Float32Array(a.n),
      o1: new Float32Array(a.n),
    };
    const part = new Float64Array(8);
    for (let c = 0; c < chunks; c++) {
      part.fill(0);
      normsRange(
        rule32Name(a.rule) as 'lars' | 'lamb' | 'trust',
        a.k,
        x,
        c * NORM_CHUNK,
        Math.min(a.n, (c + 1) * NORM_CHUNK),
        part,
      );
      const [w, u] = laneNorms(part);
      // With max = norm, sum (x / max)^2 is 1: the norms program recombines it to the same norm.
      out[c] = w;
      out[chunks + c] = w > 0 ? 1 : 0;
      out[2 * chunks + c] = u;
      out[3 * chunks + c] = u > 0 ? 1 : 0;
    }
    return { data: out, shape: [out.length], dtype: 'float32' };
  },
  webgpu: (_inputs, a) => normPartsWgsl(a),
});

/** WebGPU's second pass: the two norms from the partial sums. */
const normSumsOp = defineKernel<{ chunks: number }>({
  name: 'BlockwiseFused32NormSums',
  inputNames: ['parts'],
  compute: (inputs, a) => {
    const d = inputs[0]!.data;
    const norm = (base: number): number => {
      let m = 0;
      for (let c = 0; c < a.chunks; c++) m = Math.max(m, d[base + c]!);
      if (m === 0) return 0;
      let s = 0;
      for (let c = 0; c < a.chunks; c++) s += (d[base + c]! / m) ** 2 * d[base + a.chunks + c]!;
      return m * Math.sqrt(s);
    };
    return { data: Float32Array.of(norm(0), norm(2 * a.chunks)), shape: [2], dtype: 'float32' };
  },
  webgpu: (_inputs, a) => normSumsWgsl(a.chunks),
});

/** Backends with a fused float32 kernel (elsewhere the optimizers use tfjs ops). */
export function fused32Available(backend: string): boolean {
  return backend === 'cpu' || backend === 'wasm' || backend === 'webgpu';
}

/** What a step of a rule needs besides its constants. */
export interface Fused32Call<R extends Rule32Name> {
  rule: R;
  constants: Omit<Rule32Constants<R>, 'scale'>;
  impl: KernelChoice;
  /** LARS / LAMB: trust ratio on (1) or off (0), learning rate, trust eta and epsilon. */
  adapt?: boolean;
  lr?: number;
  eta?: number;
  trustEps?: number;
}

/**
 * One fused step of a float32-state rule on a variable: reads the parameter, gradient and
 * states once (LARS and LAMB: twice, the first pass for the norms) and assigns the new values.
 * Returns which implementation ran.
 */
export function fused32Step<R extends Rule32Name>(
  p: tf.Variable,
  grad: tf.Tensor,
  states: tf.Variable[],
  call: Fused32Call<R>,
): KernelName {
  const n = p.size;
  const k = packConstants(call.rule, { scale: 0, ...call.constants } as Rule32Constants<R>);
  const attrs: Fused32Attrs = {
    rule: RULE32[call.rule],
    n,
    k,
    impl: call.impl,
    adapt: call.adapt ? 1 : 0,
    lr: call.lr ?? 0,
    eta: call.eta ?? 1,
    trustEps: call.trustEps ?? 0,
  };
  return tf.tidy(() => {
    // On wasm the tensors go in as they are (the kernel reads n from its attributes): a reshaped
    // view would share their memory and keep the kernel from updating them in place.
    const wasm = tf.getBackend() === 'wasm';
    const flat = (t: tf.Tensor): tf.Tensor => (t.rank === 1 || wasm ? t : tf.reshape(t, [n]));
    const g = flat(grad);
    // Rules without a state (trust) pass the gradient in the unused state inputs.
    const s0 = states[0] ? flat(states[0]) : g;
    const pf = flat(p);
    const s1 = states[1] ? flat(states[1]) : s0;
    const gpu = tf.getBackend() === 'webgpu';
    // WebGPU: the sums of squares in two small programs first, all on the device.
    const parts = (): tf.Tensor => normPartsOp({ p: pf, g, s0, s1 }, attrs) as tf.Tensor;
    const norms =
      gpu && hasNorms(call.rule)
        ? (normSumsOp({ parts: parts() }, { chunks: Math.ceil(n / NORM_CHUNK) }) as tf.Tensor)
        : s0;
    if (gpu) lastFused32Kernel.kernel = 'wgsl';
    const res = fusedOp({ p: pf, g, s0, s1, norms }, attrs);
    // One output (no state) comes back as a tensor, not a list.
    const out = Array.isArray(res) ? res : [res];
    const kernel = lastFused32Kernel.kernel;
    p.assign(tf.reshape(out[0]!, p.shape));
    states.forEach((s, i) => s.assign(tf.reshape(out[i + 1]!, s.shape)));
    return kernel;
  });
}
