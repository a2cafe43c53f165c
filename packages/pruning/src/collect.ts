import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { accumulateCross, accumulateLayerStats, createLayerStats, type LayerStats } from './calibration.js';
import { checkBoolean, checkNumber, checkOptions } from '@blockwise/tensor';
import { describe } from './matrix.js';
import { inputRows, resolveTargets, type LayerSelector, type TargetLayer } from './targets.js';

/** Options of {@link collectCalibration}. */
export interface CollectOptions {
  /** Layers to collect for; default every Dense and Conv2D layer. */
  layers?: LayerSelector;
  /** Samples per forward pass; default 256 (bounds activation memory). */
  batchSize?: number;
  /** Collect Gram matrices X^T X (default true). */
  gram?: boolean;
  /** Bound on the bytes of all Gram matrices together (8 bytes per entry); default 256 MiB. Over it: an error. */
  maxGramBytes?: number;
  /** Reference inputs per layer name (row-major `[rows, inputDim]`, same rows as the calibration set): collects X^T R as `cross`. @internal */
  reference?: Map<string, Float32Array>;
}

/** Option names of {@link collectCalibration}. @internal */
export const COLLECT_KEYS = ['layers', 'batchSize', 'gram', 'maxGramBytes'] as const;

/**
 * Runs the calibration inputs through the model once (in batches) and collects, for each target
 * Dense or Conv2D layer (Conv2D: over its im2col patches), the statistics of its inputs: squared
 * column norms and the Gram matrix X^T X. Inputs with more than two dimensions are flattened to
 * rows of the layer's input dimension. Reads each batch's layer inputs once, asynchronously (so it
 * runs on WebGPU in Node, where synchronous reads do not exist); statistics accumulate on the host
 * in float64, identical on every backend for identical activations.
 */
export async function collectCalibration(
  model: LayersModel,
  x: tf.Tensor,
  options?: CollectOptions,
): Promise<Map<string, LayerStats>> {
  const opts = checkOptions('collectCalibration', options, COLLECT_KEYS);
  return collectForTargets(model, resolveTargets(model, opts.layers), x, opts);
}

/** Checks a calibration batch size: a positive integer, at most 2^20 rows per forward pass. @internal */
export function checkBatchSize(fn: string, v: unknown): number {
  return checkNumber(`${fn}: batchSize`, v, { integer: true, min: 1, max: 2 ** 20 });
}

/** @internal */
export async function collectForTargets(
  model: LayersModel,
  targets: TargetLayer[],
  x: tf.Tensor,
  opts: CollectOptions = {},
  fn = 'collectCalibration',
  inputChecked = false,
): Promise<Map<string, LayerStats>> {
  checkCalibrationInput(model, x, fn);
  if (!inputChecked) await checkFiniteCalibration(x, fn);
  const batchSize = checkBatchSize(fn, opts.batchSize ?? 256);
  const wantGram = opts.gram === undefined ? true : checkBoolean(`${fn}: gram`, opts.gram);
  const maxGramBytes = checkNumber(`${fn}: maxGramBytes`, opts.maxGramBytes ?? 256 * 2 ** 20, {
    min: 0,
    exclusiveMin: true,
    allowInfinity: true,
  });
  if (wantGram) {
    const bytes = targets.reduce((s, t) => s + 8 * t.inDim * t.inDim, 0);
    if (bytes > maxGramBytes) {
      throw new Error(
        `${fn}: maxGramBytes: the Gram matrices of ${targets.map((t) => `${t.name} (${t.inDim}x${t.inDim})`).join(', ')} need ${bytes} bytes, over the bound ${maxGramBytes}; raise maxGramBytes, collect fewer layers at a time, or use gram: false (norms only, enough for magnitude and Wanda)`,
      );
    }
  }
  const stats = new Map<string, LayerStats>();
  for (const t of targets) stats.set(t.name, createLayerStats(t.inDim, { gram: wantGram }));
  const probe = tfl.model({ inputs: model.inputs, outputs: targets.map((t) => t.layer.input as tfl.SymbolicTensor) });
  const n = x.shape[0]!;
  const offset = new Map<string, number>(); // rows seen so far, per layer (rows per sample differ)
  for (let b = 0; b < n; b += batchSize) {
    const size = Math.min(batchSize, n - b);
    const outs = tf.tidy(() => {
      const xb = tf.slice(x, b, size);
      const o = probe.predict(xb);
      return Array.isArray(o) ? o : [o];
    });
    try {
      for (let k = 0; k < outs.length; k++) {
        const t = targets[k]!;
        const s = stats.get(t.name)!;
        const r = await inputRows(t, outs[k]!);
        const row = offset.get(t.name) ?? 0;
        offset.set(t.name, row + r.rows);
        accumulateLayerStats(s, r.data, r.rows);
        const ref = opts.reference?.get(t.name);
        if (ref) accumulateCross(s, r.data, ref.subarray(row * t.inDim, (row + r.rows) * t.inDim), r.rows);
      }
    } finally {
      tf.dispose(outs);
    }
  }
  return stats;
}

/** Throws a clear error when the calibration inputs do not fit the model's input shape. @internal */
export function checkCalibrationInput(model: LayersModel, x: tf.Tensor, fn = 'collectCalibration'): void {
  if (!(x instanceof tf.Tensor))
    throw new Error(`${fn}: calibration must be a tf.Tensor of model inputs, got ${describe(x)}`);
  if (model.inputs.length !== 1)
    throw new Error(
      `${fn}: calibration: models with ${model.inputs.length} inputs are not supported (one input expected)`,
    );
  const want = model.inputs[0]!.shape;
  const ok = x.shape.length === want.length && want.every((d, i) => i === 0 || d === null || d === x.shape[i]);
  if (!ok || x.shape[0] === 0) {
    throw new Error(
      `${fn}: calibration must have shape [n, ${want.slice(1).join(', ')}] with n >= 1 to match the model input, got [${x.shape.join(', ')}]`,
    );
  }
  if (x.dtype !== 'float32') throw new Error(`${fn}: calibration must be float32, got ${x.dtype}`);
}

/**
 * Throws unless every calibration value is finite (one read of a flag). Checked on the input itself:
 * the model's outputs may hide a NaN (wasm's relu maps NaN to 0). @internal
 */
export async function checkFiniteCalibration(x: tf.Tensor, fn: string): Promise<void> {
  const flag = tf.tidy(() => tf.all(tf.isFinite(x)));
  const ok = (await flag.data())[0];
  flag.dispose();
  if (!ok)
    throw new RangeError(`${fn}: calibration inputs must be finite (they hold NaN or ±Infinity); nothing was pruned`);
}

/** The inputs of each target layer on `x`, row-major `[rows, inputDim]` (rows = samples x positions); one read per batch and layer. @internal */
export async function layerInputs(
  model: LayersModel,
  targets: TargetLayer[],
  x: tf.Tensor,
  batchSize: number,
): Promise<Map<string, Float32Array>> {
  const probe = tfl.model({ inputs: model.inputs, outputs: targets.map((t) => t.layer.input as tfl.SymbolicTensor) });
  const parts = targets.map(() => [] as Float32Array[]);
  for (let b = 0; b < x.shape[0]!; b += batchSize) {
    const outs = tf.tidy(() => {
      const o = probe.predict(tf.slice(x, b, Math.min(batchSize, x.shape[0]! - b)));
      return Array.isArray(o) ? o : [o];
    });
    try {
      for (let k = 0; k < outs.length; k++)
        parts[k]!.push(Float32Array.from((await inputRows(targets[k]!, outs[k]!)).data));
    } finally {
      tf.dispose(outs);
    }
  }
  const out = new Map<string, Float32Array>();
  targets.forEach((t, k) => {
    const list = parts[k]!;
    const all = new Float32Array(list.reduce((s, a) => s + a.length, 0));
    let o = 0;
    for (const a of list) {
      all.set(a, o);
      o += a.length;
    }
    out.set(t.name, all);
  });
  return out;
}
