import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { Chart } from './suite.js';

/** Ratio of the largest to the smallest positive y above which a chart goes log scale by itself. */
export const AUTO_LOG_RATIO = 30;

// Colour-blind-friendly, 10 distinct hues, then 10 lighter ones (never two series the same colour
// while a chart has at most 20).
const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
  '#1f3b63',
  '#a35200',
  '#8c1c1d',
  '#2f6f6a',
  '#2c5e26',
  '#9b7d00',
  '#6a3d66',
  '#c45a6a',
  '#5c3f2c',
  '#6f6a66',
];

/** Splits a title into lines of at most `width` characters at spaces (a long title is never cut). */
function wrap(text: string, width: number): string | string[] {
  if (text.length <= width) return text;
  const lines: string[] = [];
  let line = '';
  for (const w of text.split(' ')) {
    if (line && line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines;
}

/** Whether a chart shows y on a log scale: as set, or when its positive values span AUTO_LOG_RATIO or more. */
export function usesLogY(c: Chart): boolean {
  if (c.logY !== undefined) return c.logY;
  const ys = c.series.flatMap((s) => s.points.map(([, y]) => y)).filter((y) => Number.isFinite(y));
  if (ys.length < 2 || ys.some((y) => y <= 0)) return false;
  return Math.max(...ys) / Math.min(...ys) >= AUTO_LOG_RATIO;
}

/**
 * Turns a report chart into a Vega-Lite spec: one distinct colour per series, legend below the
 * plot with whole names, axes ending at the data, log y where values span 30x or more.
 */
export function chartSpec(c: Chart): vl.TopLevelSpec {
  const values = c.series.flatMap((s) =>
    s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => ({ series: s.name, x, y })),
  );
  const logY = usesLogY(c);
  const names = c.series.map((s) => s.name);
  const categories = new Set(values.map((v) => v.x)).size;
  const mark =
    c.kind === 'line'
      ? { type: 'line' as const, point: true }
      : c.kind === 'bar'
        ? { type: 'bar' as const }
        : { type: 'point' as const, filled: true, size: 60 };
  const xs = values.map((v) => v.x);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: wrap(c.title, 80) },
    width: 560,
    height: 260,
    data: { values },
    mark,
    encoding: {
      x:
        c.kind === 'bar'
          ? {
              field: 'x',
              type: 'ordinal',
              title: c.x,
              axis: { labelAngle: categories > 8 ? -40 : 0, labelOverlap: 'greedy' },
            }
          : {
              field: 'x',
              type: 'quantitative',
              title: c.x,
              // The axis ends at the data (no rounding out to 9,000 for data that stops at 2,048).
              scale: {
                ...(c.logX ? { type: 'log' as const } : { zero: false }),
                nice: false,
                ...(xs.length ? { domain: [Math.min(...xs), Math.max(...xs)] } : {}),
              },
              axis: { labelOverlap: 'greedy', labelFlush: true },
            },
      y: {
        field: 'y',
        type: 'quantitative',
        title: logY && !/log/.test(c.y) ? `${c.y} (log scale)` : c.y,
        scale: logY ? { type: 'log' as const } : c.kind === 'bar' ? { zero: true } : { zero: false },
      },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        sort: names,
        scale: { domain: names, range: PALETTE.slice(0, Math.max(1, names.length)) },
        legend: { orient: 'bottom', columns: names.length > 4 ? 2 : 1, labelLimit: 0, symbolLimit: 0 },
      },
      ...(c.kind === 'bar' ? { xOffset: { field: 'series', sort: names } } : {}),
      tooltip: [
        { field: 'series', type: 'nominal' },
        { field: 'x', type: c.kind === 'bar' ? 'ordinal' : 'quantitative', title: c.x },
        { field: 'y', type: 'quantitative', title: c.y, format: '.4~g' },
      ],
    },
  } as vl.TopLevelSpec;
}

/** Renders a chart to a standalone SVG document with Vega (no browser needed). */
export async function renderChartSvg(c: Chart): Promise<string> {
  const compiled = vl.compile(chartSpec(c)).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
