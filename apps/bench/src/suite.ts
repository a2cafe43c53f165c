/** A measured quantity with its unit ('ms', 'GFLOP/s', 'bytes', '%', '' for ratios). */
export interface Metric {
  value: number;
  unit: string;
  /**
   * Which direction is an improvement (charts and `compare` use it). When absent,
   * {@link metricDirection} infers it from the unit and the name.
   */
  better?: 'lower' | 'higher';
}

/** One measured configuration: `params` say what distinguishes it, `metrics` what was measured. */
export interface Result {
  name: string;
  /**
   * Which table of the report the result belongs to ('step time', 'parity', ...): results of one
   * kind share columns. When absent the report groups results by the metrics they carry.
   */
  kind?: string;
  params: Record<string, string | number | boolean>;
  metrics: Record<string, Metric>;
  samples?: unknown[];
}

/** A chart for the reports: series of (x, y) points. */
export interface Chart {
  id: string;
  title: string;
  kind: 'line' | 'scatter' | 'bar';
  x: string;
  y: string;
  logX?: boolean;
  /**
   * Log scale on y. When absent, the chart uses a log scale if its positive values span 30x or
   * more (a 12 ms bar stays visible beside a 360 ms one).
   */
  logY?: boolean;
  /** The suite's headline chart, shown right after its Targets table (default: the first chart). */
  headline?: boolean;
  series: { name: string; points: [number, number][] }[];
}

/** A target from an issue and whether this run met it. */
export interface Check {
  name: string;
  pass: boolean;
  detail: string;
}

/** Real data shipped with the bench app. */
export interface BenchData {
  /** 1,797 8x8 digits, pixels scaled to [0, 1], row-major `n x 64`, labels 0..9. */
  digits(): { x: Float32Array; y: Int32Array; n: number; dim: 64 };
  /** English text (quotations, verse), entries separated by blank lines. */
  text(): string;
}

/** What a suite gets from the runner. */
export interface SuiteContext {
  /** The tfjs backend in use ('wasm', 'cpu', 'webgpu', ...). */
  backend: string;
  /** True on WebGPU through a software adapter (Mesa lavapipe, SwiftShader): slow, so quick runs shrink sizes. */
  softwareAdapter?: boolean;
  /** Adds a note under the suite's heading in the report (e.g. which sizes were shrunk and why). */
  note?(msg: string): void;
  quick: boolean;
  full: boolean;
  seed: number;
  progress(label: string, done: number, total: number): void;
  log(msg: string): void;
  /** Adds a chart to the report. */
  chart(c: Chart): void;
  /** Writes a file into the run folder; returns its path relative to the report. */
  writeFile(name: string, data: string | Uint8Array): string;
  /** Writes a grayscale image grid (values in [0, 1], images of width x height) as PNG. */
  image(
    name: string,
    pixels: Float32Array,
    width: number,
    height: number,
    opts?: {
      cols?: number;
      scale?: number;
      title?: string;
      /** Real samples (same width and height) shown beside the generated ones. */
      real?: Float32Array;
    },
  ): string;
  data: BenchData;
}

/** A benchmark suite: it measures, returns results and checks its targets. */
export interface Suite {
  name: string;
  description: string;
  run(ctx: SuiteContext): Promise<Result[]>;
  validate?(results: Result[], ctx: SuiteContext): Check[];
}

// Inference of `better` when a metric does not say: by unit first (a time or a size is a cost,
// a rate is a gain), then by words in the name. Lower: ms, s, bytes, loss, error, perplexity,
// distance (and the sample-quality distances fd, sw2, w2, mmd, rmse, mape). Higher: GFLOP/s,
// GB/s, tokens/s, accuracy, speed-up.
const LOWER_UNITS = new Set([
  'ms',
  's',
  'us',
  'ns',
  'bytes',
  'B',
  'KiB',
  'MiB',
  'GiB',
  'nats',
  'bits',
  'FLOP',
  'GFLOP',
  'TFLOP',
]);
const HIGHER_UNIT = /\/s$/; // GFLOP/s, GB/s, tokens/s, samples/s
const LOWER_NAME =
  /(ms|time|seconds|bytes|loss|error|err|perplexity|distance|rmse|mape|mae|^fd$|^sw2$|^w2$|^mmd$|nfe)$/i;
const HIGHER_NAME = /(accuracy|acc|speed-?up|speedup|throughput|persecond|gflops|gbps|spearman|reduction)$/i;

/**
 * Whether lower or higher values of a metric are better: `metric.better` when set, otherwise
 * inferred from the unit and then the name (see the comment above); undefined when neither
 * says (a setting or a count such as measured density).
 */
export function metricDirection(name: string, metric: Metric): 'lower' | 'higher' | undefined {
  if (metric.better === 'lower' || metric.better === 'higher') return metric.better;
  if (HIGHER_UNIT.test(metric.unit)) return 'higher';
  if (/accuracy/i.test(name)) return 'higher';
  if (LOWER_UNITS.has(metric.unit)) {
    // A byte count or FLOP count of a ratio (`stateRatioVsTfjsAdam`) is still a cost.
    return 'lower';
  }
  const base = name.replace(/(Vs|Per)[A-Z0-9].*$/, '');
  if (HIGHER_NAME.test(base)) return 'higher';
  if (LOWER_NAME.test(base)) return 'lower';
  if (/ratio/i.test(name) && /(ms|time|step|bytes|state|memory)/i.test(name)) return 'lower';
  return undefined;
}

/** Options of {@link shrinkSize}. */
export interface ShrinkOptions {
  /** Factor applied on a slow backend (default 0.25). */
  factor?: number;
  /** Smallest size returned (default 1). */
  min?: number;
  /** Round down to a multiple of this (default 1), e.g. a block size. */
  multipleOf?: number;
  /** What the size is, for the report's note ('sequence length'). */
  what: string;
}

/**
 * A size for this run: `size` itself, except in quick mode on a software WebGPU adapter, where
 * it is scaled by `factor` (at least `min`, rounded down to `multipleOf`) and the report gets a
 * note saying so. Suites use it so `--backend webgpu` finishes on CI machines without a GPU.
 */
export function shrinkSize(ctx: SuiteContext, size: number, options: ShrinkOptions): number {
  if (!Number.isFinite(size) || size < 1)
    throw new RangeError(`shrinkSize: size must be a finite number >= 1, got ${size}`);
  const { factor = 0.25, min = 1, multipleOf = 1, what } = options;
  if (!(factor > 0 && factor <= 1)) throw new RangeError(`shrinkSize: factor must be in (0, 1], got ${factor}`);
  if (!ctx.softwareAdapter || ctx.full) return size;
  const m = Math.max(1, Math.floor(multipleOf));
  const shrunk = Math.max(min, Math.floor((size * factor) / m) * m);
  if (shrunk < size) ctx.note?.(`${what} shrunk from ${size} to ${shrunk} on the software WebGPU adapter (quick mode)`);
  return Math.min(size, shrunk);
}
