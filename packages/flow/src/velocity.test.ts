import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { createRng } from '@blockwise/tensor';
import { describeBackends, expectClose } from '@blockwise/tensor/testing';
import { BlockwiseFlow } from './blockwise.js';
import { createVelocityMlp, stateFeatures } from './velocity.js';

/** Plain-JS forward pass of a dense ReLU MLP from its variables' values (kernel [in, out], bias [out]). */
function mlpReference(input: number[], weights: Float32Array[], widths: number[]): number[] {
  let h = input;
  for (let l = 0; l + 1 < widths.length; l++) {
    const [fin, fout] = [widths[l]!, widths[l + 1]!];
    const w = weights[2 * l]!;
    const b = weights[2 * l + 1]!;
    const out = Array.from({ length: fout }, (_, j) => {
      let s = b[j]!;
      for (let i = 0; i < fin; i++) s += h[i]! * w[i * fout + j]!;
      return s;
    });
    h = l + 2 < widths.length ? out.map((v) => Math.max(0, v)) : out;
  }
  return h;
}

describeBackends(['cpu', 'wasm', 'webgpu'], (backend) => {
  describe(`state Fourier features on ${backend}`, () => {
    it('stateFeatures: sin then cos of pi 2^k x / scale, coordinate-major', async () => {
      const x = tf.tensor2d([
        [0.25, -1.5],
        [2, 0.1],
      ]);
      const f = stateFeatures(x as tf.Tensor2D, 3, 2);
      expect(f.shape).toEqual([2, 12]);
      const want: number[] = [];
      for (const row of [
        [0.25, -1.5],
        [2, 0.1],
      ]) {
        const a = row.flatMap((v) => [0, 1, 2].map((k) => (Math.PI * 2 ** k * v) / 2));
        want.push(...a.map(Math.sin), ...a.map(Math.cos));
      }
      expectClose(await f.data(), want, { atol: 1e-5, label: 'features' });
      tf.dispose([x, f]);
    });

    it('createVelocityMlp with stateFrequencies: input [x, state features, time features], the forward pass of a plain-JS MLP', async () => {
      const n0 = tf.memory().numTensors;
      const v = createVelocityMlp({
        dim: 2,
        hidden: [5],
        frequencies: 1,
        stateFrequencies: 2,
        stateScale: 2,
        activation: 'relu',
        seed: 3,
      });
      // Input 2 + 2 * 2 * 2 + 1 + 2 = 13: FLOPs 2 * (13 * 5 + 5 * 2).
      expect(v.trainableVariables[0]!.shape).toEqual([13, 5]);
      expect(v.flopsPerCall).toBe(2 * (13 * 5 + 5 * 2));
      // Non-zero biases so the reference checks them too.
      tf.tidy(() => v.trainableVariables[1]!.assign(tf.tensor1d([0.1, -0.2, 0.3, 0, 0.05])));
      const xs = createRng(4).fillNormal(new Float32Array(3 * 2));
      const t = 0.3;
      const x = tf.tensor2d(xs, [3, 2]);
      const y = v.predict(x as tf.Tensor2D, t);
      const weights = await Promise.all(v.trainableVariables.map(async (w) => (await w.data()) as Float32Array));
      const want: number[] = [];
      for (let i = 0; i < 3; i++) {
        const row = [xs[2 * i]!, xs[2 * i + 1]!];
        const a = row.flatMap((c) => [0, 1].map((k) => (Math.PI * 2 ** k * c) / 2));
        const input = [...row, ...a.map(Math.sin), ...a.map(Math.cos), t, Math.sin(Math.PI * t), Math.cos(Math.PI * t)];
        want.push(...mlpReference(input, weights, [13, 5, 2]));
      }
      expectClose(await y.data(), want, { atol: 1e-4, rtol: 1e-4, label: 'velocity' });
      tf.dispose([x, y]);
      v.dispose();
      expect(tf.memory().numTensors).toBe(n0);
    });

    it('BlockwiseFlow passes stateFrequencies to every segment network; bad values throw naming the option', () => {
      const m = new BlockwiseFlow({ dim: 2, segments: 2, hidden: [4], frequencies: 0, stateFrequencies: 3 });
      // Input 2 + 2 * 2 * 3 + 1 = 15 per segment network.
      for (const net of m.nets) expect(net.trainableVariables[0]!.shape).toEqual([15, 4]);
      m.dispose();
      expect(() => createVelocityMlp({ dim: 2, hidden: [4], stateFrequencies: 1.5 })).toThrow(/stateFrequencies/);
      expect(() => createVelocityMlp({ dim: 2, hidden: [4], stateFrequencies: 25 })).toThrow(/stateFrequencies/);
      expect(() => createVelocityMlp({ dim: 2, hidden: [4], stateFrequencies: 2, stateScale: 0 })).toThrow(
        /stateScale/,
      );
      expect(() => new BlockwiseFlow({ dim: 2, segments: 1, hidden: [4], stateScale: NaN })).toThrow(/stateScale/);
    });
  });
});
