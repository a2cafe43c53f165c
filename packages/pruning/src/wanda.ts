import { checkImpliedDensity, selectLowest } from './magnitude.js';
import { checkOptions } from '@blockwise/tensor';
import {
  checkMatrix,
  requireOptions,
  checkNM,
  describe,
  maskNM,
  maskPerColumn,
  prunedCount,
  resolveDensity,
  type DensityOption,
  type Mask,
  type NMPattern,
  type WeightMatrix,
} from './matrix.js';

/** Options of {@link wandaMask}. */
export interface WandaMaskOptions extends DensityOption {
  /** N:M pattern instead of per-output-unit unstructured pruning. */
  nm?: NMPattern;
  /**
   * Comparison group: 'output' (default, the paper's choice for LLMs) compares scores within each
   * output unit, so every unit keeps the same count; 'layer' compares them over the whole layer
   * (the paper's per-layer ablation), and only the layer total is exact.
   */
  group?: 'output' | 'layer';
}

/**
 * Wanda scores (arXiv 2306.11695): S_ij = |W_ij| * ||X_i||, where `inputNorms[i]` is the l2 norm of
 * input feature i over the calibration samples. Same layout as the weights.
 */
export function wandaScores(w: WeightMatrix, inputNorms: ArrayLike<number>): Float64Array {
  return scoresOf(w, inputNorms, 'wandaScores');
}

function scoresOf(w: WeightMatrix, inputNorms: ArrayLike<number>, fn: string): Float64Array {
  checkMatrix(w, fn);
  checkNorms(inputNorms, w.shape[0], fn);
  const [inDim, outDim] = w.shape;
  const s = new Float64Array(w.data.length);
  for (let i = 0; i < inDim; i++) {
    const n = inputNorms[i]!;
    for (let j = 0; j < outDim; j++) s[i * outDim + j] = Math.abs(w.data[i * outDim + j]!) * n;
  }
  return s;
}

/**
 * Wanda mask: scores compared within each output unit (a column of the tfjs kernel); every output
 * unit gets exactly floor(inDim * (1 - density)) zeros. With `nm`, N:M groups along the input dim.
 */
export function wandaMask(w: WeightMatrix, inputNorms: ArrayLike<number>, options: WandaMaskOptions): Mask {
  const opts = checkOptions('wandaMask', requireOptions('wandaMask', options), ['density', 'sparsity', 'nm', 'group']);
  const scores = scoresOf(w, inputNorms, 'wandaMask');
  const [inDim, outDim] = w.shape;
  const mask = new Uint8Array(w.data.length);
  if (opts.nm) {
    checkNM(opts.nm, inDim, 'wandaMask');
    checkImpliedDensity(opts, opts.nm, 'wandaMask');
    return maskNM(scores, inDim, outDim, opts.nm, mask);
  }
  const density = resolveDensity(opts, 'wandaMask');
  const group = opts.group ?? 'output';
  if (group === 'layer') {
    selectLowest([scores], [mask], prunedCount(scores.length, density));
    return mask;
  }
  if (group !== 'output') throw new Error(`wandaMask: group must be 'output' or 'layer', got ${describe(group)}`);
  return maskPerColumn(scores, inDim, outDim, prunedCount(inDim, density), mask);
}

/** @internal */
export function checkNorms(norms: ArrayLike<number>, inDim: number, fn: string): void {
  if (norms === null || typeof norms !== 'object' || typeof norms.length !== 'number') {
    throw new Error(`${fn}: inputNorms must be an array of ${inDim} numbers, got ${describe(norms)}`);
  }
  if (norms.length !== inDim)
    throw new Error(`${fn}: inputNorms.length must equal the input dimension ${inDim}, got ${norms.length}`);
  for (let i = 0; i < inDim; i++) {
    const v = norms[i]!;
    if (!Number.isFinite(v) || v < 0)
      throw new Error(`${fn}: inputNorms must be finite and >= 0, got ${v} at index ${i}`);
  }
}
