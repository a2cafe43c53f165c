import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { globalMagnitudeMasks, magnitudeMask } from './magnitude.js';
import { applyMask, maskDensity, weightMatrix } from './matrix.js';
import { wandaMask, wandaScores } from './wanda.js';

const rng = createRng(1);
const w = weightMatrix(rng.fillNormal(new Float32Array(24 * 10)), 24, 10);
const norms = Float64Array.from({ length: 24 }, () => rng.uniform(0.1, 5));

describe('magnitudeMask', () => {
  it('sparsity 0 (density 1) leaves the weights unchanged; density 0 prunes all', () => {
    const m = magnitudeMask(w, { sparsity: 0 });
    expect(Array.from(applyMask(w, m))).toEqual(Array.from(w.data));
    expect(maskDensity(magnitudeMask(w, { density: 0 }))).toBe(0);
  });

  it('prunes exactly floor(n * (1 - density)) weights, all no larger than any kept one', () => {
    for (const density of [0.5, 0.2, 0.1, 0.37]) {
      const m = magnitudeMask(w, { density });
      const pruned = m.length - m.reduce((s, v) => s + v, 0);
      expect(pruned).toBe(Math.floor(240 * (1 - density)));
      let maxPruned = 0;
      let minKept = Infinity;
      w.data.forEach((v, i) =>
        m[i] ? (minKept = Math.min(minKept, Math.abs(v))) : (maxPruned = Math.max(maxPruned, Math.abs(v))),
      );
      expect(maxPruned).toBeLessThanOrEqual(minKept);
    }
  });

  it('hand example: [[3, -1], [0.5, -4]] at density 0.5 keeps 3 and -4', () => {
    const m = magnitudeMask(weightMatrix(new Float32Array([3, -1, 0.5, -4]), 2, 2), { density: 0.5 });
    expect(Array.from(m)).toEqual([1, 0, 0, 1]);
  });

  it('N:M: every group of m inputs of every output unit has exactly n zeros', () => {
    for (const [n, m] of [
      [2, 4],
      [4, 8],
      [1, 4],
    ] as const) {
      const mask = magnitudeMask(w, { nm: { n, m } });
      for (let j = 0; j < 10; j++) {
        for (let g = 0; g < 24; g += m) {
          let zeros = 0;
          let maxPruned = 0;
          let minKept = Infinity;
          for (let i = g; i < g + m; i++) {
            const a = Math.abs(w.data[i * 10 + j]!);
            if (mask[i * 10 + j]) minKept = Math.min(minKept, a);
            else {
              zeros++;
              maxPruned = Math.max(maxPruned, a);
            }
          }
          expect(zeros).toBe(n);
          expect(maxPruned).toBeLessThanOrEqual(minKept);
        }
      }
    }
  });

  it('rejects bad input with clear errors', () => {
    expect(() => magnitudeMask(w, { density: 1.5 })).toThrow(/density must be a number in \[0, 1\].*got 1.5/);
    expect(() => magnitudeMask(w, { density: -0.1 })).toThrow(/density must be a number in \[0, 1\]/);
    expect(() => magnitudeMask(w, { density: NaN })).toThrow(/density/);
    expect(() => magnitudeMask(w, {})).toThrow(/density .* is required/);
    expect(() => magnitudeMask(w, { density: 0.5, sparsity: 0.5 })).toThrow(/not both/);
    expect(() => magnitudeMask(w, { nm: { n: 4, m: 4 } })).toThrow(
      /nm.n must be an integer with 1 <= n < m = 4, got 4/,
    );
    expect(() => magnitudeMask(w, { nm: { n: 5, m: 4 } })).toThrow(/nm.n/);
    expect(() => magnitudeMask(w, { nm: { n: 2, m: 5 } })).toThrow(/multiple of nm.m = 5/);
    expect(() => magnitudeMask(w, { nm: { n: 2, m: 4 }, density: 0.3 })).toThrow(/contradicts/);
    expect(() => weightMatrix(new Float32Array(5), 2, 3)).toThrow(/data.length must be inDim \* outDim = 6, got 5/);
  });
});

describe('globalMagnitudeMasks', () => {
  it('one threshold across layers, exact total', () => {
    const a = weightMatrix(
      Float32Array.from({ length: 8 }, (_, i) => i + 1),
      4,
      2,
    ); // 1..8
    const b = weightMatrix(
      Float32Array.from({ length: 4 }, (_, i) => 10 * (i + 1)),
      2,
      2,
    ); // 10..40
    const [ma, mb] = globalMagnitudeMasks([a, b], { density: 0.5 });
    // 12 weights, prune 6: the six smallest are 1..6, all in a.
    expect(Array.from(ma!)).toEqual([0, 0, 0, 0, 0, 0, 1, 1]);
    expect(Array.from(mb!)).toEqual([1, 1, 1, 1]);
  });
});

describe('wandaMask', () => {
  it('scores are |W_ij| * ||X_i||', () => {
    const s = wandaScores(w, norms);
    expect(s[3 * 10 + 7]).toBeCloseTo(Math.abs(w.data[3 * 10 + 7]!) * norms[3]!, 12);
  });

  it('every output unit (kernel column) has exactly floor(C_in * s) zeros, the lowest scores', () => {
    const s = wandaScores(w, norms);
    for (const density of [0.5, 0.2, 0.1, 0.3]) {
      const m = wandaMask(w, norms, { density });
      const want = Math.floor(24 * (1 - density) + 1e-9);
      for (let j = 0; j < 10; j++) {
        let zeros = 0;
        let maxPruned = 0;
        let minKept = Infinity;
        for (let i = 0; i < 24; i++) {
          const v = s[i * 10 + j]!;
          if (m[i * 10 + j]) minKept = Math.min(minKept, v);
          else {
            zeros++;
            maxPruned = Math.max(maxPruned, v);
          }
        }
        expect(zeros).toBe(want);
        expect(maxPruned).toBeLessThanOrEqual(minKept);
      }
    }
  });

  it('differs from magnitude when input norms differ, equals per-column magnitude when norms are equal', () => {
    const ones = new Float64Array(24).fill(2);
    const m = wandaMask(w, ones, { density: 0.5 });
    for (let j = 0; j < 10; j++) {
      const col = Array.from({ length: 24 }, (_, i) => Math.abs(w.data[i * 10 + j]!));
      const thr = [...col].sort((a, b) => a - b)[11]!;
      col.forEach((v, i) => expect(m[i * 10 + j]).toBe(v > thr ? 1 : 0));
    }
  });

  it("group 'layer' compares scores over the whole layer: exact layer total, lowest scores pruned", () => {
    const s = wandaScores(w, norms);
    const m = wandaMask(w, norms, { density: 0.3, group: 'layer' });
    expect(m.reduce((a, v) => a + v, 0)).toBe(240 - Math.floor(240 * 0.7));
    let maxPruned = 0;
    let minKept = Infinity;
    s.forEach((v, i) => (m[i] ? (minKept = Math.min(minKept, v)) : (maxPruned = Math.max(maxPruned, v))));
    expect(maxPruned).toBeLessThanOrEqual(minKept);
    expect(() => wandaMask(w, norms, { density: 0.3, group: 'row' as 'layer' })).toThrow(
      /group must be 'output' or 'layer'/,
    );
  });

  it('N:M groups exact and bad norms rejected', () => {
    const m = wandaMask(w, norms, { nm: { n: 2, m: 4 } });
    for (let j = 0; j < 10; j++)
      for (let g = 0; g < 24; g += 4) {
        let zeros = 0;
        for (let i = g; i < g + 4; i++) zeros += m[i * 10 + j] ? 0 : 1;
        expect(zeros).toBe(2);
      }
    expect(() => wandaMask(w, new Float64Array(23), { density: 0.5 })).toThrow(
      /inputNorms.length must equal the input dimension 24, got 23/,
    );
    expect(() => wandaMask(w, new Float64Array(24).fill(-1), { density: 0.5 })).toThrow(
      /inputNorms must be finite and >= 0/,
    );
  });
});
