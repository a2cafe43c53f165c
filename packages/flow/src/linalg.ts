/** Small dense linear algebra on Float64Array (row-major), for metrics. */

/** @internal Eigen-decomposition of a symmetric n x n matrix by cyclic Jacobi rotations: A = V diag(values) V^T. */
export function symmetricEigen(
  a: ArrayLike<number>,
  n: number,
  maxSweeps = 100,
): { values: Float64Array; vectors: Float64Array } {
  if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer, got ${n}`);
  if (a.length !== n * n) throw new Error(`matrix must hold n * n = ${n * n} values, got ${a.length}`);
  const m = Float64Array.from(a);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const x = m[i * n + j]!;
      const y = m[j * n + i]!;
      if (!Number.isFinite(x) || Math.abs(x - y) > 1e-6 * (1 + Math.abs(x) + Math.abs(y))) {
        throw new Error(`matrix must be symmetric and finite, got ${x} at [${i}, ${j}] and ${y} at [${j}, ${i}]`);
      }
    }
  }
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += m[i * n + i]! ** 2;
      for (let j = i + 1; j < n; j++) off += m[i * n + j]! ** 2;
    }
    if (off <= 1e-30 * (diag + 1e-300)) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (apq === 0) continue;
        const app = m[p * n + p]!;
        const aqq = m[q * n + q]!;
        // Rotation angle that zeroes A[p, q] (Golub & Van Loan, Sym. Schur 2x2).
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = m[k * n + p]!;
          const akq = m[k * n + q]!;
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = m[p * n + k]!;
          const aqk = m[q * n + k]!;
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = m[i * n + i]!;
  return { values, vectors: v };
}

/** @internal Square root of a symmetric positive semi-definite matrix (negative eigenvalues from round-off clamp to 0). */
export function sqrtPsd(a: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt(Math.max(0, values[k]!));
    if (s === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k]! * s;
      for (let j = 0; j < n; j++) out[i * n + j] = out[i * n + j]! + vik * vectors[j * n + k]!;
    }
  }
  return out;
}

/** @internal C = A B for n x n matrices. */
export function matmulSquare(a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] = out[i * n + j]! + aik * b[k * n + j]!;
    }
  }
  return out;
}

/** @internal Mean [d] and unbiased covariance [d, d] of the rows of x [n, d]. */
export function meanCov(x: ArrayLike<number>, d: number): { mean: Float64Array; cov: Float64Array; n: number } {
  if (!Number.isInteger(d) || d < 1) throw new Error(`d must be a positive integer, got ${d}`);
  if (x.length % d !== 0) throw new Error(`x length ${x.length} must be a multiple of d = ${d}`);
  const n = x.length / d;
  if (n < 2) throw new Error(`need at least 2 rows for a covariance, got ${n}`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) mean[k] = mean[k]! + x[i * d + k]! / n;
  const cov = new Float64Array(d * d);
  const c = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < d; k++) c[k] = x[i * d + k]! - mean[k]!;
    for (let a = 0; a < d; a++) {
      const ca = c[a]!;
      for (let b = a; b < d; b++) cov[a * d + b] = cov[a * d + b]! + ca * c[b]!;
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const val = cov[a * d + b]! / (n - 1);
      cov[a * d + b] = val;
      cov[b * d + a] = val;
    }
  }
  return { mean, cov, n };
}
