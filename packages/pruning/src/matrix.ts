/**
 * A weight matrix laid out as a tfjs Dense kernel: `shape = [inDim, outDim]`, row-major, so
 * weight (i, j) connects input feature i to output unit j and lives at `data[i * outDim + j]`.
 * An "output row" in the Wanda/SparseGPT sense (all weights feeding one output unit) is a
 * COLUMN of this matrix.
 */
export interface WeightMatrix {
  data: Float32Array;
  shape: [number, number];
}

/**
 * A pruning mask with the layout of its {@link WeightMatrix}: 1 keeps the weight, 0 prunes it.
 */
export type Mask = Uint8Array;

/**
 * How much to keep. Give exactly one of `density` (fraction of weights KEPT, in [0, 1]) or
 * `sparsity` (fraction PRUNED, `1 - density`). Density 1 (sparsity 0) leaves weights unchanged.
 */
export interface DensityOption {
  /** Fraction of weights kept, in [0, 1]. */
  density?: number;
  /** Fraction of weights pruned, in [0, 1]; alternative to `density`. */
  sparsity?: number;
}

/** An N:M pattern: in every group of `m` consecutive input weights of an output unit, exactly `n` are pruned. */
export interface NMPattern {
  n: number;
  m: number;
}

/** Builds a {@link WeightMatrix}, checking that `data.length === inDim * outDim`. */
export function weightMatrix(data: Float32Array, inDim: number, outDim: number): WeightMatrix {
  checkDims(inDim, outDim, 'weightMatrix');
  if (!(data instanceof Float32Array))
    throw new Error(`weightMatrix: data must be a Float32Array, got ${describe(data)}`);
  if (data.length !== inDim * outDim) {
    throw new Error(`weightMatrix: data.length must be inDim * outDim = ${inDim * outDim}, got ${data.length}`);
  }
  return { data, shape: [inDim, outDim] };
}

/** Fraction of ones in a mask (kept weights); 1 for an empty mask. */
export function maskDensity(mask: Mask): number {
  if (!(mask instanceof Uint8Array)) throw new Error(`maskDensity: mask must be a Uint8Array, got ${describe(mask)}`);
  if (mask.length === 0) return 1;
  let kept = 0;
  for (let i = 0; i < mask.length; i++) kept += mask[i]! ? 1 : 0;
  return kept / mask.length;
}

/** Returns a copy of the weights with pruned entries set to zero. */
export function applyMask(w: WeightMatrix, mask: Mask): Float32Array {
  checkMatrix(w, 'applyMask');
  checkMask(mask, w, 'applyMask');
  const out = new Float32Array(w.data.length);
  for (let i = 0; i < out.length; i++) out[i] = mask[i] ? w.data[i]! : 0;
  return out;
}

/** @internal */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as { length: number }).length})`;
  if (Array.isArray(v)) return `array(${v.length})`;
  return typeof v;
}

/** Throws a clear error for a missing or non-object options argument (before `checkOptions`). @internal */
export function requireOptions<T>(fn: string, options: T): T {
  if (options === undefined) throw new TypeError(`${fn}: options are required, got undefined`);
  return options;
}

/** Checks a square float64 matrix of `n x n` finite values (a Hessian or Gram matrix). @internal */
export function checkSquare(h: Float64Array, n: number, name: string): void {
  if (!(h instanceof Float64Array) || h.length !== n * n)
    throw new Error(`${name} must be a Float64Array of inDim^2 = ${n * n} values, got ${describe(h)}`);
  for (let i = 0; i < h.length; i++)
    if (!Number.isFinite(h[i]!)) throw new RangeError(`${name} must be finite, got ${h[i]} at index ${i}`);
}

/** @internal */
export function checkDims(inDim: number, outDim: number, fn: string): void {
  if (!Number.isInteger(inDim) || inDim <= 0) throw new Error(`${fn}: inDim must be a positive integer, got ${inDim}`);
  if (!Number.isInteger(outDim) || outDim <= 0)
    throw new Error(`${fn}: outDim must be a positive integer, got ${outDim}`);
}

/** @internal */
export function checkMatrix(w: WeightMatrix, fn: string): void {
  if (
    w === null ||
    typeof w !== 'object' ||
    !(w.data instanceof Float32Array) ||
    !Array.isArray(w.shape) ||
    w.shape.length !== 2
  ) {
    throw new Error(`${fn}: weights must be { data: Float32Array, shape: [inDim, outDim] }, got ${describe(w)}`);
  }
  checkDims(w.shape[0], w.shape[1], fn);
  if (w.data.length !== w.shape[0] * w.shape[1]) {
    throw new Error(
      `${fn}: weights.data.length must be ${w.shape[0]} * ${w.shape[1]} = ${w.shape[0] * w.shape[1]}, got ${w.data.length}`,
    );
  }
  for (let i = 0; i < w.data.length; i++) {
    if (!Number.isFinite(w.data[i]!)) throw new Error(`${fn}: weights must be finite, got ${w.data[i]} at index ${i}`);
  }
}

/** @internal */
export function checkMask(mask: Mask, w: WeightMatrix, fn: string, name = 'mask'): void {
  if (!(mask instanceof Uint8Array)) throw new Error(`${fn}: ${name} must be a Uint8Array, got ${describe(mask)}`);
  if (mask.length !== w.data.length)
    throw new Error(`${fn}: ${name}.length must equal the number of weights ${w.data.length}, got ${mask.length}`);
  for (let i = 0; i < mask.length; i++)
    if (mask[i]! > 1)
      throw new Error(`${fn}: ${name} must hold only 0 (pruned) and 1 (kept), got ${mask[i]} at index ${i}`);
}

/**
 * Resolves `{ density }` / `{ sparsity }` to a density in [0, 1]. Throws naming the argument when
 * both or neither are given, or the value is outside [0, 1].
 * @internal
 */
export function resolveDensity(opts: DensityOption, fn: string): number {
  const hasD = opts.density !== undefined;
  const hasS = opts.sparsity !== undefined;
  if (hasD && hasS)
    throw new Error(
      `${fn}: give either density or sparsity, not both (got density ${opts.density}, sparsity ${opts.sparsity})`,
    );
  if (!hasD && !hasS) throw new Error(`${fn}: density (fraction of weights kept, in [0, 1]) is required`);
  const name = hasD ? 'density' : 'sparsity';
  const v = (hasD ? opts.density : opts.sparsity) as number;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
    throw new Error(
      `${fn}: ${name} must be a number in [0, 1] (fraction of weights ${hasD ? 'kept' : 'pruned'}), got ${describe(v)}`,
    );
  }
  return hasD ? v : 1 - v;
}

/** Number of weights pruned out of `count` at a density: floor(count * (1 - density)), robust to rounding. @internal */
export function prunedCount(count: number, density: number): number {
  return Math.min(count, Math.floor(count * (1 - density) + 1e-9));
}

/** @internal */
export function checkNM(nm: NMPattern, inDim: number | undefined, fn: string): void {
  if (nm === null || typeof nm !== 'object') throw new Error(`${fn}: nm must be { n, m }, got ${describe(nm)}`);
  const { n, m } = nm;
  if (!Number.isInteger(m) || m < 2) throw new Error(`${fn}: nm.m must be an integer >= 2, got ${describe(m)}`);
  if (!Number.isInteger(n) || n < 1 || n >= m)
    throw new Error(`${fn}: nm.n must be an integer with 1 <= n < m = ${m}, got ${describe(n)}`);
  if (inDim !== undefined && inDim % m !== 0) {
    throw new Error(`${fn}: the input dimension ${inDim} must be a multiple of nm.m = ${m} for N:M pruning`);
  }
}

/**
 * Keeps, within every output unit (column), all but the `pruned` lowest scores. Ties break
 * towards the lower input index being pruned. Writes and returns `mask`.
 * @internal
 */
export function maskPerColumn(
  scores: Float64Array | Float32Array,
  inDim: number,
  outDim: number,
  pruned: number,
  mask: Mask,
): Mask {
  const idx = new Array<number>(inDim);
  const col = new Float64Array(inDim);
  for (let j = 0; j < outDim; j++) {
    for (let i = 0; i < inDim; i++) {
      idx[i] = i;
      col[i] = scores[i * outDim + j]!;
    }
    idx.sort((a, b) => col[a]! - col[b]! || a - b);
    for (let r = 0; r < inDim; r++) mask[idx[r]! * outDim + j] = r < pruned ? 0 : 1;
  }
  return mask;
}

/**
 * N:M selection on scores: in each group of `m` consecutive inputs of each output unit, prunes the
 * `n` lowest. Writes and returns `mask`.
 * @internal
 */
export function maskNM(
  scores: Float64Array | Float32Array,
  inDim: number,
  outDim: number,
  nm: NMPattern,
  mask: Mask,
): Mask {
  const { n, m } = nm;
  const idx = new Array<number>(m);
  for (let j = 0; j < outDim; j++) {
    for (let g = 0; g < inDim; g += m) {
      for (let t = 0; t < m; t++) idx[t] = g + t;
      idx.sort((a, b) => scores[a * outDim + j]! - scores[b * outDim + j]! || a - b);
      for (let t = 0; t < m; t++) mask[idx[t]! * outDim + j] = t < n ? 0 : 1;
    }
  }
  return mask;
}
