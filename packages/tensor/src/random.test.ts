import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createRng } from './random.js';
import { useBackend } from './testing.js';

useBackend('cpu');

describe('createRng', () => {
  it('is reproducible for a seed and differs between seeds', () => {
    const a = createRng(42),
      b = createRng(42),
      c = createRng(43);
    const xa = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xa);
  });
  it('has the moments of its distributions', () => {
    // 200k draws: standard errors are 1/sqrt(12 n) ~ 6e-4 (uniform mean), 2.2e-3 (normal mean)
    const rng = createRng(1);
    const n = 200_000;
    const u = rng.fillUniform(new Float32Array(n));
    const z = rng.fillNormal(new Float32Array(n));
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    const variance = (a: Float32Array) => {
      const m = mean(a);
      return a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length;
    };
    expect(Math.abs(mean(u) - 0.5)).toBeLessThan(0.004);
    expect(Math.abs(variance(u) - 1 / 12)).toBeLessThan(0.002);
    expect(Math.abs(mean(z))).toBeLessThan(0.012);
    expect(Math.abs(variance(z) - 1)).toBeLessThan(0.02);
    expect(u.every((v) => v >= 0 && v < 1)).toBe(true);
  });
  it('makes permutations', () => {
    const p = createRng(3).permutation(100);
    expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
  it('makes tensors and rejects bad arguments', () => {
    const rng = createRng(5);
    const t = rng.normalTensor([3, 4], 2, 0.1);
    expect(t.shape).toEqual([3, 4]);
    t.dispose();
    expect(() => rng.int(0)).toThrow('n must be a positive integer, got 0');
    expect(() => createRng(NaN)).toThrow('seed must be a finite number, got NaN');
    expect(tf.memory().numTensors).toBe(0);
  });
});
