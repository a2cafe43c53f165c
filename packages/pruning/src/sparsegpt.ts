import { checkImpliedDensity } from './magnitude.js';
import { checkNumber, checkOptions } from '@blockwise/tensor';
import {
  checkMatrix,
  checkSquare,
  requireOptions,
  checkNM,
  prunedCount,
  resolveDensity,
  type DensityOption,
  type Mask,
  type NMPattern,
  type WeightMatrix,
} from './matrix.js';

/** Options of {@link sparseGPTPrune}. */
export interface SparseGPTOptions extends DensityOption {
  /** N:M pattern instead of unstructured pruning (`blockSize` must then be a multiple of `m`). */
  nm?: NMPattern;
  /** Columns (input features) processed per lazy batch; default 128. */
  blockSize?: number;
  /** Dampening added to the Hessian diagonal, as a fraction of its mean; default 0.01. */
  damp?: number;
}

/** Result of {@link sparseGPTPrune}. */
export interface SparseGPTResult {
  /** Pruned and compensated weights, `[inDim, outDim]`. */
  weights: Float32Array;
  /** The mask (1 = kept); pruned weights are exactly zero in `weights`. */
  mask: Mask;
  /** SparseGPT's own error estimate, sum of (w - q)^2 / [H^-1]_ii over pruned weights, halved. */
  estimatedError: number;
}

/**
 * SparseGPT-style pruning (arXiv 2301.00774) of one layer: input features are processed one at a
 * time; each pruned weight's error is spread onto the not-yet-processed weights of the same output
 * unit through the upper Cholesky factor of the damped inverse Hessian. Masks are chosen per lazy
 * batch of `blockSize` features with the saliency w^2 / [H^-1]_ii^2; the total pruned count is exact
 * (floor(count * (1 - density))). `hessian` is X^T X (any positive scale), `inDim x inDim`.
 */
export function sparseGPTPrune(w: WeightMatrix, hessian: Float64Array, options: SparseGPTOptions): SparseGPTResult {
  const opts = checkOptions('sparseGPTPrune', requireOptions('sparseGPTPrune', options), [
    'density',
    'sparsity',
    'nm',
    'blockSize',
    'damp',
  ]);
  checkMatrix(w, 'sparseGPTPrune');
  const [inDim, outDim] = w.shape;
  checkSquare(hessian, inDim, 'sparseGPTPrune: hessian');
  const blockSize = Math.min(
    inDim,
    checkNumber('sparseGPTPrune: blockSize', opts.blockSize ?? 128, { integer: true, min: 1, max: 2 ** 20 }),
  );
  const dampFrac = checkNumber('sparseGPTPrune: damp', opts.damp ?? 0.01, { min: 0 });
  const nm = opts.nm;
  let density = 1;
  if (nm) {
    checkNM(nm, inDim, 'sparseGPTPrune');
    checkImpliedDensity(opts, nm, 'sparseGPTPrune');
    if (blockSize % nm.m !== 0)
      throw new Error(`sparseGPTPrune: blockSize must be a multiple of nm.m = ${nm.m}, got ${blockSize}`);
  } else {
    density = resolveDensity(opts, 'sparseGPTPrune');
  }

  // Work in [outDim, inDim] (one output unit per row), float64.
  const W = new Float64Array(outDim * inDim);
  for (let i = 0; i < inDim; i++) for (let j = 0; j < outDim; j++) W[j * inDim + i] = w.data[i * outDim + j]!;
  const H = Float64Array.from(hessian);
  let diagMean = 0;
  for (let i = 0; i < inDim; i++) {
    if (H[i * inDim + i]! === 0) {
      // A dead input: its weights have no effect, so they are pruned first and need no compensation.
      H[i * inDim + i] = 1;
      for (let j = 0; j < outDim; j++) W[j * inDim + i] = 0;
    }
    diagMean += H[i * inDim + i]!;
  }
  diagMean /= inDim;
  for (let i = 0; i < inDim; i++) H[i * inDim + i] = H[i * inDim + i]! + dampFrac * diagMean;
  const U = upperCholeskyOfInverse(H, inDim);

  const pruned = new Uint8Array(outDim * inDim); // 1 = pruned, [outDim, inDim]
  const totalPrune = nm ? 0 : prunedCount(inDim * outDim, density);
  let prunedSoFar = 0;
  let estimatedError = 0;
  const err = new Float64Array(outDim * blockSize);
  for (let i1 = 0; i1 < inDim; i1 += blockSize) {
    const i2 = Math.min(i1 + blockSize, inDim);
    const b = i2 - i1;
    if (!nm) {
      // Cumulative rounding keeps the layer total exact.
      const target = Math.floor((totalPrune * i2) / inDim + 1e-9) - prunedSoFar;
      const sal: number[] = [];
      for (let j = 0; j < outDim; j++) {
        for (let c = i1; c < i2; c++) {
          const d = U[c * inDim + c]!;
          sal.push(W[j * inDim + c]! ** 2 / (d * d));
        }
      }
      const order = sal.map((_, k) => k).sort((a, c) => sal[a]! - sal[c]! || a - c);
      for (let r = 0; r < target; r++) {
        const k = order[r]!;
        pruned[Math.floor(k / b) * inDim + i1 + (k % b)] = 1;
      }
      prunedSoFar += target;
    }
    err.fill(0);
    for (let c = i1; c < i2; c++) {
      const d = U[c * inDim + c]!;
      if (nm && (c - i1) % nm.m === 0) {
        for (let j = 0; j < outDim; j++) {
          const g = [...Array(nm.m).keys()].map((t) => c + t);
          g.sort(
            (a, e) =>
              W[j * inDim + a]! ** 2 / U[a * inDim + a]! ** 2 - W[j * inDim + e]! ** 2 / U[e * inDim + e]! ** 2 ||
              a - e,
          );
          for (let t = 0; t < nm.n; t++) pruned[j * inDim + g[t]!] = 1;
        }
      }
      for (let j = 0; j < outDim; j++) {
        const row = j * inDim;
        if (!pruned[row + c]) continue;
        const e = W[row + c]! / d;
        estimatedError += W[row + c]! ** 2 / (d * d) / 2;
        err[j * blockSize + (c - i1)] = e;
        // Spread within the lazy batch now; the rest of the row is updated once per batch.
        for (let k = c; k < i2; k++) W[row + k] = W[row + k]! - e * U[c * inDim + k]!;
        W[row + c] = 0;
      }
    }
    if (i2 < inDim) {
      for (let j = 0; j < outDim; j++) {
        const row = j * inDim;
        for (let c = i1; c < i2; c++) {
          const e = err[j * blockSize + (c - i1)]!;
          if (e === 0) continue;
          const urow = c * inDim;
          for (let k = i2; k < inDim; k++) W[row + k] = W[row + k]! - e * U[urow + k]!;
        }
      }
    }
  }
  const weights = new Float32Array(inDim * outDim);
  const mask = new Uint8Array(inDim * outDim);
  for (let i = 0; i < inDim; i++) {
    for (let j = 0; j < outDim; j++) {
      const keep = pruned[j * inDim + i] ? 0 : 1;
      mask[i * outDim + j] = keep;
      weights[i * outDim + j] = keep ? W[j * inDim + i]! : 0;
    }
  }
  for (let i = 0; i < weights.length; i++) {
    if (!Number.isFinite(weights[i]!))
      throw new RangeError(
        `sparseGPTPrune: the compensated weights overflow float32 (weight ${i} is ${weights[i]}); rescale the weights or raise damp`,
      );
  }
  return { weights, mask, estimatedError };
}

/**
 * U upper-triangular with U^T U = H^-1, for symmetric positive definite H (`n x n`, row-major).
 * @internal
 */
export function upperCholeskyOfInverse(H: Float64Array, n: number): Float64Array {
  const L = cholesky(H, n);
  // inv(L) by forward substitution, then H^-1 = inv(L)^T inv(L).
  const Li = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    for (let r = c; r < n; r++) {
      let s = r === c ? 1 : 0;
      for (let k = c; k < r; k++) s -= L[r * n + k]! * Li[k * n + c]!;
      Li[r * n + c] = s / L[r * n + r]!;
    }
  }
  const Hinv = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = a; b < n; b++) {
      let s = 0;
      for (let k = b; k < n; k++) s += Li[k * n + a]! * Li[k * n + b]!;
      Hinv[a * n + b] = s;
      Hinv[b * n + a] = s;
    }
  }
  const L2 = cholesky(Hinv, n);
  const U = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c <= r; c++) U[c * n + r] = L2[r * n + c]!;
  return U;
}

/** Lower Cholesky factor; throws when the matrix is not positive definite. @internal */
export function cholesky(A: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j]!;
      for (let k = 0; k < j; k++) s -= L[i * n + k]! * L[j * n + k]!;
      if (i === j) {
        if (!(s > 0))
          throw new Error(
            `sparseGPTPrune: the damped Hessian is not positive definite (pivot ${s} at ${i}); raise damp`,
          );
        L[i * n + i] = Math.sqrt(s);
      } else {
        L[i * n + j] = s / L[j * n + j]!;
      }
    }
  }
  return L;
}
