import { accumulateLayerStats, applyMask, createLayerStats, icbsPrune, inputNorms, layerHessian, wandaMask, weightMatrix, type LayerStats } from '@blockwise/pruning';
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

/** Runs calibration windows through the model once, collecting each MLP matrix's input statistics. */
export function calibrate(w: LmWeights, x: Int32Array, windows: number, len: number): Map<string, LayerStats> {
  const stats = new Map<string, LayerStats>();
  const per = 8;
  for (let i = 0; i < windows; i += per) {
    const n = Math.min(per, windows - i);
    tf.tidy(() => {
      lmForward(w, tf.tensor2d(x.subarray(i * len, (i + n) * len), [n, len], 'int32'), causalMask(len), undefined, (name, x2d) => {
        const [rows, cols] = x2d.shape;
        let s = stats.get(name);
        if (!s) stats.set(name, (s = createLayerStats(cols, { gram: true })));
        accumulateLayerStats(s, x2d.dataSync() as Float32Array, rows);
      });
    });
  }
  return stats;
}

/** Per-matrix masks (1 = kept) from Wanda, or Wanda refined by iCBS for `icbsSteps` steps. */
export function pruneMlp(w: LmWeights, stats: Map<string, LayerStats>, density: number, icbsSteps: number, seed: number): Map<string, { mask: Uint8Array; objectiveBefore?: number; objectiveAfter?: number }> {
  const out = new Map<string, { mask: Uint8Array; objectiveBefore?: number; objectiveAfter?: number }>();
  for (const [name, v] of mlpMatrices(w)) {
    const [inDim, outDim] = v.shape as [number, number];
    const wm = weightMatrix(v.dataSync() as Float32Array, inDim, outDim);
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
export function withMasks<T>(w: LmWeights, masks: Map<string, { mask: Uint8Array }>, fn: () => T): T {
  const saved = new Map<tf.Variable, tf.Tensor>();
  for (const [name, v] of mlpMatrices(w)) {
    const m = masks.get(name);
    if (!m) continue;
    saved.set(v, tf.clone(v));
    const [inDim, outDim] = v.shape as [number, number];
    v.assign(tf.tensor2d(applyMask(weightMatrix(v.dataSync() as Float32Array, inDim, outDim), m.mask), [inDim, outDim]));
  }
  try {
    return fn();
  } finally {
    for (const [v, t] of saved) {
      v.assign(t);
      t.dispose();
    }
  }
}
