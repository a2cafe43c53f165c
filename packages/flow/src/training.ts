import * as tf from '@tensorflow/tfjs-core';
import { createRng, type Rng } from '@blockwise/tensor';
import { ensureGradients } from './gradients.js';
import { linearAssignment, squaredDistances } from './assignment.js';
import type { AffinePath } from './path.js';
import type { VelocityModel } from './velocity.js';

/**
 * Flow-matching loss: mean over rows and dimensions of |v(x_t, t, cond) - dx_t|^2, with
 * (x_t, dx_t) from `path.sample(x0, x1, t)` (flow_matching's training objective).
 */
export function flowMatchingLoss(
  model: VelocityModel,
  path: AffinePath,
  x0: tf.Tensor2D,
  x1: tf.Tensor2D,
  t: ArrayLike<number>,
  cond?: tf.Tensor2D,
): tf.Scalar {
  return tf.tidy(() => {
    const { xt, dxt } = path.sample(x0, x1, t);
    const v = model.predict(xt as tf.Tensor2D, tf.tensor1d(Float32Array.from(t)), cond);
    return tf.mean(tf.square(tf.sub(v, dxt))) as tf.Scalar;
  });
}

/**
 * Mini-batch OT coupling (Tong et al. 2023; Pooladian et al. 2023): reorders the noise rows so the
 * pairing with the data rows minimizes the total squared distance (exact assignment). Returns the
 * reordered copy of x0 [n, d].
 */
export function otCoupling(x0: Float32Array, x1: Float32Array, d: number): Float32Array {
  if (x0.length !== x1.length) throw new Error(`x0 and x1 must have the same length, got ${x0.length} and ${x1.length}`);
  const n = x0.length / d;
  if (!Number.isInteger(n) || n < 1) throw new Error(`lengths must be a positive multiple of d = ${d}, got ${x0.length}`);
  if (n > 1024) throw new Error(`otCoupling solves an exact O(n^3) assignment; use batches of at most 1024 rows, got ${n}`);
  // Rows of the cost are data rows, columns noise rows: data row i gets noise colOfRow[i].
  const { colOfRow } = linearAssignment(squaredDistances(x1, x0, d), n);
  const out = new Float32Array(x0.length);
  for (let i = 0; i < n; i++) out.set(x0.subarray((colOfRow[i] as number) * d, ((colOfRow[i] as number) + 1) * d), i * d);
  return out;
}

/** A batch for flow-matching training, on the host. */
export interface FlowBatch {
  x0: Float32Array;
  x1: Float32Array;
  t: Float32Array;
  /** Row indices of the data rows drawn (to look up labels or features). */
  index: Int32Array;
}

/** Draws a batch: data rows with replacement, standard normal noise, t uniform in [0, 1), optional OT pairing. */
export function drawFlowBatch(data: Float32Array, dim: number, batchSize: number, rng: Rng, ot = false): FlowBatch {
  const rowsN = data.length / dim;
  if (!Number.isInteger(rowsN) || rowsN < 1) throw new Error(`data must hold a positive multiple of dim = ${dim} values, got ${data.length}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  const x1 = new Float32Array(batchSize * dim);
  const index = new Int32Array(batchSize);
  for (let i = 0; i < batchSize; i++) {
    const r = rng.int(rowsN);
    index[i] = r;
    x1.set(data.subarray(r * dim, (r + 1) * dim), i * dim);
  }
  let x0 = rng.fillNormal(new Float32Array(batchSize * dim));
  if (ot) x0 = otCoupling(x0, x1, dim);
  const t = rng.fillUniform(new Float32Array(batchSize));
  return { x0, x1, t, index };
}

/** Options of `trainFlowMatching`. */
export interface TrainOptions {
  /** Training data [N, dim], row-major. */
  data: Float32Array;
  dim: number;
  path: AffinePath;
  steps: number;
  batchSize?: number;
  /** Adam learning rate (default 1e-3); ignored when `optimizer` is given. */
  learningRate?: number;
  /**
   * Any tf.Optimizer to train with instead of `tf.train.adam(learningRate)`, e.g. AdamW8bit with a
   * schedule from @blockwise/optimizers; the caller keeps ownership (it is not disposed).
   */
  optimizer?: tf.Optimizer;
  /** Pair noise and data by mini-batch OT (default false). */
  ot?: boolean;
  seed?: number;
  /** Called with the step and its loss every `logEvery` steps. */
  onLog?: (step: number, loss: number) => void;
  /** Steps between logged losses (default 50; the first and last steps are logged too). */
  logEvery?: number;
  /**
   * Steps between waits for the device (default 10): that step's loss is read back (awaited) and
   * checked for NaN. Bounds the work queued ahead of a GPU (an unbounded queue crashed Dawn on a
   * software Vulkan adapter); costs nothing on the cpu and wasm backends.
   */
  syncEvery?: number;
}

/** Training's read-back plan, validated: which steps read their loss back, and which are logged. */
export function trainingReads(steps: number, logEvery = 50, syncEvery = 10): { reads: (s: number) => boolean; logs: (s: number) => boolean } {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(logEvery) || logEvery < 1) throw new Error(`logEvery must be a positive integer, got ${logEvery}`);
  if (!Number.isInteger(syncEvery) || syncEvery < 1) throw new Error(`syncEvery must be a positive integer, got ${syncEvery}`);
  const logs = (s: number): boolean => s % logEvery === 0 || s === steps - 1;
  return { logs, reads: (s) => logs(s) || (s + 1) % syncEvery === 0 };
}

/** Reads a training step's loss back (awaited) and disposes it; throws when it is not finite. */
export async function readLoss(cost: tf.Scalar, step: number): Promise<number> {
  let v: number;
  try {
    v = (await cost.data())[0] as number;
  } finally {
    cost.dispose();
  }
  if (!Number.isFinite(v)) throw new Error(`training diverged: loss is ${v} at step ${step}`);
  return v;
}

/**
 * Trains a single velocity model with Adam on the flow-matching loss; resolves to the logged
 * losses. The loss is read back (awaited) only on logged steps and every `syncEvery` steps.
 */
export async function trainFlowMatching(model: VelocityModel, opts: TrainOptions): Promise<number[]> {
  const { data, dim, path, steps, batchSize = 256, learningRate = 1e-3, ot = false } = opts;
  const plan = trainingReads(steps, opts.logEvery, opts.syncEvery);
  if (!(learningRate > 0)) throw new Error(`learningRate must be a positive number, got ${learningRate}`);
  ensureGradients('trainFlowMatching');
  const rng = createRng(opts.seed ?? 0);
  const optimizer = opts.optimizer ?? tf.train.adam(learningRate);
  const losses: number[] = [];
  try {
    for (let s = 0; s < steps; s++) {
      const b = drawFlowBatch(data, dim, batchSize, rng, ot);
      const x0 = tf.tensor2d(b.x0, [batchSize, dim]);
      const x1 = tf.tensor2d(b.x1, [batchSize, dim]);
      const cost = optimizer.minimize(() => flowMatchingLoss(model, path, x0, x1, b.t), plan.reads(s), model.trainableVariables);
      tf.dispose([x0, x1]);
      if (cost) {
        const v = await readLoss(cost, s);
        if (plan.logs(s)) {
          losses.push(v);
          opts.onLog?.(s, v);
        }
      }
    }
  } finally {
    if (!opts.optimizer) optimizer.dispose();
  }
  return losses;
}
