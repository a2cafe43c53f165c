import { describe } from './matrix.js';

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
  /** X^T X, row-major `inputDim x inputDim`, or null when not collected. */
  gram: Float64Array | null;
}

/** Options of {@link createLayerStats}. */
export interface LayerStatsOptions {
  /** Collect the Gram matrix (default true). */
  gram?: boolean;
}

/** Creates empty statistics for a layer with `inputDim` inputs. */
export function createLayerStats(inputDim: number, opts: LayerStatsOptions = {}): LayerStats {
  if (!Number.isInteger(inputDim) || inputDim <= 0) throw new Error(`createLayerStats: inputDim must be a positive integer, got ${describe(inputDim)}`);
  return {
    inputDim,
    count: 0,
    sqNorms: new Float64Array(inputDim),
    gram: opts.gram === false ? null : new Float64Array(inputDim * inputDim),
  };
}

/**
 * Adds `rows` input rows (`x` row-major `rows x inputDim`) to the statistics. Throws on a wrong
 * length or a non-finite value.
 */
export function accumulateLayerStats(stats: LayerStats, x: Float32Array, rows: number): void {
  const d = stats.inputDim;
  if (!Number.isInteger(rows) || rows < 0) throw new Error(`accumulateLayerStats: rows must be a non-negative integer, got ${describe(rows)}`);
  if (!(x instanceof Float32Array) || x.length !== rows * d) {
    throw new Error(`accumulateLayerStats: x must be a Float32Array of rows * inputDim = ${rows} * ${d} = ${rows * d} values, got ${describe(x)}`);
  }
  for (let k = 0; k < x.length; k++) {
    if (!Number.isFinite(x[k]!)) throw new Error(`accumulateLayerStats: calibration inputs must be finite, got ${x[k]} at index ${k}`);
  }
  const sq = stats.sqNorms;
  const g = stats.gram;
  const row = new Float64Array(d);
  for (let n = 0; n < rows; n++) {
    const o = n * d;
    for (let i = 0; i < d; i++) {
      const v = x[o + i]!;
      row[i] = v;
      sq[i] = sq[i]! + v * v;
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

/** Statistics of a whole input matrix at once (`x` row-major `rows x inputDim`). */
export function layerStatsFromInputs(x: Float32Array, rows: number, inputDim: number, opts: LayerStatsOptions = {}): LayerStats {
  const s = createLayerStats(inputDim, opts);
  accumulateLayerStats(s, x, rows);
  return s;
}

/** The l2 norm of every input feature, ||X_i|| = sqrt(sum_n x_ni^2), as Wanda uses them. */
export function inputNorms(stats: LayerStats): Float64Array {
  return Float64Array.from(stats.sqNorms, (v) => Math.sqrt(v));
}

/**
 * The per-sample Hessian H = X^T X / count (so that dW^T H dW is the mean squared change of one
 * output unit). Throws when the Gram matrix was not collected.
 */
export function layerHessian(stats: LayerStats, fn = 'layerHessian'): Float64Array {
  if (!stats.gram) throw new Error(`${fn}: this method needs the Gram matrix X^T X, but the calibration statistics hold none (collected with gram: false or over the memory bound)`);
  if (stats.count === 0) throw new Error(`${fn}: the calibration statistics hold no samples`);
  const inv = 1 / stats.count;
  return Float64Array.from(stats.gram, (v) => v * inv);
}

/**
 * Mean squared change of the layer output, sum_j dW_j^T H dW_j over output units j, between two
 * weight versions (both `[inDim, outDim]`), with `hessian` from {@link layerHessian}.
 */
export function reconstructionError(before: Float32Array, after: Float32Array, inDim: number, outDim: number, hessian: Float64Array): number {
  if (before.length !== inDim * outDim || after.length !== inDim * outDim) {
    throw new Error(`reconstructionError: weights must have inDim * outDim = ${inDim * outDim} values, got ${before.length} and ${after.length}`);
  }
  if (hessian.length !== inDim * inDim) throw new Error(`reconstructionError: hessian must have ${inDim * inDim} values, got ${hessian.length}`);
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
