import { checkNumber, checkOneOf, createRng } from '@blockwise/tensor';

/** Names of the seeded 2-D toy distributions. */
export type ToyName = 'checkerboard' | 'eightGaussians' | 'twoMoons' | 'rings';

/**
 * n seeded samples [n, 2] (row-major) from a 2-D toy distribution, all roughly within [-2.5, 2.5]:
 * - checkerboard: uniform on the 8 dark cells of a 4x4 board over [-2, 2]^2;
 * - eightGaussians: 8 Gaussians (std 0.15) at radius 2, angles k pi / 4;
 * - twoMoons: scikit-learn's two interleaved half circles (noise std 0.05), centered and scaled by 2;
 * - rings: 4 concentric circles of radii 0.5, 1, 1.5, 2 (radial noise std 0.04), points uniform in angle.
 */
export function sampleToy(name: ToyName, n: number, seed: number): Float32Array {
  checkOneOf('sampleToy: name', name, ['checkerboard', 'eightGaussians', 'twoMoons', 'rings'] as const);
  checkNumber('sampleToy: n', n, { integer: true, min: 1, max: 1e8 });
  checkNumber('sampleToy: seed', seed, { integer: true });
  const rng = createRng(seed);
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    let x: number;
    let y: number;
    switch (name) {
      case 'checkerboard': {
        const col = rng.int(4);
        const row = 2 * rng.int(2) + (col % 2);
        x = -2 + col + rng.next();
        y = -2 + row + rng.next();
        break;
      }
      case 'eightGaussians': {
        const a = (rng.int(8) * Math.PI) / 4;
        x = 2 * Math.cos(a) + rng.normal(0, 0.15);
        y = 2 * Math.sin(a) + rng.normal(0, 0.15);
        break;
      }
      case 'twoMoons': {
        const th = Math.PI * rng.next();
        const upper = rng.next() < 0.5;
        const mx = upper ? Math.cos(th) : 1 - Math.cos(th);
        const my = upper ? Math.sin(th) : 0.5 - Math.sin(th);
        x = 2 * (mx - 0.5 + rng.normal(0, 0.05));
        y = 2 * (my - 0.25 + rng.normal(0, 0.05));
        break;
      }
      case 'rings': {
        const r = 0.5 * (1 + rng.int(4)) + rng.normal(0, 0.04);
        const a = 2 * Math.PI * rng.next();
        x = r * Math.cos(a);
        y = r * Math.sin(a);
        break;
      }
      default:
        throw new Error(`name must be one of checkerboard, eightGaussians, twoMoons, rings, got ${String(name)}`);
    }
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
  return out;
}
