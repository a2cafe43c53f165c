import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { linearAssignment, squaredDistances } from './assignment.js';
import { symmetricEigen, sqrtPsd, matmulSquare } from './linalg.js';
import { exactW2, frechetDistance, mmdRbf, slicedWasserstein } from './metrics.js';
import { sampleToy } from './toys.js';

function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  const out: number[][] = [];
  for (const p of permutations(n - 1))
    for (let i = 0; i <= p.length; i++) out.push([...p.slice(0, i), n - 1, ...p.slice(i)]);
  return out;
}

describe('linearAssignment', () => {
  it('matches brute force over all permutations', () => {
    const rng = createRng(3);
    for (let trial = 0; trial < 5; trial++) {
      const n = 6;
      const c = Array.from({ length: n * n }, () => Math.round(rng.uniform(-5, 10) * 100) / 100);
      let best = Infinity;
      for (const p of permutations(n))
        best = Math.min(
          best,
          p.reduce((s, j, i) => s + c[i * n + j]!, 0),
        );
      const r = linearAssignment(c, n);
      expect(r.cost).toBeCloseTo(best, 9);
      expect(new Set(r.colOfRow).size).toBe(n);
    }
  });
  it('rejects bad input', () => {
    expect(() => linearAssignment([1, 2, 3], 2)).toThrow(/n \* n = 4 values, got 3/);
    expect(() => linearAssignment([1, NaN, 3, 4], 2)).toThrow(/cost\[1\] must be finite, got NaN/);
  });
});

describe('symmetricEigen', () => {
  it('reconstructs A = V diag(w) V^T with orthonormal V, and sqrtPsd squares back', () => {
    const rng = createRng(1);
    const n = 7;
    const g = Array.from({ length: n * n }, () => rng.normal());
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        for (let k = 0; k < n; k++) a[i * n + j] = a[i * n + j]! + g[i * n + k]! * g[j * n + k]!;
    const { values, vectors } = symmetricEigen(a, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let r = 0;
        let o = 0;
        for (let k = 0; k < n; k++) {
          r += vectors[i * n + k]! * values[k]! * vectors[j * n + k]!;
          o += vectors[k * n + i]! * vectors[k * n + j]!;
        }
        expect(r).toBeCloseTo(a[i * n + j]!, 8);
        expect(o).toBeCloseTo(i === j ? 1 : 0, 10);
      }
    }
    const s = sqrtPsd(a, n);
    const s2 = matmulSquare(s, s, n);
    for (let i = 0; i < n * n; i++) expect(s2[i]).toBeCloseTo(a[i]!, 7);
  });
  it('rejects a non-symmetric matrix', () => {
    expect(() => symmetricEigen([1, 2, 3, 4], 2)).toThrow(/must be symmetric/);
  });
});

describe('distribution metrics', () => {
  const a = sampleToy('eightGaussians', 200, 1);
  const c = [0.6, -0.8];
  const shifted = a.map((v, i) => v + c[i % 2]!);

  it('exact W2 of a translated set is the translation length', () => {
    // Any non-identity matching adds sum |a_i - a_s(i)|^2 >= 0 to n |c|^2.
    expect(exactW2(a, shifted, 2)).toBeCloseTo(1, 5);
  });
  it('sliced W2 of a translation is |c| / sqrt(d) on average over directions', () => {
    // E_theta (c . theta)^2 = |c|^2 / d for uniform unit theta.
    expect(slicedWasserstein(a, shifted, 2, { projections: 2000 })).toBeCloseTo(1 / Math.SQRT2, 1);
    expect(slicedWasserstein(a, a, 2)).toBe(0);
  });
  it('sliced W2 in 1-D equals the exact W2', () => {
    const x = [0.3, -1, 2, 5, 0];
    const y = [1, 1.5, -2, 0.25, 4];
    expect(slicedWasserstein(x, y, 1, { projections: 3 })).toBeCloseTo(exactW2(x, y, 1), 10);
  });
  it('RBF MMD: hand value for two points, zero for identical sets, larger across distributions', () => {
    // Biased, sigma = 1: k(0,0) + k(1,1) - 2 k(0,1) = 2 - 2 exp(-1/2).
    expect(mmdRbf([0], [1], 1, { bandwidths: [1], unbiased: false })).toBeCloseTo(2 - 2 * Math.exp(-0.5), 12);
    expect(mmdRbf(a, a, 2, { unbiased: false })).toBeCloseTo(0, 12);
    const same = mmdRbf(sampleToy('checkerboard', 150, 1), sampleToy('checkerboard', 150, 2), 2);
    const other = mmdRbf(sampleToy('checkerboard', 150, 1), sampleToy('eightGaussians', 150, 2), 2);
    expect(Math.abs(same)).toBeLessThan(0.01);
    expect(other).toBeGreaterThan(3 * Math.abs(same));
  });
  it('Fréchet distance of diagonal Gaussians: |dmu|^2 + sum (s_a - s_b)^2', () => {
    // a: mean 0, unbiased variances 2/3 and 8/3; b = 3 a + 1: mean (1, 1), variances 6 and 24.
    const fa = [1, 0, -1, 0, 0, 2, 0, -2];
    const fb = fa.map((v) => 3 * v + 1);
    const want = 2 + (Math.sqrt(2 / 3) - Math.sqrt(6)) ** 2 + (Math.sqrt(8 / 3) - Math.sqrt(24)) ** 2;
    expect(frechetDistance(fa, fb, 2)).toBeCloseTo(want, 8);
    expect(frechetDistance(fa, fa, 2)).toBeCloseTo(0, 8);
  });
  it('rejects bad input', () => {
    expect(() => exactW2([1, 2], [1], 1)).toThrow(/equal size, got 2 and 1/);
    expect(() => slicedWasserstein([1, 2, 3], [1, 2], 2)).toThrow(
      /a must hold a positive multiple of d = 2 values, got 3/,
    );
    expect(() => mmdRbf([NaN], [1], 1)).toThrow(/a\[0\] must be finite, got NaN/);
    expect(() => squaredDistances([1], [1], 0)).toThrow(/d must be a positive integer, got 0/);
  });
});

describe('toys', () => {
  it('are seeded and follow their shapes', () => {
    expect(sampleToy('checkerboard', 50, 7)).toEqual(sampleToy('checkerboard', 50, 7));
    const cb = sampleToy('checkerboard', 500, 1);
    for (let i = 0; i < 500; i++) {
      const x = cb[2 * i]!;
      const y = cb[2 * i + 1]!;
      expect(Math.abs(x)).toBeLessThanOrEqual(2);
      expect((Math.floor(x + 2) + Math.floor(y + 2)) % 2).toBe(0);
    }
    const rings = sampleToy('rings', 400, 2);
    for (let i = 0; i < 400; i++) {
      const r = Math.hypot(rings[2 * i]!, rings[2 * i + 1]!);
      expect(Math.abs(r * 2 - Math.round(r * 2))).toBeLessThan(0.4);
    }
    const moons = sampleToy('twoMoons', 400, 3);
    const g8 = sampleToy('eightGaussians', 400, 3);
    expect(moons.every(Number.isFinite) && g8.every(Number.isFinite)).toBe(true);
    expect(() => sampleToy('spiral' as never, 3, 1)).toThrow(/name must be one of/);
  });
});
