import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { createRng } from '@blockwise/tensor';

/**
 * A small MLP (16 -> 12 relu -> 8 relu -> 4) with seeded weights and correlated calibration
 * inputs, for model-level tests.
 * @internal
 */
export function smallModel(seed = 1): { model: tfl.LayersModel; x: tf.Tensor2D; y: tf.Tensor2D } {
  const rng = createRng(seed);
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [16], units: 12, activation: 'relu', name: 'hidden1' }),
      tfl.layers.dense({ units: 8, activation: 'relu', name: 'hidden2' }),
      tfl.layers.dense({ units: 4, name: 'logits' }),
    ],
  });
  for (const l of model.layers) {
    const ws = l.getWeights();
    const fresh = ws.map((w) => tf.tensor(rng.fillNormal(new Float32Array(w.size), 0, 0.5), w.shape));
    l.setWeights(fresh);
    fresh.forEach((t) => t.dispose());
  }
  const n = 64;
  const z = rng.fillNormal(new Float32Array(n * 16));
  const xs = new Float32Array(n * 16);
  for (let r = 0; r < n; r++)
    for (let j = 0; j < 16; j++) xs[r * 16 + j] = z[r * 16 + j]! * (1 + (j % 5)) + 0.5 * z[r * 16 + ((j + 1) % 16)]!;
  const labels = Int32Array.from({ length: n }, () => rng.int(4));
  const x = tf.tensor2d(xs, [n, 16]);
  const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 4), 'float32')) as tf.Tensor2D;
  return { model, x, y };
}
