import { checkBoolean, checkNumber, checkOptions } from '@blockwise/tensor';
import { checkDims, checkSquare, describe } from './matrix.js';

/**
 * Second-order statistics of one layer's inputs over a calibration set: the squared column norms
 * sum_n x_ni^2 and, when it fits the memory bound, the Gram matrix X^T X (the layer-wise Hessian of
 * the reconstruction loss, up to the factor 2/count).
 */
export interface LayerStats {
  /** Input dimension C_in. */
  inputDim: number;
  /** Number of input rows (samples, or samples times positions) accumulated. */
  count: number;
  /** sum over rows of x_i^2, length `inputDim`. */
  sqNorms: Float64Array;
  /** sum over rows of x_i, length `inputDim` (for bias correction). */
  sums: Float64Array;
  /** X^T X, row-major `inputDim x inputDim`, or null when not collected. */
  gram: Float64Array | null;
  /**
   * X^T R for reference inputs R paired row by row with X (e.g. the dense model's inputs of this
   * layer while X comes from the partly pruned model), or absent.
   */
  cross?: Float64Array;
}

/** Options of {@link createLayerStats}. */
export interface LayerStatsOptions {
  /** Collect the Gram matrix (default true). */
  gram?: boolean;
}

/** Creates empty statistics for a layer with `inputDim` inputs. */
export function createLayerStats(inputDim: number, options?: LayerStatsOptions): LayerStats {
  const opts = checkOptions('createLayerStats', options, ['gram']);
  const gram = opts.gram === undefined ? true : checkBoolean('createLayerStats: gram', opts.gram);
  // A Gram matrix of 16384^2 float64 values is 2 GiB: past that, the host cannot hold it.
  checkNumber('createLayerStats: inputDim', inputDim, { integer: true, min: 1, max: gram ? MAX_GRAM_DIM : 2 ** 30 });
  return {
    inputDim,
    count: 0,
    sqNorms: new Float64Array(inputDim),
    sums: new Float64Array(inputDim),
    gram: gram ? new Float64Array(inputDim * inputDim) : null,
  };
}

/** Largest input dimension with a Gram matrix (2 GiB of float64). @internal */
export const MAX_GRAM_DIM = 16384;

/** Throws unless `stats` looks like {@link LayerStats} (from {@link createLayerStats}). @internal */
export function checkStats(stats: LayerStats, fn: string): void {
  if (
    stats === null ||
    typeof stats !== 'object' ||
    !Number.isInteger(stats.inputDim) ||
    !(stats.sqNorms instanceof Float64Array) ||
    stats.sqNorms.length !== stats.inputDim ||
    !(stats.sums instanceof Float64Array) ||
    !(
      stats.gram === null ||
      (stats.gram instanceof Float64Array && stats.gram.length === stats.inputDim * stats.inputDim)
    ) ||
    !(Number.isInteger(stats.count) && stats.count >= 0)
  ) {
    throw new Error(`${fn}: stats must be LayerStats from createLayerStats, got ${describe(stats)}`);
  }
}

/**
 * Adds `rows` input rows (`x` row-major `rows x inputDim`) to the statistics. Throws on a wrong
 * length or a non-finite value.
 */
export function accumulateLayerStats(stats: LayerStats, x: Float32Array, rows: number): void {
  checkStats(stats, 'accumulateLayerStats');
  const d = stats.inputDim;
  if (!Number.isInteger(rows) || rows < 0)
    throw new Error(`accumulateLayerStats: rows must be a non-negative integer, got ${describe(rows)}`);
  if (!(x instanceof Float32Array) || x.length !== rows * d) {
    throw new Error(
      `accumulateLayerStats: x must be a Float32Array of rows * inputDim = ${rows} * ${d} = ${rows * d} values, got ${describe(x)}`,
    );
  }
  for (let k = 0; k < x.length; k++) {
    if (!Number.isFinite(x[k]!))
      throw new Error(`accumulateLayerStats: calibration inputs must be finite, got ${x[k]} at index ${k}`);
  }
  const sq = stats.sqNorms;
  const sm = stats.sums;
  const g = stats.gram;
  const row = new Float64Array(d);
  for (let n = 0; n < rows; n++) {
    const o = n * d;
    for (let i = 0; i < d; i++) {
      const v = x[o + i]!;
      row[i] = v;
      sq[i] = sq[i]! + v * v;
      sm[i] = sm[i]! + v;
    }
    if (g) {
      // Upper triangle only; mirrored at the end of the call.
      for (let i = 0; i < d; i++) {
        const v = row[i]!;
        if (v === 0) continue;
        const base = i * d;
        for (let j = i; j < d; j++) g[base + j] = g[base + j]! + v * row[j]!;
      }
    }
  }
  if (g) for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) g[i * d + j] = g[j * d + i]!;
  stats.count += rows;
}

/**
 * Adds sum_n x_n r_n^T to `stats.cross` (allocating it), for inputs `x` and reference inputs `r`
 * (both row-major `rows x inputDim`). Call alongside {@link accumulateLayerStats} with the same rows.
 */
export function accumulateCross(stats: LayerStats, x: Float32Array, r: Float32Array, rows: number): void {
  checkStats(stats, 'accumulateCross');
  const d = stats.inputDim;
  if (x.length !== rows * d || r.length !== rows * d) {
    throw new Error(
      `accumulateCross: x and r must hold rows * inputDim = ${rows * d} values, got ${x.length} and ${r.length}`,
    );
  }
  const c = (stats.cross ??= new Float64Array(d * d));
  for (let n = 0; n < rows; n++) {
    const o = n * d;
    for (let i = 0; i < d; i++) {
      const v = x[o + i]!;
      if (v === 0) continue;
      const base = i * d;
      for (let j = 0; j < d; j++) c[base + j] = c[base + j]! + v * r[o + j]!;
    }
  }
}

/**
 * Gradient of the per-sample reconstruction loss ||X W' - R W||^2 / count with respect to W' at
 * W' = W: 2 (X^T X - X^T R) W / count, `[inDim, outDim]`. Zero when X = R. Needs `stats.cross`.
 */
export function reconstructionGradient(stats: LayerStats, w: Float32Array, outDim: number): Float32Array {
  const d = stats.inputDim;
  if (!stats.gram || !stats.cross)
    throw new Error(`reconstructionGradient: the statistics need both the Gram matrix and the cross term`);
  if (w.length !== d * outDim)
    throw new Error(`reconstructionGradient: w must hold inputDim * outDim = ${d * outDim} values, got ${w.length}`);
  const g = new Float32Array(d * outDim);
  const s = 2 / stats.count;
  const row = new Float64Array(outDim);
  for (let i = 0; i < d; i++) {
    row.fill(0);
    for (let k = 0; k < d; k++) {
      const a = stats.gram[i * d + k]! - stats.cross[i * d + k]!;
      if (a === 0) continue;
      for (let j = 0; j < outDim; j++) row[j] = row[j]! + a * w[k * outDim + j]!;
    }
    for (let j = 0; j < outDim; j++) g[i * outDim + j] = s * row[j]!;
  }
  return g;
}

/** Statistics of a whole input matrix at once (`x` row-major `rows x inputDim`). */
export function layerStatsFromInputs(
  x: Float32Array,
  rows: number,
  inputDim: number,
  opts?: LayerStatsOptions,
): LayerStats {
  checkNumber('layerStatsFromInputs: inputDim', inputDim, { integer: true, min: 1, max: MAX_GRAM_DIM });
  const s = createLayerStats(inputDim, opts);
  accumulateLayerStats(s, x, rows);
  return s;
}

/** The l2 norm of every input feature, ||X_i|| = sqrt(sum_n x_ni^2), as Wanda uses them. */
export function inputNorms(stats: LayerStats): Float64Array {
  checkStats(stats, 'inputNorms');
  return Float64Array.from(stats.sqNorms, (v) => Math.sqrt(v));
}

/**
 * The per-sample Hessian H = X^T X / count (so that dW^T H dW is the mean squared change of one
 * output unit). Throws when the Gram matrix was not collected.
 */
export function layerHessian(stats: LayerStats, fn = 'layerHessian'): Float64Array {
  checkStats(stats, fn);
  if (!stats.gram)
    throw new Error(
      `${fn}: this method needs the Gram matrix X^T X, but the calibration statistics hold none (collected with gram: false or over the memory bound)`,
    );
  if (stats.count === 0) throw new Error(`${fn}: the calibration statistics hold no samples`);
  const inv = 1 / stats.count;
  return Float64Array.from(stats.gram, (v) => v * inv);
}

/**
 * Mean squared change of the layer output, sum_j dW_j^T H dW_j over output units j, between two
 * weight versions (both `[inDim, outDim]`), with `hessian` from {@link layerHessian}.
 */
export function reconstructionError(
  before: Float32Array,
  after: Float32Array,
  inDim: number,
  outDim: number,
  hessian: Float64Array,
): number {
  checkDims(inDim, outDim, 'reconstructionError');
  if (
    !(before instanceof Float32Array) ||
    !(after instanceof Float32Array) ||
    before.length !== inDim * outDim ||
    after.length !== inDim * outDim
  ) {
    throw new Error(
      `reconstructionError: weights must have inDim * outDim = ${inDim * outDim} values, got ${before.length} and ${after.length}`,
    );
  }
  checkSquare(hessian, inDim, 'reconstructionError: hessian');
  for (const [name, a] of [
    ['before', before],
    ['after', after],
  ] as const) {
    for (let i = 0; i < a.length; i++)
      if (!Number.isFinite(a[i]!))
        throw new RangeError(`reconstructionError: ${name} must be finite, got ${a[i]} at index ${i}`);
  }
  const delta = new Float64Array(inDim);
  let total = 0;
  for (let j = 0; j < outDim; j++) {
    let any = false;
    for (let i = 0; i < inDim; i++) {
      const d = after[i * outDim + j]! - before[i * outDim + j]!;
      delta[i] = d;
      if (d !== 0) any = true;
    }
    if (!any) continue;
    for (let i = 0; i < inDim; i++) {
      const di = delta[i]!;
      if (di === 0) continue;
      let s = 0;
      const base = i * inDim;
      for (let k = 0; k < inDim; k++) s += hessian[base + k]! * delta[k]!;
      total += di * s;
    }
  }
  return total;
}
