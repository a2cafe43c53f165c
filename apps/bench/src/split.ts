import { checkNumber, checkOptions, createRng, describeValue } from '@blockwise/tensor';

/** One side of a {@link digitsSplit}: rows in permutation order. */
export interface DigitsPart {
  /** Row-major `n x 64` pixels in [0, 1]. */
  x: Float32Array;
  /** Labels 0..9. */
  y: Int32Array;
  n: number;
  /** Row indices into the full set, in the order of `x` and `y`. */
  idx: Int32Array;
}

/** Options of {@link digitsSplit}. */
export interface DigitsSplitOptions {
  /** Share of the rows held out for testing (default 0.3). */
  testFraction?: number;
  /** Seed of the permutation; the same seed gives the same split. */
  seed: number;
}

/**
 * The bench's one train/test split of the digits: a seeded permutation of the rows
 * (`createRng(seed).permutation(n)`), the first `round(n * testFraction)` rows held out for
 * testing and the rest for training, both in permutation order. This is the split the
 * optimizers, schedules and pruning suites wrote by hand before (pruning carves its validation
 * set from the head of `train`). Browser-safe: the web page uses it too.
 */
export function digitsSplit(
  digits: { x: Float32Array; y: Int32Array; n: number },
  options: DigitsSplitOptions,
): { train: DigitsPart; test: DigitsPart } {
  if (
    typeof digits !== 'object' ||
    digits === null ||
    !(digits.x instanceof Float32Array) ||
    !(digits.y instanceof Int32Array)
  ) {
    throw new TypeError(
      `digitsSplit: digits must be { x: Float32Array, y: Int32Array, n }, got ${describeValue(digits)}`,
    );
  }
  const n = checkNumber('digitsSplit: digits.n', digits.n, { min: 2, integer: true });
  if (digits.x.length !== n * 64 || digits.y.length !== n) {
    throw new RangeError(
      `digitsSplit: digits.x must hold n * 64 = ${n * 64} values and digits.y n = ${n}, got ${digits.x.length} and ${digits.y.length}`,
    );
  }
  if (options === undefined) throw new TypeError('digitsSplit: options must be an object with a seed, got undefined');
  const o = checkOptions('digitsSplit', options, ['testFraction', 'seed']);
  const seed = checkNumber('digitsSplit: seed', o.seed);
  const testFraction = checkNumber('digitsSplit: testFraction', o.testFraction ?? 0.3, {
    min: 0,
    max: 1,
    exclusiveMin: true,
    exclusiveMax: true,
  });
  const perm = createRng(seed).permutation(n);
  const nTest = Math.round(n * testFraction);
  if (nTest < 1 || nTest >= n)
    throw new RangeError(`digitsSplit: testFraction ${testFraction} of ${n} rows leaves an empty side`);
  const take = (idx: Int32Array): DigitsPart => {
    const x = new Float32Array(idx.length * 64);
    const y = new Int32Array(idx.length);
    idx.forEach((k, r) => {
      x.set(digits.x.subarray(k * 64, k * 64 + 64), r * 64);
      y[r] = digits.y[k]!;
    });
    return { x, y, n: idx.length, idx: Int32Array.from(idx) };
  };
  return { test: take(perm.subarray(0, nTest)), train: take(perm.subarray(nTest)) };
}
