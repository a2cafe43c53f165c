import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeGrayPng, imageGrid } from './png.js';
import { chartSpec, usesLogY } from './charts.js';
import {
  formatValue,
  groupResults,
  MAX_COLUMNS,
  metricHeader,
  renderHtml,
  renderMarkdown,
  resultTables,
  resultsTable,
  writeReport,
  type Report,
} from './report.js';
import type { Chart, Result } from './suite.js';
import { testEnvironment } from './testReport.js';

const dir = mkdtempSync(join(tmpdir(), 'blockwise-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function report(backend: string, ms: number): Report {
  return {
    environment: testEnvironment(backend),
    suites: [
      {
        name: 'demo',
        description: 'a demo suite',
        seconds: 1,
        checks: [{ name: 'fast', pass: true, detail: 'yes' }],
        images: [],
        results: [
          {
            name: 'matmul',
            params: { n: 256 },
            metrics: { ms: { value: ms, unit: 'ms' }, gflops: { value: 4, unit: 'GFLOP/s' } },
          },
          { name: 'only here', params: {}, metrics: { x: { value: 1, unit: '' } } },
        ],
        charts: [
          {
            id: 'c',
            title: 'a chart',
            kind: 'line',
            x: 'n',
            y: 'ms',
            series: [
              {
                name: 's',
                points: [
                  [1, 2],
                  [2, 3],
                ],
              },
            ],
          },
        ],
      },
    ],
  };
}

describe('reports', () => {
  it('writes json, markdown with SVG charts, and one self-contained html page', async () => {
    await writeReport(report('wasm', 10), dir);
    const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
    expect(Object.keys(json)).toEqual(['environment', 'suites']);
    expect(json.suites[0]!.results[0]).toEqual({
      name: 'matmul',
      params: { n: 256 },
      metrics: { ms: { value: 10, unit: 'ms' }, gflops: { value: 4, unit: 'GFLOP/s' } },
    });
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    // One table per kind, units once, an arrow for the better direction.
    expect(md).toContain('| ms ↓ | GFLOP/s ↑ |');
    expect(md).toContain('| x |');
    expect(md).toContain('![a chart](demo-c.svg)');
    expect(readFileSync(join(dir, 'demo-c.svg'), 'utf8')).toMatch(/^<svg/);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toContain('vegaEmbed(');
    expect(html).not.toMatch(/<script[^>]+src=/); // nothing loaded from elsewhere
  });

  it('puts the Targets table and the headline chart before the results', () => {
    const rep = report('cpu', 1);
    rep.suites[0]!.charts[0]!.svg = 'demo-c.svg';
    const md = renderMarkdown(rep);
    expect(md).toContain('| fast | yes | yes |');
    const [t, c, r] = ['### Targets', '![a chart]', '### Results'].map((s) => md.indexOf(s));
    expect(t).toBeGreaterThan(0);
    expect(c).toBeGreaterThan(t!);
    expect(r).toBeGreaterThan(c!);
    expect(resultsTable([])).toBe('_no results_\n');
  });

  it('says notes (shrunk sizes) and failures under the suite heading, in markdown and html alike', async () => {
    const rep = report('webgpu', 1);
    rep.suites[0]!.notes = ['sequence length shrunk from 1024 to 256 on the software WebGPU adapter (quick mode)'];
    rep.suites[0]!.error = 'boom\n    at somewhere';
    const md = renderMarkdown(rep);
    expect(md).toContain('> Note: sequence length shrunk from 1024 to 256');
    expect(md).toContain('**The suite failed: boom**');
    expect(md).not.toContain('at somewhere');
    const html = renderHtml(rep, dir);
    expect(html).toContain('<p class="note">Note: sequence length shrunk from 1024 to 256');
  });
});

describe('sample images', () => {
  it('shows generated samples beside real ones in markdown and html', async () => {
    const sub = join(dir, 'images');
    mkdirSync(sub, { recursive: true });
    const g = imageGrid(new Float32Array(4 * 64).fill(0.5), 8, 8, 2, 2);
    writeFileSync(join(sub, 'demo-gen.png'), encodeGrayPng(g.gray, g.width, g.height));
    writeFileSync(join(sub, 'demo-gen-real.png'), encodeGrayPng(g.gray, g.width, g.height));
    const rep = report('wasm', 1);
    rep.suites[0]!.images = [
      { name: 'gen', path: 'demo-gen.png', realPath: 'demo-gen-real.png', title: 'BFM K=2 samples' },
    ];
    await writeReport(rep, sub);
    const md = readFileSync(join(sub, 'report.md'), 'utf8');
    expect(md).toContain('| BFM K=2 samples | real samples |');
    expect(md).toContain('| ![gen](demo-gen.png) | ![real](demo-gen-real.png) |');
    const html = readFileSync(join(sub, 'report.html'), 'utf8');
    expect(html).toMatch(
      /<figure class="pair"><div><img src="data:image\/png;base64,[^"]+" alt="gen"><img src="data:image\/png;base64,[^"]+" alt="real samples"><\/div><figcaption>BFM K=2 samples; right: real samples/,
    );
  });
});

describe('results tables', () => {
  const r = (name: string, params: Result['params'], metrics: Record<string, number>, kind?: string): Result => ({
    name,
    params,
    ...(kind ? { kind } : {}),
    metrics: Object.fromEntries(
      Object.entries(metrics).map(([k, v]) => [k, { value: v, unit: k.endsWith('Ms') ? 'ms' : '' }]),
    ),
  });

  it('groups by kind, else by the metrics carried; a subset group joins its superset', () => {
    const g = groupResults([
      r('a 1', { n: 1 }, { stepMs: 1, loss: 2 }),
      r('b', {}, { sw2: 1 }),
      r('a 2', { n: 2 }, { stepMs: 1 }),
      r('x', {}, { loss: 1 }, 'mine'),
      r('y', {}, { other: 1 }, 'mine'),
    ]);
    expect([...g.keys()]).toEqual(['a', 'b', 'mine']);
    expect(g.get('a')!.map((x) => x.name)).toEqual(['a 1', 'a 2']);
    expect(g.get('mine')!.map((x) => x.name)).toEqual(['x', 'y']);
  });

  it('has no empty column, says constant settings once, and keeps to 12 columns', () => {
    // 20 results of one kind, 3 varying and 2 constant params, 25 metrics, some missing.
    const rows = Array.from({ length: 20 }, (_, i) =>
      r(
        `run ${i}`,
        { seed: i, lr: i / 10, big: i % 2 === 0, backend: 'wasm', dim: 64 },
        Object.fromEntries(Array.from({ length: 25 }, (_, m) => [`m${m}Ms`, i + m]).filter((_, m) => m % 5 !== i % 5)),
        'runs',
      ),
    );
    const tables = resultTables('runs', rows);
    // key columns: result, seed, lr, big = 4, so at most 8 metrics a table: ceil(25 / 8) = 4
    // tables, the metrics spread evenly: ceil(25 / 4) = 7, 7, 7, 4.
    expect(tables).toHaveLength(4);
    expect(tables.map((t) => t.head.length - 4)).toEqual([7, 7, 7, 4]);
    expect(tables[0]!.caption).toBe('backend: wasm · dim: 64');
    for (const t of tables) {
      expect(t.head.length).toBeLessThanOrEqual(MAX_COLUMNS);
      expect(t.head.slice(0, 4)).toEqual(['result', 'seed', 'lr', 'big']);
      for (let c = 0; c < t.head.length; c++)
        expect(
          t.rows.some((row) => row[c] !== ''),
          `${t.title}: column ${t.head[c]}`,
        ).toBe(true);
    }
    expect(tables[0]!.head[4]).toBe('m1 (ms) ↓'); // first seen (run 0 has no m0)
  });

  it('drops the name column when every result has the same name, and a param that repeats the name', () => {
    const [t] = resultTables('step', [
      r('step', { optimizer: 'a', p: 1 }, { stepMs: 2 }),
      r('step', { optimizer: 'b', p: 1 }, { stepMs: 3 }),
    ]);
    expect(t!.head).toEqual(['optimizer', 'step (ms) ↓']);
    expect(t!.caption).toBe('p: 1');
    const [u] = resultTables('forecast', [
      r('wsd@150', { predicted: 'wsd@150' }, { mape: 1 }),
      r('rex@150', { predicted: 'rex@150' }, { mape: 2 }),
    ]);
    expect(u!.head).toEqual(['result', 'mape ↓']);
    expect(u!.caption).toBeUndefined();
  });

  it('writes the unit once and formats numbers to about 4 significant digits', () => {
    expect(metricHeader('ms', { value: 1, unit: 'ms' })).toBe('ms ↓');
    expect(metricHeader('stepMs', { value: 1, unit: 'ms' })).toBe('step (ms) ↓');
    expect(metricHeader('gflops', { value: 1, unit: 'GFLOP/s' })).toBe('GFLOP/s ↑');
    expect(metricHeader('stateBytesPerParam', { value: 1, unit: 'bytes' })).toBe('state bytes per param (bytes) ↓');
    expect(metricHeader('measuredDensity', { value: 1, unit: '' })).toBe('measured density');
    expect(metricHeader('trainGflop', { value: 1, unit: 'GFLOP' })).toBe('train (GFLOP) ↓');
    expect(metricHeader('x', { value: 1, unit: '', better: 'higher' })).toBe('x ↑');
    expect([
      formatValue(1048576),
      formatValue(0.12345),
      formatValue(29.2234),
      formatValue(2e-5),
      formatValue(96.8512, '%'),
      formatValue(12345.6),
      formatValue(Number.NaN),
    ]).toEqual(['1,048,576', '0.1235', '29.22', '2.00e-5', '96.9', '12,346', 'NaN']);
  });
});

describe('charts', () => {
  const chart = (ys: number[], logY?: boolean): Chart => ({
    id: 'c',
    title: 't',
    kind: 'bar',
    x: 'x',
    y: 'ms',
    ...(logY === undefined ? {} : { logY }),
    series: ys.map((y, i) => ({ name: `s${i}`, points: [[1, y]] })),
  });
  it('goes log scale by itself when bars differ by 30x or more', () => {
    expect(usesLogY(chart([12, 360]))).toBe(true); // 30x
    expect(usesLogY(chart([12, 300]))).toBe(false); // 25x
    expect(usesLogY(chart([12, 360], false))).toBe(false);
    expect(usesLogY(chart([0, 360]))).toBe(false); // log needs positive values
  });
  it('gives every series its own colour and keeps whole legend names', () => {
    const names = Array.from({ length: 14 }, (_, i) => `AdamW8bit(js kernel) variant ${i}`);
    const spec = chartSpec({
      id: 'c',
      title: 't',
      kind: 'line',
      x: 'n',
      y: 'ms',
      series: names.map((name, i) => ({ name, points: [[i + 1, i + 1]] })),
    }) as unknown as {
      encoding: {
        color: { scale: { range: string[] }; legend: { labelLimit: number } };
        x: { scale: { domain: number[]; nice: boolean } };
      };
    };
    expect(new Set(spec.encoding.color.scale.range).size).toBe(14);
    expect(spec.encoding.color.legend.labelLimit).toBe(0);
    // A long title wraps instead of being cut.
    const long = chartSpec({
      id: 'c',
      title: 'checkerboard: samples in the data cells (%, higher is better) against FLOPs per sample, 4/8/16/32 steps',
      kind: 'line',
      x: 'n',
      y: 'y',
      series: [],
    }) as unknown as { title: { text: string[] } };
    expect(long.title.text.join(' ')).toBe(
      'checkerboard: samples in the data cells (%, higher is better) against FLOPs per sample, 4/8/16/32 steps',
    );
    expect(long.title.text.every((l) => l.length <= 80)).toBe(true);
    // The x axis ends at the data: 1..14, not rounded out.
    expect(spec.encoding.x.scale).toMatchObject({ domain: [1, 14], nice: false });
  });
});

describe('PNG images', () => {
  it('encodes a valid grayscale PNG of an image grid', () => {
    const g = imageGrid(new Float32Array(2 * 4).fill(0.5), 2, 2, 2, 1);
    // 2 images of 2x2 side by side with 1-pixel gaps: width 2 * 3 + 1 = 7, height 3 + 1 = 4
    expect([g.width, g.height]).toEqual([7, 4]);
    const png = encodeGrayPng(g.gray, g.width, g.height);
    expect(Array.from(png.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  });
});
