import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { Chart } from './suite.js';

/** Turns a report chart into a Vega-Lite spec (one coloured series per name). */
export function chartSpec(c: Chart): vl.TopLevelSpec {
  const values = c.series.flatMap((s) =>
    s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => ({ series: s.name, x, y })),
  );
  const mark = c.kind === 'line' ? { type: 'line' as const, point: true } : c.kind === 'bar' ? { type: 'bar' as const } : { type: 'point' as const, filled: true, size: 60 };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: c.title,
    width: 420,
    height: 260,
    data: { values },
    mark,
    encoding: {
      x: {
        field: 'x',
        type: c.kind === 'bar' ? 'ordinal' : 'quantitative',
        title: c.x,
        ...(c.logX ? { scale: { type: 'log' as const } } : {}),
      },
      y: { field: 'y', type: 'quantitative', title: c.y, ...(c.logY ? { scale: { type: 'log' as const } } : { scale: { zero: false } }) },
      color: { field: 'series', type: 'nominal', title: null },
      ...(c.kind === 'bar' ? { xOffset: { field: 'series' } } : {}),
      tooltip: [
        { field: 'series', type: 'nominal' },
        { field: 'x', type: 'quantitative', title: c.x },
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
