import { checkNumber, checkOptions, describeValue } from '@blockwise/tensor';

/**
 * The one timer and the one median of the bench (suites and the web page share them, so every
 * number in a report is measured the same way). Browser-safe: no Node imports.
 */

/** Median of a non-empty list of finite numbers (mean of the two middle values for even lengths). */
export function median(xs: readonly number[]): number {
  if (!Array.isArray(xs) || xs.length === 0)
    throw new RangeError(`median: xs must be a non-empty array of numbers, got ${describeValue(xs)}`);
  const s = xs.map((x, i) => {
    if (typeof x !== 'number' || Number.isNaN(x))
      throw new TypeError(`median: xs[${i}] must be a number, got ${describeValue(x)}`);
    return x;
  });
  s.sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Options of {@link timeBest}. */
export interface TimeBestOptions {
  /** Timed runs always made (default 3). */
  repeats?: number;
  /**
   * More runs (up to `maxRepeats`) are made while the time spent plus the best run so far stays
   * under this many milliseconds (default 0: exactly `repeats` runs).
   */
  budgetMs?: number;
  /** Upper bound on timed runs when a budget allows more (default 10). */
  maxRepeats?: number;
  /**
   * Untimed runs first, for shader compilation, state creation, caches (default 0, as the
   * attention suite's timer had: pass 1 when the first call compiles).
   */
  warmup?: number;
}

/** What {@link timeBest} measured, in milliseconds. */
export interface Timing {
  /** The fastest run: the one least disturbed by other work on a shared machine. */
  bestMs: number;
  medianMs: number;
  /** Every timed run, in order. */
  samples: number[];
}

interface Readable {
  data(): Promise<unknown>;
  dispose(): void;
}

const isReadable = (v: unknown): v is Readable =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as Readable).data === 'function' &&
  typeof (v as Readable).dispose === 'function';

/**
 * Waits for what `fn` returned. A tensor (or an array of tensors) is read back and disposed, so
 * the time includes the device finishing the work: tfjs kernels on WebGPU and WebGL only queue
 * work, and a timer that stops before a read measures the queueing.
 */
async function settle(out: unknown): Promise<void> {
  const v = await out;
  const list = Array.isArray(v) ? v : [v];
  const tensors = list.filter(isReadable);
  try {
    await Promise.all(tensors.map((t) => t.data()));
  } finally {
    for (const t of tensors) t.dispose();
  }
}

/**
 * Best-of-n wall time of `fn`: `warmup` untimed runs, then at least `repeats` timed runs, and
 * more (up to `maxRepeats`) while the total stays under `budgetMs`. `fn` may be async; when it
 * returns tensors they are read back (inside the timing) and disposed.
 */
export async function timeBest(fn: () => unknown, options?: TimeBestOptions): Promise<Timing> {
  if (typeof fn !== 'function') throw new TypeError(`timeBest: fn must be a function, got ${describeValue(fn)}`);
  const o = checkOptions('timeBest', options, ['repeats', 'budgetMs', 'maxRepeats', 'warmup']);
  const repeats = checkNumber('timeBest: repeats', o.repeats ?? 3, { min: 1, max: 1e6, integer: true });
  const maxRepeats = checkNumber('timeBest: maxRepeats', o.maxRepeats ?? Math.max(10, repeats), {
    min: repeats,
    max: 1e6,
    integer: true,
  });
  const budgetMs = checkNumber('timeBest: budgetMs', o.budgetMs ?? 0, { min: 0, allowInfinity: false });
  const warmup = checkNumber('timeBest: warmup', o.warmup ?? 0, { min: 0, max: 1e6, integer: true });
  for (let i = 0; i < warmup; i++) await settle(fn());
  const samples: number[] = [];
  let spent = 0;
  let best = Infinity;
  while (samples.length < maxRepeats && (samples.length < repeats || spent + best < budgetMs)) {
    const t0 = performance.now();
    await settle(fn());
    const dt = performance.now() - t0;
    samples.push(dt);
    spent += dt;
    best = Math.min(best, dt);
  }
  return { bestMs: best, medianMs: median(samples), samples };
}
