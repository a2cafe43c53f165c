import { checkOptions } from '@blockwise/tensor';
import {
  checkMatrix,
  requireOptions,
  checkNM,
  maskNM,
  prunedCount,
  resolveDensity,
  type DensityOption,
  type Mask,
  type NMPattern,
  type WeightMatrix,
} from './matrix.js';

/** Options of {@link magnitudeMask}. */
export interface MagnitudeMaskOptions extends DensityOption {
  /** N:M pattern instead of unstructured pruning; `density` is then implied (1 - n/m) and may be omitted. */
  nm?: NMPattern;
}

/**
 * Layer-wise magnitude pruning: keeps the weights with the largest |w|. Prunes exactly
 * floor(count * (1 - density)) weights (ties: lower flat index pruned first). With `nm`, prunes the
 * `n` smallest in every group of `m` consecutive inputs of each output unit.
 */
export function magnitudeMask(w: WeightMatrix, options: MagnitudeMaskOptions): Mask {
  const opts = checkOptions('magnitudeMask', requireOptions('magnitudeMask', options), ['density', 'sparsity', 'nm']);
  checkMatrix(w, 'magnitudeMask');
  const [inDim, outDim] = w.shape;
  const mask = new Uint8Array(w.data.length);
  const scores = new Float64Array(w.data.length);
  for (let i = 0; i < scores.length; i++) scores[i] = Math.abs(w.data[i]!);
  if (opts.nm) {
    checkNM(opts.nm, inDim, 'magnitudeMask');
    checkImpliedDensity(opts, opts.nm, 'magnitudeMask');
    return maskNM(scores, inDim, outDim, opts.nm, mask);
  }
  const density = resolveDensity(opts, 'magnitudeMask');
  selectLowest([scores], [mask], prunedCount(scores.length, density));
  return mask;
}

/**
 * Global magnitude pruning over several matrices: one threshold for all, so layers end with
 * different densities while the total density is exact (floor of the total count).
 */
export function globalMagnitudeMasks(ws: WeightMatrix[], options: DensityOption): Mask[] {
  const opts = checkOptions('globalMagnitudeMasks', requireOptions('globalMagnitudeMasks', options), [
    'density',
    'sparsity',
  ]);
  if (!Array.isArray(ws) || ws.length === 0)
    throw new Error(`globalMagnitudeMasks: ws must be a non-empty array of weight matrices`);
  ws.forEach((w, k) => checkMatrix(w, `globalMagnitudeMasks (ws[${k}])`));
  const density = resolveDensity(opts, 'globalMagnitudeMasks');
  const scores = ws.map((w) => Float64Array.from(w.data, (v) => Math.abs(v)));
  const masks = ws.map((w) => new Uint8Array(w.data.length));
  const total = ws.reduce((s, w) => s + w.data.length, 0);
  selectLowest(scores, masks, prunedCount(total, density));
  return masks;
}

/**
 * Marks the `pruned` lowest scores across all arrays as 0 and the rest as 1.
 * @internal
 */
export function selectLowest(scores: (Float64Array | Float32Array)[], masks: Mask[], pruned: number): void {
  const total = scores.reduce((s, a) => s + a.length, 0);
  const layer = new Int32Array(total);
  const pos = new Int32Array(total);
  const val = new Float64Array(total);
  let t = 0;
  scores.forEach((a, l) => {
    for (let i = 0; i < a.length; i++, t++) {
      layer[t] = l;
      pos[t] = i;
      val[t] = a[i]!;
    }
  });
  const order = Array.from({ length: total }, (_, i) => i);
  order.sort((a, b) => val[a]! - val[b]! || a - b);
  for (let r = 0; r < total; r++) {
    const k = order[r]!;
    masks[layer[k]!]![pos[k]!] = r < pruned ? 0 : 1;
  }
}

/** @internal */
export function checkImpliedDensity(opts: DensityOption, nm: NMPattern, fn: string): void {
  if (opts.density === undefined && opts.sparsity === undefined) return;
  const d = resolveDensity(opts, fn);
  const implied = 1 - nm.n / nm.m;
  if (Math.abs(d - implied) > 1e-9) {
    throw new Error(
      `${fn}: density ${d} contradicts the N:M pattern ${nm.n}:${nm.m}, which implies density ${implied}; omit density or make them agree`,
    );
  }
}
