import type { Classifier } from '@blockwise/flow';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Share of 2-D points inside the checkerboard's 8 data cells (the dark cells of a 4x4 board over
 * [-2, 2]^2, `sampleToy('checkerboard')`). Uniform noise over the board scores 0.5; the data
 * scores 1.
 */
export function checkerboardInCells(x: ArrayLike<number>): number {
  const n = x.length / 2;
  if (!Number.isInteger(n) || n < 1) throw new Error(`x must hold a positive even number of values, got ${x.length}`);
  let inside = 0;
  for (let i = 0; i < n; i++) {
    const px = x[2 * i]!;
    const py = x[2 * i + 1]!;
    if (!(px >= -2 && px < 2 && py >= -2 && py < 2)) continue;
    // sampleToy puts column c's cells at rows of the parity of c.
    if ((Math.floor(px + 2) + Math.floor(py + 2)) % 2 === 0) inside++;
  }
  return inside / n;
}

/**
 * Share of rows (pixels [n, inputDim]) whose most likely class has softmax probability >= threshold:
 * how many generated digits a classifier trained on real digits reads as a clear digit.
 * Also returns how the confident rows spread over the classes (a collapse onto a few digits shows).
 */
export async function confidentShare(
  clf: Classifier,
  pixels: Float32Array,
  threshold = 0.9,
): Promise<{ share: number; perClass: number[] }> {
  const dim = clf.mlp.config.inputDim;
  const n = pixels.length / dim;
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`pixels must hold a positive multiple of ${dim} values, got ${pixels.length}`);
  const probs = tf.tidy(() => tf.softmax(clf.mlp.apply(tf.tensor2d(pixels, [n, dim]))));
  let p: Float32Array;
  try {
    p = (await probs.data()) as Float32Array;
  } finally {
    probs.dispose();
  }
  const classes = clf.mlp.config.outputDim;
  const perClass = new Array<number>(classes).fill(0);
  let confident = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (p[i * classes + c]! > p[i * classes + best]!) best = c;
    if (p[i * classes + best]! >= threshold) {
      confident++;
      perClass[best]!++;
    }
  }
  return { share: confident / n, perClass };
}

/** Density image of 2-D samples over [-2.5, 2.5]^2 (size x size bins, square-root scaled, max-normalized). */
export function densityImage(x: ArrayLike<number>, size = 48): Float32Array {
  const img = new Float32Array(size * size);
  for (let i = 0; i < x.length / 2; i++) {
    const c = Math.floor(((x[2 * i]! + 2.5) / 5) * size);
    const r = Math.floor(((2.5 - x[2 * i + 1]!) / 5) * size);
    if (c >= 0 && c < size && r >= 0 && r < size) img[r * size + c]! += 1;
  }
  let m = 0;
  for (const v of img) m = Math.max(m, v);
  return img.map((v) => Math.sqrt(v / (m || 1)));
}
