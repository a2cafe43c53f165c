import * as tf from '@tensorflow/tfjs-core';

/**
 * A faster `BatchMatMul` / `_FusedMatMul` for tfjs-backend-wasm.
 *
 * tfjs-backend-wasm 4.x sends a matmul to XNNPACK only when neither operand is transposed and
 * both have batch size 1; every other case (each backward pass of a matMul uses `transposeA` or
 * `transposeB`; every batched matmul, as in attention) runs a naive blocked triple loop at about
 * 1 GFLOP/s, 10 to 20x slower than XNNPACK (measured here: [1024,128]ᵀ x [1024,128] 21 ms
 * against 2.5 ms with an explicit transpose; 512² with `transposeB` 211 ms against 14 ms; eight
 * batched 256² products 321 ms against 44 ms one at a time).
 *
 * The wrapper registered here keeps tfjs's semantics and changes only the route: a transposed
 * operand is transposed explicitly (the wasm Transpose kernel, one pass over memory), a batched
 * left operand against a shared right one becomes one tall product, and other batched products
 * run one XNNPACK product per batch on zero-copy views into the operands' wasm memory. The
 * results differ from the naive loop only by float32 summation order.
 */

interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
}

/** The parts of tfjs-backend-wasm's BackendWasm this wrapper uses (stable across 4.x). */
interface WasmBackendLike {
  dataIdMap: {
    get(dataId: tf.DataId): WasmTensorData | undefined;
    delete(dataId: tf.DataId): boolean;
  };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  wasm: {
    cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
    tfjs: { disposeData(id: number): void; registerTensor(id: number, size: number, memoryOffset: number): void };
  };
  dataIdNextNumber: number;
}

type MatMulCall = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: boolean,
  transposeB: boolean,
  outId: number,
) => void;

interface Installed {
  batchMatMul: tf.KernelConfig;
  fusedMatMul: tf.KernelConfig;
}

let installed: Installed | undefined;
const wasmCalls = new WeakMap<object, MatMulCall>();

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

const size = (shape: number[]): number => tf.util.sizeFromShape(shape);

/** tfjs-wasm's own exported `BatchMatMul` entry point, bound once per backend instance. */
function matMulCall(backend: WasmBackendLike): MatMulCall {
  let call = wasmCalls.get(backend);
  if (!call) {
    const fn = backend.wasm.cwrap('BatchMatMul', null, [
      'number',
      'array',
      'number',
      'number',
      'array',
      'number',
      'number',
      'number',
      'number',
    ]);
    call = fn as MatMulCall;
    wasmCalls.set(backend, call);
  }
  return call;
}

/** Swaps the last two axes through the wasm Transpose kernel (a new tensor the caller disposes). */
function swapLast(x: tf.TensorInfo, backend: WasmBackendLike, transpose: tf.KernelFunc): tf.TensorInfo {
  const r = x.shape.length;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transpose({
    inputs: { x },
    backend: backend as unknown as tf.KernelBackend,
    attrs: { perm },
  }) as tf.TensorInfo;
}

function dataOf(backend: WasmBackendLike, t: tf.TensorInfo): WasmTensorData {
  const data = backend.dataIdMap.get(t.dataId);
  if (!data) throw new Error('wasm matMul: operand is not on the wasm backend');
  return data;
}

/** A tensor registered on memory owned by `base`, released with `releaseView` (never freed). */
function viewOf(backend: WasmBackendLike, base: tf.TensorInfo, elementOffset: number, shape: number[]): tf.TensorInfo {
  return backend.makeOutput(shape, 'float32', dataOf(backend, base).memoryOffset + 4 * elementOffset);
}

function releaseView(backend: WasmBackendLike, v: tf.TensorInfo): void {
  const data = backend.dataIdMap.get(v.dataId);
  if (!data) return;
  // Unregistering runs tfjs-wasm's disposal callbacks, which drop any XNNPACK operator cached on
  // this id (its packed weights); the memory belongs to the base tensor, so nothing is freed.
  backend.wasm.tfjs.disposeData(data.id);
  backend.dataIdMap.delete(v.dataId);
}

const idOf = (backend: WasmBackendLike, t: tf.TensorInfo): number => dataOf(backend, t).id;

/**
 * Plain products only (no transposes left): one XNNPACK call when both batches are 1 or the
 * right operand is shared, otherwise one call per batch on views. Returns undefined for shapes
 * it leaves to tfjs (empty dimensions, batch broadcasts other than against 1).
 */
function xnnProduct(backend: WasmBackendLike, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo | undefined {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = a.shape[ra - 2]!;
  const k = a.shape[ra - 1]!;
  const n = b.shape[rb - 1]!;
  if (m === 0 || k === 0 || n === 0 || b.shape[rb - 2] !== k) return undefined;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = size(outerA);
  const batchB = size(outerB);
  if (batchA === 0 || batchB === 0) return undefined;
  if (batchA !== batchB && batchB !== 1 && batchA !== 1) return undefined;
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  if (size(outer) !== Math.max(batchA, batchB)) return undefined;
  const call = matMulCall(backend);
  const out = backend.makeOutput([...outer, m, n], 'float32');
  const outId = idOf(backend, out);
  if (batchB === 1) {
    // A shared right operand: the batches of `a` are consecutive rows of one tall matrix.
    const aShape = shapeBytes([1, batchA * m, k]);
    call(idOf(backend, a), aShape, 3, idOf(backend, b), shapeBytes([1, k, n]), 3, false, false, outId);
    return out;
  }
  const aShape = shapeBytes([1, m, k]);
  const bShape = shapeBytes([1, k, n]);
  for (let i = 0; i < batchB; i++) {
    const av = batchA === 1 ? a : viewOf(backend, a, i * m * k, [1, m, k]);
    // A fresh view (a fresh id) per batch: tfjs-wasm caches XNNPACK's packed copy of the right
    // operand by tensor id, so reusing one id for different data would reuse stale weights.
    const bv = viewOf(backend, b, i * k * n, [1, k, n]);
    const ov = viewOf(backend, out, i * m * n, [1, m, n]);
    call(idOf(backend, av), aShape, 3, idOf(backend, bv), bShape, 3, false, false, idOf(backend, ov));
    if (av !== a) releaseView(backend, av);
    releaseView(backend, bv);
    releaseView(backend, ov);
  }
  return out;
}

/**
 * Each XNNPACK call costs about 10 µs of set-up (operator creation, weight packing) and the naive
 * loop about 4 ns per multiply-add (measured on wasm here), so products under ~2,700
 * multiply-adds per call are faster left to tfjs; 4,096 keeps a margin.
 */
const MIN_MACS_PER_CALL = 4096;

function worthRouting(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): boolean {
  const ra = aShape.length;
  const rb = bShape.length;
  const m = transposeA ? aShape[ra - 1]! : aShape[ra - 2]!;
  const k = transposeA ? aShape[ra - 2]! : aShape[ra - 1]!;
  const n = transposeB ? bShape[rb - 2]! : bShape[rb - 1]!;
  const batchA = size(aShape.slice(0, -2));
  const batchB = size(bShape.slice(0, -2));
  // A shared right operand makes one call over all rows; otherwise one call per batch.
  const rowsPerCall = batchB === 1 ? batchA * m : m;
  return rowsPerCall * k * n >= MIN_MACS_PER_CALL;
}

function wrapBatchMatMul(original: tf.KernelConfig, transpose: tf.KernelFunc): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const backend = args.backend as unknown as WasmBackendLike;
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) {
      return original.kernelFunc(args);
    }
    if (!worthRouting(a.shape, b.shape, transposeA, transposeB)) return original.kernelFunc(args);
    const a2 = transposeA ? swapLast(a, backend, transpose) : a;
    const b2 = transposeB ? swapLast(b, backend, transpose) : b;
    try {
      const out = xnnProduct(backend, a2, b2);
      if (out) return out;
      return original.kernelFunc({
        ...args,
        inputs: { a: a2, b: b2 },
        attrs: { transposeA: false, transposeB: false },
      });
    } finally {
      if (a2 !== a) backend.disposeData(a2.dataId);
      if (b2 !== b) backend.disposeData(b2.dataId);
    }
  };
  return { ...original, kernelFunc };
}

/**
 * `_FusedMatMul` (bias, activation) receives rank-3 operands from tfjs-core. Transposes are made
 * explicit, and a shared right operand folds the batch into rows, so tfjs-wasm's own fused
 * kernel takes its XNNPACK path with the bias and activation applied there.
 */
function wrapFusedMatMul(original: tf.KernelConfig, transpose: tf.KernelFunc): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const backend = args.backend as unknown as WasmBackendLike;
    const inputs = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { a, b } = inputs;
    const attrs = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length !== 3 || b.shape.length !== 3) {
      return original.kernelFunc(args);
    }
    if (!worthRouting(a.shape, b.shape, attrs.transposeA, attrs.transposeB)) return original.kernelFunc(args);
    const a2 = attrs.transposeA ? swapLast(a, backend, transpose) : a;
    const b2 = attrs.transposeB ? swapLast(b, backend, transpose) : b;
    try {
      const [batchA, m, k] = a2.shape as [number, number, number];
      const fold = batchA > 1 && b2.shape[0] === 1;
      const aIn = fold ? { ...a2, shape: [1, batchA * m, k] } : a2;
      const out = original.kernelFunc({
        ...args,
        inputs: { ...inputs, a: aIn, b: b2 },
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      }) as tf.TensorInfo;
      if (fold) out.shape = [batchA, m, b2.shape[2]!];
      return out;
    } finally {
      if (a2 !== a) backend.disposeData(a2.dataId);
      if (b2 !== b) backend.disposeData(b2.dataId);
    }
  };
  return { ...original, kernelFunc };
}

/**
 * Routes tfjs-backend-wasm's `BatchMatMul` and `_FusedMatMul` through XNNPACK for transposed and
 * batched operands (see the module comment for the measured gap). Idempotent; `initBackend('wasm')`
 * calls it unless `{ fastMatMul: false }`. Returns false when tfjs-backend-wasm's kernels are not
 * registered (the package is not loaded).
 */
export function installWasmMatMul(): boolean {
  if (installed) return true;
  const batch = tf.getKernel(tf.BatchMatMul, 'wasm');
  const fused = tf.getKernel(tf._FusedMatMul, 'wasm');
  const transpose = tf.getKernel(tf.Transpose, 'wasm');
  if (!batch || !fused || !transpose) return false;
  installed = { batchMatMul: batch, fusedMatMul: fused };
  tf.unregisterKernel(tf.BatchMatMul, 'wasm');
  tf.unregisterKernel(tf._FusedMatMul, 'wasm');
  tf.registerKernel(wrapBatchMatMul(batch, transpose.kernelFunc));
  tf.registerKernel(wrapFusedMatMul(fused, transpose.kernelFunc));
  return true;
}

/** Restores tfjs-backend-wasm's own matmul kernels (for comparisons and tests). */
export function uninstallWasmMatMul(): void {
  if (!installed) return;
  tf.unregisterKernel(tf.BatchMatMul, 'wasm');
  tf.unregisterKernel(tf._FusedMatMul, 'wasm');
  tf.registerKernel(installed.batchMatMul);
  tf.registerKernel(installed.fusedMatMul);
  installed = undefined;
}

/** Whether the XNNPACK routing of `installWasmMatMul` is active. */
export function wasmMatMulInstalled(): boolean {
  return installed !== undefined;
}

/**
 * Call after writing a wasm tensor's memory in place (a fused optimizer step updating a variable
 * without reallocating it). tfjs-backend-wasm caches XNNPACK operators holding a packed copy of a
 * matmul's right operand by tensor id, so a variable changed in place under the same id would be
 * multiplied with its old values by the next `matMul(x, w)`. This re-registers the memory under a
 * new id and unregisters the old one, which drops those operators. No-op on other backends.
 */
export function refreshWasmTensor(t: { dataId: tf.DataId }, backend: tf.KernelBackend = tf.backend()): void {
  const b = backend as unknown as WasmBackendLike;
  if (typeof b.dataIdMap?.get !== 'function' || typeof b.wasm?.tfjs?.registerTensor !== 'function') return;
  const data = b.dataIdMap.get(t.dataId);
  if (!data) return;
  const id = b.dataIdNextNumber++;
  b.wasm.tfjs.registerTensor(id, size(data.shape), data.memoryOffset);
  b.wasm.tfjs.disposeData(data.id);
  data.id = id;
}
