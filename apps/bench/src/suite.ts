/** A measured quantity with its unit ('ms', 'GFLOP/s', 'bytes', '%', '' for ratios). */
export interface Metric {
  value: number;
  unit: string;
}

/** One measured configuration: `params` say what distinguishes it, `metrics` what was measured. */
export interface Result {
  name: string;
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
  logY?: boolean;
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
    opts?: { cols?: number; scale?: number; title?: string },
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
