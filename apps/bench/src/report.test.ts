import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeGrayPng, imageGrid } from './png.js';
import { renderMarkdown, resultsTable, writeReport, type Report } from './report.js';

const dir = mkdtempSync(join(tmpdir(), 'blockwise-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function report(backend: string, ms: number): Report {
  return {
    environment: { node: 'v20', platform: 'linux-x64', backend, backendReason: 'test', adapter: null, cpu: 'cpu', cores: 2, memoryGiB: 24, mode: 'quick', seed: 1, command: 'blockwise-bench', date: '2026-11-26T00:00:00Z' },
    suites: [
      {
        name: 'demo', description: 'a demo suite', seconds: 1, checks: [{ name: 'fast', pass: true, detail: 'yes' }], images: [],
        results: [
          { name: 'matmul', params: { n: 256 }, metrics: { ms: { value: ms, unit: 'ms' }, gflops: { value: 4, unit: 'GFLOP/s' } } },
          { name: 'only here', params: {}, metrics: { x: { value: 1, unit: '' } } },
        ],
        charts: [{ id: 'c', title: 'a chart', kind: 'line', x: 'n', y: 'ms', series: [{ name: 's', points: [[1, 2], [2, 3]] }] }],
      },
    ],
  };
}

describe('reports', () => {
  it('writes json, markdown with SVG charts, and one self-contained html page', async () => {
    await writeReport(report('wasm', 10), dir);
    const json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
    expect(Object.keys(json)).toEqual(['environment', 'suites']);
    expect(json.suites[0]!.results[0]).toEqual({ name: 'matmul', params: { n: 256 }, metrics: { ms: { value: 10, unit: 'ms' }, gflops: { value: 4, unit: 'GFLOP/s' } } });
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('| result | n | ms (ms) | gflops (GFLOP/s) | x |');
    expect(md).toContain('![a chart](demo-c.svg)');
    expect(readFileSync(join(dir, 'demo-c.svg'), 'utf8')).toMatch(/^<svg/);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toContain('vegaEmbed(');
    expect(html).not.toMatch(/<script[^>]+src=/); // nothing loaded from elsewhere
  });
  it('formats tables with every param and metric', () => {
    expect(resultsTable([])).toBe('_no results_\n');
    expect(renderMarkdown(report('cpu', 1))).toContain('| fast | yes | yes |');
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
