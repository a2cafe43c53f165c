import { checkBoolean, checkNumber, checkOptions, createRng, describeValue } from '@blockwise/tensor';
import { linearAssignment, squaredDistances } from './assignment.js';
import { matmulSquare, meanCov, sqrtPsd, symmetricEigen } from './linalg.js';

/** Most pairwise distances `mmdRbf` computes (each is a float64 on the host). */
const MAX_PAIRS = 1e8;

/** Sample sets are row-major [n, d] arrays of numbers. */
type Samples = ArrayLike<number>;

function rows(x: Samples, d: number, name: string): number {
  checkNumber('d', d, { integer: true, min: 1 });
  if (x === null || typeof x !== 'object' || typeof x.length !== 'number')
    throw new Error(`${name} must be an array of numbers [n * d], got ${describeValue(x)}`);
  if (x.length === 0 || x.length % d !== 0)
    throw new Error(`${name} must hold a positive multiple of d = ${d} values, got ${x.length}`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new Error(`${name}[${i}] must be finite, got ${x[i]}`);
  }
  return x.length / d;
}

/** Options of `slicedWasserstein`. */
export interface SlicedWassersteinOptions {
  /** Random directions (default 128). */
  projections?: number;
  /** Seed of the directions (default 0), so two calls compare on the same slices. */
  seed?: number;
}

/** Quantile of sorted values at level q in (0, 1), by linear interpolation between order statistics. */
function quantile(sorted: Float64Array, q: number): number {
  const pos = q * sorted.length - 0.5;
  const lo = Math.max(0, Math.min(sorted.length - 1, Math.floor(pos)));
  const hi = Math.min(sorted.length - 1, lo + 1);
  const w = Math.max(0, Math.min(1, pos - lo));
  return sorted[lo]! * (1 - w) + sorted[hi]! * w;
}

/**
 * Sliced 2-Wasserstein distance: sqrt of the mean over random unit directions of the 1-D W2^2
 * between projections (sorted matching for equal sizes, quantile matching otherwise).
 */
export function slicedWasserstein(a: Samples, b: Samples, d: number, options?: SlicedWassersteinOptions): number {
  const opts = checkOptions('slicedWasserstein', options, ['projections', 'seed']);
  const n = rows(a, d, 'a');
  const m = rows(b, d, 'b');
  const L =
    opts.projections === undefined
      ? 128
      : checkNumber('slicedWasserstein: projections', opts.projections, { integer: true, min: 1, max: 1e6 });
  const rng = createRng(
    opts.seed === undefined ? 0 : checkNumber('slicedWasserstein: seed', opts.seed, { integer: true }),
  );
  const dir = new Float64Array(d);
  const pa = new Float64Array(n);
  const pb = new Float64Array(m);
  let total = 0;
  for (let l = 0; l < L; l++) {
    let norm = 0;
    for (let k = 0; k < d; k++) {
      dir[k] = rng.normal();
      norm += dir[k]! ** 2;
    }
    norm = Math.sqrt(norm) || 1;
    const proj = (x: Samples, out: Float64Array): void => {
      for (let i = 0; i < out.length; i++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += x[i * d + k]! * dir[k]!;
        out[i] = s / norm;
      }
      out.sort();
    };
    proj(a, pa);
    proj(b, pb);
    let w = 0;
    if (n === m) {
      for (let i = 0; i < n; i++) w += (pa[i]! - pb[i]!) ** 2;
      w /= n;
    } else {
      const k = Math.max(n, m);
      for (let i = 0; i < k; i++) w += (quantile(pa, (i + 0.5) / k) - quantile(pb, (i + 0.5) / k)) ** 2;
      w /= k;
    }
    total += w;
  }
  return Math.sqrt(total / L);
}

/** Options of `mmdRbf`. */
export interface MmdOptions {
  /** Kernel bandwidths sigma in k(x, y) = exp(-|x - y|^2 / (2 sigma^2)), summed; default the median pooled distance. */
  bandwidths?: number[];
  /** Unbiased U-statistic (default) or the biased V-statistic (never negative). */
  unbiased?: boolean;
}

/** Squared maximum mean discrepancy with (a sum of) RBF kernels. */
export function mmdRbf(a: Samples, b: Samples, d: number, options?: MmdOptions): number {
  const opts = checkOptions('mmdRbf', options, ['bandwidths', 'unbiased']);
  const n = rows(a, d, 'a');
  const m = rows(b, d, 'b');
  if (n * m > MAX_PAIRS || n * n > MAX_PAIRS || m * m > MAX_PAIRS)
    throw new Error(`mmdRbf: ${n} x ${m} samples need more than ${MAX_PAIRS} pairwise distances; subsample`);
  const unbiased = opts.unbiased === undefined ? true : checkBoolean('mmdRbf: unbiased', opts.unbiased);
  if (opts.bandwidths !== undefined && (!Array.isArray(opts.bandwidths) || opts.bandwidths.length === 0)) {
    throw new Error(
      `mmdRbf: bandwidths must be a non-empty array of positive numbers, got ${describeValue(opts.bandwidths)}`,
    );
  }
  if (unbiased && (n < 2 || m < 2)) throw new Error(`unbiased MMD needs at least 2 samples per set, got ${n} and ${m}`);
  const daa = squaredDistances(a, a, d);
  const dbb = squaredDistances(b, b, d);
  const dab = squaredDistances(a, b, d);
  let bw = opts.bandwidths;
  if (!bw) {
    const pooled = Float64Array.from(dab).sort();
    const med = Math.sqrt(pooled[pooled.length >> 1]!);
    bw = [med > 0 ? med : 1];
  }
  for (const s of bw)
    if (!Number.isFinite(s) || s <= 0) throw new Error(`bandwidths must be positive numbers, got ${s}`);
  const k = (d2: number): number => {
    let s = 0;
    for (const h of bw as number[]) s += Math.exp(-d2 / (2 * h * h));
    return s;
  };
  const within = (dm: Float64Array, c: number): number => {
    let s = 0;
    for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) if (!unbiased || i !== j) s += k(dm[i * c + j]!);
    return s / (unbiased ? c * (c - 1) : c * c);
  };
  let cross = 0;
  for (let i = 0; i < dab.length; i++) cross += k(dab[i]!);
  return within(daa, n) + within(dbb, m) - (2 * cross) / (n * m);
}

/** Exact 2-Wasserstein distance between two equal-size empirical sets (optimal assignment, O(n^3)). */
export function exactW2(a: Samples, b: Samples, d: number): number {
  const n = rows(a, d, 'a');
  const m = rows(b, d, 'b');
  if (n !== m) throw new Error(`exactW2 needs sets of equal size, got ${n} and ${m}`);
  if (n > 2000) throw new Error(`exactW2 is O(n^3); use at most 2000 samples, got ${n}`);
  return Math.sqrt(linearAssignment(squaredDistances(a, b, d), n).cost / n);
}

/**
 * Fréchet distance between Gaussians fitted to two feature sets (FID's formula):
 * |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2), matrix roots by symmetric eigendecomposition.
 */
export function frechetDistance(a: Samples, b: Samples, d: number): number {
  rows(a, d, 'a');
  rows(b, d, 'b');
  const A = meanCov(a, d);
  const B = meanCov(b, d);
  let diff = 0;
  for (let k = 0; k < d; k++) diff += (A.mean[k]! - B.mean[k]!) ** 2;
  const ra = sqrtPsd(A.cov, d);
  const mid = matmulSquare(matmulSquare(ra, B.cov, d), ra, d);
  // Symmetrize against round-off before the eigendecomposition.
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < i; j++) {
      const s = (mid[i * d + j]! + mid[j * d + i]!) / 2;
      mid[i * d + j] = s;
      mid[j * d + i] = s;
    }
  }
  const { values } = symmetricEigen(mid, d);
  let trSqrt = 0;
  for (const v of values) trSqrt += Math.sqrt(Math.max(0, v));
  let tr = 0;
  for (let k = 0; k < d; k++) tr += A.cov[k * d + k]! + B.cov[k * d + k]!;
  return Math.max(0, diff + tr - 2 * trSqrt);
}
