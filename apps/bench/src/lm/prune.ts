import {
  accumulateLayerStats,
  applyMask,
  createLayerStats,
  icbsPrune,
  inputNorms,
  layerHessian,
  wandaMask,
  weightMatrix,
  type LayerStats,
} from '@blockwise/pruning';
import * as tf from '@tensorflow/tfjs-core';
import { lmForward, type LmWeights } from './model.js';
import { causalMask } from './train.js';

/** The MLP matrices of a model by name (the layers pruning targets). */
export function mlpMatrices(w: LmWeights): Map<string, tf.Variable> {
  const m = new Map<string, tf.Variable>();
  w.blocks.forEach((b, l) => {
    m.set(`block${l}/mlp/fc1/kernel`, b.w1);
    m.set(`block${l}/mlp/fc2/kernel`, b.w2);
  });
  return m;
}

/**
 * Runs calibration windows through the model once, collecting each MLP matrix's input statistics
 * (inputs are read back asynchronously, once per batch of windows and matrix).
 */
export async function calibrate(
  w: LmWeights,
  x: Int32Array,
  windows: number,
  len: number,
): Promise<Map<string, LayerStats>> {
  const stats = new Map<string, LayerStats>();
  const per = 8;
  for (let i = 0; i < windows; i += per) {
    const n = Math.min(per, windows - i);
    const inputs: [string, tf.Tensor2D][] = [];
    tf.tidy(() => {
      lmForward(
        w,
        tf.tensor2d(x.subarray(i * len, (i + n) * len), [n, len], 'int32'),
        causalMask(len),
        undefined,
        (name, x2d) => {
          inputs.push([name, tf.keep(x2d)]);
        },
      );
    });
    for (const [name, x2d] of inputs) {
      const [rows, cols] = x2d.shape;
      let s = stats.get(name);
      if (!s) stats.set(name, (s = createLayerStats(cols, { gram: true })));
      accumulateLayerStats(s, (await x2d.data()) as Float32Array, rows);
      x2d.dispose();
    }
  }
  return stats;
}

/** Per-matrix masks (1 = kept) from Wanda, or Wanda refined by iCBS for `icbsSteps` steps. */
export async function pruneMlp(
  w: LmWeights,
  stats: Map<string, LayerStats>,
  density: number,
  icbsSteps: number,
  seed: number,
): Promise<Map<string, { mask: Uint8Array; objectiveBefore?: number; objectiveAfter?: number }>> {
  const out = new Map<string, { mask: Uint8Array; objectiveBefore?: number; objectiveAfter?: number }>();
  for (const [name, v] of mlpMatrices(w)) {
    const [inDim, outDim] = v.shape as [number, number];
    const wm = weightMatrix((await v.data()) as Float32Array, inDim, outDim);
    const s = stats.get(name)!;
    const wanda = wandaMask(wm, inputNorms(s), { density });
    if (icbsSteps <= 0) {
      out.set(name, { mask: wanda });
      continue;
    }
    const r = icbsPrune(wm, { initialMask: wanda, hessian: layerHessian(s), steps: icbsSteps, seed });
    out.set(name, { mask: r.mask, objectiveBefore: r.initialObjective, objectiveAfter: r.objective });
  }
  return out;
}

/** Runs `fn` with the masks applied to the model's weights, then restores them. */
export async function withMasks<T>(
  w: LmWeights,
  masks: Map<string, { mask: Uint8Array }>,
  fn: () => Promise<T>,
): Promise<T> {
  const saved = new Map<tf.Variable, tf.Tensor>();
  for (const [name, v] of mlpMatrices(w)) {
    const m = masks.get(name);
    if (!m) continue;
    saved.set(v, tf.clone(v));
    const [inDim, outDim] = v.shape as [number, number];
    const masked = tf.tensor2d(applyMask(weightMatrix((await v.data()) as Float32Array, inDim, outDim), m.mask), [
      inDim,
      outDim,
    ]);
    v.assign(masked);
    masked.dispose();
  }
  try {
    return await fn();
  } finally {
    for (const [v, t] of saved) {
      v.assign(t);
      t.dispose();
    }
  }
}
