import * as tf from '@tensorflow/tfjs-core';
import { checkBoolean, checkNumber, checkOptions, createRng, describeValue, type Rng } from '@blockwise/tensor';
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
  checkNumber('otCoupling: d', d, { integer: true, min: 1 });
  if (x0.length !== x1.length)
    throw new Error(`x0 and x1 must have the same length, got ${x0.length} and ${x1.length}`);
  const n = x0.length / d;
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`lengths must be a positive multiple of d = ${d}, got ${x0.length}`);
  if (n > 1024)
    throw new Error(`otCoupling solves an exact O(n^3) assignment; use batches of at most 1024 rows, got ${n}`);
  // Rows of the cost are data rows, columns noise rows: data row i gets noise colOfRow[i].
  const { colOfRow } = linearAssignment(squaredDistances(x1, x0, d), n);
  const out = new Float32Array(x0.length);
  for (let i = 0; i < n; i++) out.set(x0.subarray(colOfRow[i]! * d, (colOfRow[i]! + 1) * d), i * d);
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
  checkNumber('drawFlowBatch: dim', dim, { integer: true, min: 1 });
  checkNumber('drawFlowBatch: batchSize', batchSize, { integer: true, min: 1, max: MAX_BATCH });
  const rowsN = data.length / dim;
  if (!Number.isInteger(rowsN) || rowsN < 1)
    throw new Error(`data must hold a positive multiple of dim = ${dim} values, got ${data.length}`);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
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

/** Training's read-back plan: which steps read their loss back, and which are logged. */
export function trainingReads(
  steps: number,
  logEvery = 50,
  syncEvery = 10,
): { reads: (s: number) => boolean; logs: (s: number) => boolean } {
  const logs = (s: number): boolean => s % logEvery === 0 || s === steps - 1;
  return { logs, reads: (s) => logs(s) || (s + 1) % syncEvery === 0 };
}

/** Largest `steps` of a training call: a bound, so that a typo (1e12) fails at once. */
const MAX_TRAIN_STEPS = 1e8;
/** Largest rows per training step (a batch lives on the host and the device at once). */
const MAX_BATCH = 1 << 20;

/** The options both training loops share, validated. @internal */
export interface LoopOptions {
  steps: number;
  batchSize: number;
  learningRate: number;
  optimizer?: tf.Optimizer;
  seed: number;
  logEvery: number;
  syncEvery: number;
  onLog?: (step: number, loss: number) => void;
}

/**
 * Validates the options `trainFlowMatching` and `BlockwiseFlow.train` share, and their data
 * (finite values, a whole number of rows of `dim`). @internal
 */
export function checkLoopOptions(
  what: string,
  opts: TrainOptions | BlockwiseTrainOptionsLike,
  dim: number,
): LoopOptions {
  const num = (name: string, v: unknown, dflt: number, c: Parameters<typeof checkNumber>[2]): number =>
    v === undefined ? dflt : checkNumber(`${what}: ${name}`, v, c);
  const steps = checkNumber(`${what}: steps`, opts.steps, { integer: true, min: 1, max: MAX_TRAIN_STEPS });
  const batchSize = num('batchSize', opts.batchSize, 256, { integer: true, min: 1, max: MAX_BATCH });
  if (opts.optimizer !== undefined) {
    if (typeof (opts.optimizer as Partial<tf.Optimizer> | null)?.minimize !== 'function')
      throw new Error(`${what}: optimizer must be a tf.Optimizer, got ${describeValue(opts.optimizer)}`);
    if (opts.learningRate !== undefined) {
      throw new Error(
        `${what}: learningRate applies to the default Adam only; set the rate on the optimizer you pass instead`,
      );
    }
  }
  const learningRate = num('learningRate', opts.learningRate, 1e-3, { min: 0, exclusiveMin: true });
  const seed = num('seed', opts.seed, 0, { integer: true });
  const logEvery = num('logEvery', opts.logEvery, 50, { integer: true, min: 1 });
  const syncEvery = num('syncEvery', opts.syncEvery, 10, { integer: true, min: 1 });
  if (opts.onLog !== undefined && typeof opts.onLog !== 'function')
    throw new Error(`${what}: onLog must be a function (step, loss) => void, got ${describeValue(opts.onLog)}`);
  if (opts.ot !== undefined) checkBoolean(`${what}: ot`, opts.ot);
  checkData(what, opts.data, dim);
  if (!opts.path || typeof (opts.path as AffinePath).sample !== 'function') {
    throw new Error(
      `${what}: path must be an AffinePath (from affinePath(scheduler)), got ${describeValue(opts.path)}`,
    );
  }
  return { steps, batchSize, learningRate, optimizer: opts.optimizer, seed, logEvery, syncEvery, onLog: opts.onLog };
}

/** What `checkLoopOptions` reads of `BlockwiseTrainOptions` (declared here to keep the import one-way). */
type BlockwiseTrainOptionsLike = Omit<TrainOptions, 'dim'> & { stratified?: boolean };

/** Throws unless data is a Float32Array of whole rows of dim finite values (NaN data would train the parameters into NaN). */
function checkData(what: string, data: unknown, dim: number): void {
  if (!(data instanceof Float32Array))
    throw new Error(`${what}: data must be a Float32Array [N * dim], got ${describeValue(data)}`);
  if (data.length === 0 || data.length % dim !== 0) {
    throw new Error(`${what}: data must hold a positive multiple of dim = ${dim} values, got ${data.length}`);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]))
      throw new Error(`${what}: data must be finite, got ${data[i]} at index ${i} (row ${Math.floor(i / dim)})`);
  }
}

/**
 * The training loop of `trainFlowMatching` and `BlockwiseFlow.train`: draws a batch, minimizes
 * its loss, reads the loss back on logged steps and every `syncEvery` steps. At each read the
 * parameters are also checked on the device; a non-finite loss or parameter restores them to the
 * last checked finite values (kept as a copy) and throws, so a diverged run leaves no NaN behind.
 * @internal
 */
export async function trainLoop(
  what: string,
  o: LoopOptions,
  vars: tf.Variable[],
  batch: (step: number, rng: Rng) => { loss: () => tf.Scalar; inputs: tf.Tensor[] },
): Promise<number[]> {
  ensureGradients(what);
  const plan = trainingReads(o.steps, o.logEvery, o.syncEvery);
  const rng = createRng(o.seed);
  const optimizer = o.optimizer ?? tf.train.adam(o.learningRate);
  const losses: number[] = [];
  let good = vars.map((v) => v.clone());
  let goodStep = -1;
  try {
    for (let s = 0; s < o.steps; s++) {
      const b = batch(s, rng);
      let cost: tf.Scalar | null;
      try {
        cost = optimizer.minimize(b.loss, plan.reads(s), vars);
      } finally {
        tf.dispose(b.inputs);
      }
      if (!cost) continue;
      const c = cost;
      // One read: the loss and whether every parameter is still finite.
      const probe = tf.tidy(() => tf.stack([c, ...vars.map((v) => tf.cast(tf.all(tf.isFinite(v)), 'float32'))]));
      c.dispose();
      let read: Float32Array;
      try {
        read = (await probe.data()) as Float32Array;
      } finally {
        probe.dispose();
      }
      const loss = read[0]!;
      if (!Number.isFinite(loss) || read.subarray(1).some((ok) => ok !== 1)) {
        vars.forEach((v, i) => v.assign(good[i] as tf.Tensor));
        const restored = goodStep < 0 ? 'their initial values' : `their values after step ${goodStep}`;
        throw new Error(
          `${what}: training diverged: ${Number.isFinite(loss) ? 'a parameter became NaN or Inf' : `loss is ${loss}`} at step ${s}; ` +
            `the parameters were restored to ${restored} (lower learningRate?)`,
        );
      }
      tf.dispose(good);
      good = vars.map((v) => v.clone());
      goodStep = s;
      if (plan.logs(s)) {
        losses.push(loss);
        o.onLog?.(s, loss);
      }
    }
  } finally {
    tf.dispose(good);
    if (!o.optimizer) optimizer.dispose();
  }
  return losses;
}

const TRAIN_KEYS = [
  'data',
  'dim',
  'path',
  'steps',
  'batchSize',
  'learningRate',
  'optimizer',
  'ot',
  'seed',
  'onLog',
  'logEvery',
  'syncEvery',
] as const;

/**
 * Trains a single velocity model with Adam on the flow-matching loss; resolves to the logged
 * losses. The loss is read back (awaited) only on logged steps and every `syncEvery` steps.
 */
export async function trainFlowMatching(model: VelocityModel, options: TrainOptions): Promise<number[]> {
  if (options === undefined)
    throw new Error('trainFlowMatching: options are required ({ data, dim, path, steps, ... })');
  const opts = checkOptions('trainFlowMatching', options, TRAIN_KEYS);
  if (!model || typeof model.predict !== 'function' || !Array.isArray(model.trainableVariables)) {
    throw new Error(
      `trainFlowMatching: model must be a VelocityModel (createVelocityMlp, velocityFromLayersModel), got ${describeValue(model)}`,
    );
  }
  const dim = checkNumber('trainFlowMatching: dim', opts.dim, { integer: true, min: 1, max: MAX_DIM });
  const o = checkLoopOptions('trainFlowMatching', opts, dim);
  const { path } = opts;
  const ot = opts.ot ?? false;
  return trainLoop('trainFlowMatching', o, model.trainableVariables, (_s, rng) => {
    const b = drawFlowBatch(opts.data, dim, o.batchSize, rng, ot);
    const x0 = tf.tensor2d(b.x0, [o.batchSize, dim]);
    const x1 = tf.tensor2d(b.x1, [o.batchSize, dim]);
    return { loss: () => flowMatchingLoss(model, path, x0, x1, b.t), inputs: [x0, x1] };
  });
}

/** Largest state dimension the training and model constructors accept. @internal */
export const MAX_DIM = 1 << 15;
