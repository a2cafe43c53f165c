import { createRng } from '@blockwise/tensor';
import { layerStatsFromInputs, type LayerStats } from './calibration.js';
import { weightMatrix, type WeightMatrix } from './matrix.js';

/**
 * A small random layer problem for tests and examples: normal weights `[inDim, outDim]` and
 * calibration inputs with correlated features (x = z A, feature scales vary), so that Wanda,
 * SparseGPT and iCBS differ from magnitude pruning.
 * @internal
 */
export function randomLayerProblem(
  inDim: number,
  outDim: number,
  rows: number,
  seed: number,
): { w: WeightMatrix; x: Float32Array; stats: LayerStats } {
  const rng = createRng(seed);
  const w = weightMatrix(rng.fillNormal(new Float32Array(inDim * outDim)), inDim, outDim);
  const mix = rng.fillNormal(new Float32Array(inDim * inDim), 0, 0.4);
  for (let i = 0; i < inDim; i++) mix[i * inDim + i] = 1 + rng.uniform(0, 3);
  const z = rng.fillNormal(new Float32Array(rows * inDim));
  const x = new Float32Array(rows * inDim);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < inDim; j++) {
      let s = 0;
      for (let k = 0; k < inDim; k++) s += z[r * inDim + k]! * mix[k * inDim + j]!;
      x[r * inDim + j] = s;
    }
  }
  return { w, x, stats: layerStatsFromInputs(x, rows, inDim) };
}
