import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { annealBlock, blockEnergy, exhaustiveBlock, type BlockProblem } from './anneal.js';
import { layerHessian } from './calibration.js';
import { randomLayerProblem } from './testdata.js';

/** A block problem as iCBS builds it: one output unit, 16 inputs, quad_kl = w_k w_l H_kl. */
function pruningBlock(seed: number, size = 16): BlockProblem {
  const { w, stats } = randomLayerProblem(size, 1, 64, seed);
  const H = layerHessian(stats);
  const rng = createRng(seed + 1000);
  const linear = new Float64Array(size);
  const quad = new Float64Array(size * size);
  for (let k = 0; k < size; k++) {
    // Linear term with a random "outside" field, as when other pruned weights interact.
    linear[k] = w.data[k]! ** 2 * H[k * size + k]! + 2 * w.data[k]! * rng.normal(0, 1);
    for (let l = 0; l < size; l++) if (l !== k) quad[k * size + l] = w.data[k]! * w.data[l]! * H[k * size + l]!;
  }
  return { size, linear, quad, ones: size / 2 };
}

describe('exhaustiveBlock', () => {
  it('agrees with filtering all 2^n assignments by cardinality', () => {
    for (let seed = 0; seed < 5; seed++) {
      const p = { ...pruningBlock(seed, 10), ones: 3 + seed };
      let best = Infinity;
      for (let v = 0; v < 1 << 10; v++) {
        const z = Uint8Array.from({ length: 10 }, (_, k) => (v >> k) & 1);
        if (z.reduce((s, b) => s + b, 0) === p.ones) best = Math.min(best, blockEnergy(p, z));
      }
      const r = exhaustiveBlock(p);
      expect(r.energy).toBeCloseTo(best, 10);
      expect(r.z.reduce((s, b) => s + b, 0)).toBe(p.ones);
    }
  });
});

describe('annealBlock', () => {
  it('finds the exhaustive optimum of 16-weight blocks in nearly every trial', () => {
    const rng = createRng(42);
    let hits = 0;
    const trials = 40;
    for (let t = 0; t < trials; t++) {
      const p = pruningBlock(t);
      const exact = exhaustiveBlock(p).energy;
      const r = annealBlock(p, rng);
      expect(r.z.reduce((s, b) => s + b, 0)).toBe(8);
      expect(r.energy).toBeGreaterThanOrEqual(exact - 1e-9 * Math.abs(exact));
      if (r.energy <= exact + 1e-9 * Math.abs(exact)) hits++;
    }
    expect(hits).toBeGreaterThanOrEqual(trials - 2);
  });

  it('never returns worse than its start state and keeps the cardinality', () => {
    const rng = createRng(3);
    const p = pruningBlock(77);
    const start = new Uint8Array(16);
    for (let k = 0; k < 8; k++) start[k] = 1;
    const r = annealBlock(p, rng, { sweeps: 1, reads: 1 }, start);
    expect(r.energy).toBeLessThanOrEqual(blockEnergy(p, start));
    expect(r.z.reduce((s, b) => s + b, 0)).toBe(8);
    expect(() => annealBlock(p, rng, {}, new Uint8Array(16))).toThrow(/exactly 8 ones/);
    expect(() => annealBlock({ ...p, ones: 17 }, rng)).toThrow(/ones must be an integer in \[0, 16\], got 17/);
  });
});

describe('group constraints (N:M blocks)', () => {
  const groups = { id: Int32Array.from({ length: 16 }, (_, k) => k >> 2), ones: new Int32Array(4).fill(2) };

  it('exhaustive and annealed solutions keep 2 ones in every group of 4, and agree', () => {
    const rng = createRng(5);
    let hits = 0;
    for (let t = 0; t < 20; t++) {
      const p = { ...pruningBlock(100 + t), groups };
      const exact = exhaustiveBlock(p);
      const r = annealBlock(p, rng);
      for (const z of [exact.z, r.z])
        for (let g = 0; g < 4; g++) expect(z[4 * g]! + z[4 * g + 1]! + z[4 * g + 2]! + z[4 * g + 3]!).toBe(2);
      expect(r.energy).toBeGreaterThanOrEqual(exact.energy - 1e-9 * Math.abs(exact.energy));
      if (r.energy <= exact.energy + 1e-9 * Math.abs(exact.energy)) hits++;
    }
    expect(hits).toBeGreaterThanOrEqual(19);
    // 6^4 = 1296 feasible assignments; the grouped optimum can be no better than the ungrouped one.
    const p = pruningBlock(7);
    expect(exhaustiveBlock({ ...p, groups }).energy).toBeGreaterThanOrEqual(exhaustiveBlock(p).energy - 1e-12);
  });

  it('rejects inconsistent groups', () => {
    const p = pruningBlock(1);
    expect(() => exhaustiveBlock({ ...p, groups: { id: groups.id, ones: Int32Array.of(2, 2, 2, 1) } })).toThrow(
      /ones \(8\) must equal the sum of groups.ones \(7\)/,
    );
    expect(() => exhaustiveBlock({ ...p, groups: { id: groups.id, ones: Int32Array.of(5, 1, 1, 1) } })).toThrow(
      /groups.ones\[0\] must be in \[0, 4\], got 5/,
    );
  });
});
