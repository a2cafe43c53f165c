/** Plots of one or more schedules: an SVG string (for reports and browsers) and a terminal chart. */
import type { Schedule } from './schedule.js';
import { arrayLike, knownKeys, objectArg, oneOf } from './validate.js';

/** Schedules (sampled at steps 0..steps-1) or already-sampled series, by name. */
export type PlotSeries = Record<string, Schedule | ArrayLike<number>>;

/** Options of the plots. */
export interface PlotOptions {
  /** Steps to sample each schedule at (default 100, at most 100000; arrays are used as they are). */
  steps?: number;
  /** Characters (terminal, default 72, at most 1000) or pixels (SVG, default 640, at most 20000). */
  width?: number;
  /** Rows (terminal, default 16, at most 500) or pixels (SVG, default 360, at most 20000). */
  height?: number;
  title?: string;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const MARKS = ['*', '+', 'o', 'x', '#', '@', '%', '&'];

/** Most steps a plot samples: more points than any screen shows, and bounded so a typo cannot exhaust memory. */
const MAX_PLOT_STEPS = 100_000;
/** Largest plot sides: characters for the terminal chart, pixels for SVG. */
const MAX_TERMINAL = { width: 1000, height: 500 };
const MAX_SVG = { width: 20_000, height: 20_000 };
const KEYS = ['steps', 'width', 'height', 'title'];

function side(what: string, name: string, v: unknown, dflt: number, max: number): number {
  const x = v ?? dflt;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > max) {
    throw new RangeError(
      `${what}: ${name} must be an integer in [1, ${max}], got ${typeof x === 'string' ? JSON.stringify(x) : String(x)}`,
    );
  }
  return x;
}

function readOptions(
  what: string,
  options: unknown,
  max: { width: number; height: number },
  dflt: { width: number; height: number },
  extra: string[] = [],
) {
  const o = objectArg(`${what}: options`, options ?? {});
  knownKeys(what, o, [...KEYS, ...extra]);
  if (o.title !== undefined && typeof o.title !== 'string')
    throw new TypeError(`${what}: title must be a string, got ${String(o.title)}`);
  return {
    steps: side(what, 'steps', o.steps, 100, MAX_PLOT_STEPS),
    W: side(what, 'width', o.width, dflt.width, max.width),
    H: side(what, 'height', o.height, dflt.height, max.height),
    title: o.title as string | undefined,
  };
}

function sample(series: PlotSeries, steps: number): [string, number[]][] {
  objectArg('plot: series', series);
  const out = Object.entries(series).map(([name, s]) => {
    const ys =
      typeof s === 'function'
        ? Array.from({ length: steps }, (_, i) => s(i))
        : Array.from(arrayLike(`plot: series ${JSON.stringify(name)}`, s) as ArrayLike<number>);
    ys.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new RangeError(`plot: series ${JSON.stringify(name)} has ${v} at index ${i}`);
    });
    return [name, ys] as [string, number[]];
  });
  if (out.length === 0 || out.every(([, ys]) => ys.length === 0))
    throw new RangeError('plot: give at least one non-empty series');
  return out;
}

function bounds(data: [string, number[]][]) {
  let lo = Infinity,
    hi = -Infinity,
    n = 0;
  for (const [, ys] of data) {
    for (const v of ys) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    n = Math.max(n, ys.length);
  }
  if (hi === lo) {
    hi += 0.5;
    lo -= 0.5;
  }
  return { lo, hi, n };
}

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
const fmt = (v: number) =>
  (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4) || v === 0 ? String(Number(v.toPrecision(4))) : v.toExponential(2);

/** An SVG line chart of the series (self-contained string, no scripts). */
export function plotSvg(series: PlotSeries, options: PlotOptions = {}): string {
  const { steps, W, H, title } = readOptions('plotSvg', options, MAX_SVG, { width: 640, height: 360 });
  options = { title };
  const data = sample(series, steps);
  const { lo, hi, n } = bounds(data);
  const m = { l: 60, r: 140, t: options.title ? 30 : 12, b: 36 };
  const x = (i: number) => m.l + (n <= 1 ? 0 : (i / (n - 1)) * (W - m.l - m.r));
  const y = (v: number) => m.t + (1 - (v - lo) / (hi - lo)) * (H - m.t - m.b);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
  ];
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  if (options.title)
    parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${esc(options.title)}</text>`);
  parts.push(
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#333"/><line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#333"/>`,
  );
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    parts.push(
      `<text x="${m.l - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text><line x1="${m.l}" y1="${y(v)}" x2="${W - m.r}" y2="${y(v)}" stroke="#eee"/>`,
    );
    const i = Math.round(((n - 1) * k) / 4);
    parts.push(`<text x="${x(i)}" y="${H - m.b + 16}" text-anchor="middle">${i}</text>`);
  }
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 4}" text-anchor="middle">step</text>`);
  data.forEach(([name, ys], k) => {
    const c = COLORS[k % COLORS.length] as string;
    const pts = ys.map((v, i) => `${x(i).toFixed(2)},${y(v).toFixed(2)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="1.5" points="${pts}"/>`);
    parts.push(
      `<line x1="${W - m.r + 10}" y1="${m.t + 10 + k * 16}" x2="${W - m.r + 28}" y2="${m.t + 10 + k * 16}" stroke="${c}" stroke-width="2"/><text x="${W - m.r + 32}" y="${m.t + 14 + k * 16}">${esc(name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** A text chart for terminals: one mark per series, y labels at top and bottom, a legend below. */
export function plotTerminal(series: PlotSeries, options: PlotOptions = {}): string {
  const { steps, W, H, title } = readOptions('plotTerminal', options, MAX_TERMINAL, { width: 72, height: 16 });
  options = { title };
  const data = sample(series, steps);
  const { lo, hi, n } = bounds(data);
  const grid = Array.from({ length: H }, () => new Array<string>(W).fill(' '));
  data.forEach(([, ys], k) => {
    const mark = MARKS[k % MARKS.length] as string;
    for (let c = 0; c < W; c++) {
      const i = Math.round((c / Math.max(1, W - 1)) * (ys.length - 1));
      if (i >= ys.length) continue;
      const r = Math.round((1 - (ys[i]! - lo) / (hi - lo)) * (H - 1));
      (grid[r] as string[])[c] = mark;
    }
  });
  const labelW = Math.max(fmt(hi).length, fmt(lo).length);
  const lines = grid.map(
    (row, r) => `${(r === 0 ? fmt(hi) : r === H - 1 ? fmt(lo) : '').padStart(labelW)} |${row.join('')}`,
  );
  lines.push(`${' '.repeat(labelW)} +${'-'.repeat(W)}`);
  lines.push(`${' '.repeat(labelW)}  0${String(n - 1).padStart(W - 1)}`);
  lines.push(data.map(([name], k) => `${MARKS[k % MARKS.length]} ${name}`).join('   '));
  if (options.title) lines.unshift(options.title);
  return lines.join('\n');
}

/** Renders the series as an SVG string (format 'svg', the default) or as a terminal chart (format 'terminal'). */
export function plot(series: PlotSeries, options: PlotOptions & { format?: 'svg' | 'terminal' } = {}): string {
  const o = objectArg('plot: options', options ?? {});
  knownKeys('plot', o, [...KEYS, 'format']);
  const { format = 'svg', ...rest } = o as PlotOptions & { format?: unknown };
  return oneOf('plot: format', format, ['svg', 'terminal'] as const) === 'svg'
    ? plotSvg(series, rest)
    : plotTerminal(series, rest);
}
