import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { chartSpec, renderChartSvg } from './charts.js';
import type { Chart, Check, Result } from './suite.js';

/** Where and on what a report was made. */
export interface Environment {
  node: string;
  platform: string;
  backend: string;
  backendReason: string;
  adapter: string | null;
  cpu: string;
  cores: number;
  memoryGiB: number;
  mode: 'quick' | 'full';
  seed: number;
  command: string;
  date: string;
  [key: string]: unknown;
}

/** One suite's part of a report. */
export interface SuiteReport {
  name: string;
  description: string;
  seconds: number;
  results: Result[];
  checks: Check[];
  charts: (Chart & { svg?: string })[];
  images: { name: string; path: string; title?: string }[];
  /** What the reader should know about this run of the suite (e.g. sizes shrunk on a slow adapter). */
  notes?: string[];
  error?: string;
}

/** The machine-readable report (`report.json`); other tools compare these, so keys are stable. */
export interface Report {
  environment: Environment;
  suites: SuiteReport[];
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3);
  if (Number.isInteger(v)) return String(v);
  return v.toPrecision(4);
}

function esc(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Results as one markdown table: name, every param, every metric (with its unit). */
export function resultsTable(results: Result[]): string {
  if (results.length === 0) return '_no results_\n';
  const params = [...new Set(results.flatMap((r) => Object.keys(r.params)))];
  const metrics = [...new Set(results.flatMap((r) => Object.keys(r.metrics)))];
  const unit = (m: string) => results.find((r) => r.metrics[m])?.metrics[m]?.unit ?? '';
  const head = ['result', ...params, ...metrics.map((m) => (unit(m) ? `${m} (${unit(m)})` : m))];
  const rows = results.map((r) => [
    r.name,
    ...params.map((p) => (r.params[p] === undefined ? '' : String(r.params[p]))),
    ...metrics.map((m) => (r.metrics[m] ? fmt(r.metrics[m]!.value) : '')),
  ]);
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n') + '\n';
}

function checksTable(checks: Check[]): string {
  if (checks.length === 0) return '';
  return [
    '| target | met | detail |',
    '| --- | --- | --- |',
    ...checks.map((c) => `| ${esc(c.name)} | ${c.pass ? 'yes' : '**no**'} | ${esc(c.detail)} |`),
  ].join('\n') + '\n';
}

/** Renders `report.md`: environment, then per suite its targets, results, charts and images. */
export function renderMarkdown(report: Report): string {
  const e = report.environment;
  const lines: string[] = [
    '# blockwise bench report',
    '',
    `\`${e.command}\` on ${e.date}`,
    '',
    '| node | platform | backend | adapter | cpu | cores | memory | mode | seed |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${e.node} | ${e.platform} | ${e.backend} (${esc(e.backendReason)}) | ${esc(e.adapter ?? 'none')} | ${esc(e.cpu)} | ${e.cores} | ${e.memoryGiB} GiB | ${e.mode} | ${e.seed} |`,
    '',
  ];
  for (const s of report.suites) {
    lines.push(`## ${s.name}`, '', `${s.description} (${s.seconds.toFixed(1)} s)`, '');
    if (s.error) lines.push(`**The suite failed:** \`${esc(s.error)}\``, '');
    if (s.checks.length) lines.push('### Targets', '', checksTable(s.checks));
    lines.push('### Results', '', resultsTable(s.results));
    for (const c of s.charts) if (c.svg) lines.push(`![${c.title}](${c.svg})`, '');
    for (const im of s.images) lines.push(`![${im.title ?? im.name}](${im.path})`, '');
  }
  return lines.join('\n');
}

function markdownTableToHtml(md: string): string {
  const rows = md.trim().split('\n').filter((l) => l.startsWith('|'));
  if (rows.length < 2) return `<p>${md}</p>`;
  const cells = (l: string) => l.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
  const h = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\*\*(.+?)\*\*/g, '<b>$1</b>');
  const head = cells(rows[0]!).map((c) => `<th>${h(c)}</th>`).join('');
  const body = rows.slice(2).map((r) => `<tr>${cells(r).map((c) => `<td>${h(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** Reads a package's browser build, or returns null (e.g. inside a bundle without node_modules). */
function script(pkg: string, file: string): string | null {
  try {
    const require = createRequire(import.meta.url);
    let dir = dirname(require.resolve(pkg));
    while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== pkg) {
      const up = dirname(dir);
      if (up === dir) return null;
      dir = up;
    }
    return readFileSync(join(dir, file), 'utf8').replace(/<\/script/gi, '<\\/script');
  } catch {
    return null;
  }
}

/**
 * Renders `report.html`: one self-contained page (Vega, Vega-Lite and vega-embed inlined, images
 * as data URIs) with interactive charts and the same tables, opening from disk without a server.
 */
export function renderHtml(report: Report, outDir: string): string {
  const e = report.environment;
  const libs = [script('vega', 'build/vega.min.js'), script('vega-lite', 'build/vega-lite.min.js'), script('vega-embed', 'build/vega-embed.min.js')];
  const interactive = libs.every((l) => l !== null);
  const specs: Record<string, unknown> = {};
  const parts: string[] = [];
  report.suites.forEach((s, si) => {
    parts.push(`<section><h2>${s.name}</h2><p>${s.description} (${s.seconds.toFixed(1)} s)</p>`);
    if (s.error) parts.push(`<p class="err">The suite failed: <code>${s.error}</code></p>`);
    if (s.checks.length) parts.push('<h3>Targets</h3>', markdownTableToHtml(checksTable(s.checks)));
    parts.push('<h3>Results</h3>', markdownTableToHtml(resultsTable(s.results)));
    s.charts.forEach((c, ci) => {
      const id = `chart-${si}-${ci}`;
      if (interactive) {
        specs[id] = chartSpec(c);
        parts.push(`<div class="chart" id="${id}"></div>`);
      } else if (c.svg) {
        // No Vega browser builds at hand (a bundled run): inline the SVG that Vega rendered.
        parts.push(`<div class="chart">${readFileSync(join(outDir, c.svg), 'utf8')}</div>`);
      }
    });
    for (const im of s.images) {
      const b64 = readFileSync(join(outDir, im.path)).toString('base64');
      parts.push(`<figure><img src="data:image/png;base64,${b64}" alt="${im.title ?? im.name}"><figcaption>${im.title ?? im.name}</figcaption></figure>`);
    }
    parts.push('</section>');
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>blockwise bench report</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}.chart{display:inline-block;margin:.5em}.err{color:#b00}figure{display:inline-block}
img{image-rendering:pixelated}code{background:#f6f6f6}
</style>
${interactive ? libs.map((l) => `<script>${l}</script>`).join('\n') : ''}
</head><body>
<h1>blockwise bench report</h1>
<p><code>${e.command}</code> on ${e.date}</p>
${markdownTableToHtml(
  `| node | platform | backend | adapter | cpu | cores | mode |\n| --- | --- | --- | --- | --- | --- | --- |\n| ${e.node} | ${e.platform} | ${e.backend} | ${e.adapter ?? 'none'} | ${e.cpu} | ${e.cores} | ${e.mode} |`,
)}
${parts.join('\n')}
${interactive ? `<script>
const specs = ${JSON.stringify(specs).replace(/</g, '\\u003c')};
for (const [id, spec] of Object.entries(specs)) vegaEmbed('#' + id, spec, { actions: false });
</script>` : ''}
</body></html>
`;
}

/** Writes report.json, report.md, report.html and one SVG per chart into `outDir`. */
export async function writeReport(report: Report, outDir: string): Promise<void> {
  for (const s of report.suites) {
    for (const c of s.charts) {
      const file = `${s.name}-${c.id}.svg`.replace(/[^A-Za-z0-9._-]/g, '_');
      writeFileSync(join(outDir, file), await renderChartSvg(c));
      c.svg = file;
    }
  }
  writeFileSync(join(outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(outDir, 'report.md'), renderMarkdown(report));
  writeFileSync(join(outDir, 'report.html'), renderHtml(report, outDir));
}
