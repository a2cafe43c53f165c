import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { chartSpec, renderChartSvg } from './charts.js';
import { metricDirection, type Chart, type Check, type Metric, type Result } from './suite.js';

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
  /** Sample grids; `realPath`, when set, is a grid of real samples shown beside the generated ones. */
  images: { name: string; path: string; title?: string; realPath?: string }[];
  /** What the reader should know about this run of the suite (e.g. sizes shrunk on a slow adapter). */
  notes?: string[];
  error?: string;
}

/** The machine-readable report (`report.json`); other tools compare these, so keys are stable. */
export interface Report {
  environment: Environment;
  suites: SuiteReport[];
}

/** Formats a number for a table: about 4 significant digits, thousands separated, tiny and huge values in exponent form. */
export function formatValue(v: number, unit = ''): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e12 || a < 1e-3) return v.toExponential(2);
  if (unit === '%') return a >= 10 ? v.toFixed(1) : v.toPrecision(3);
  if (Number.isInteger(v) || a >= 1e4) return Math.round(v).toLocaleString('en-US');
  return String(Number(v.toPrecision(4)));
}

function formatParam(v: string | number | boolean | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) >= 1e4 ? v.toLocaleString('en-US') : String(v);
  return v;
}

/** `stepRatioVsTfjsAdam` -> `step ratio vs tfjs adam`: headers wrap between words. */
function words(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/^./, (c) => c.toLowerCase())
    .replace(/ ([A-Z])(?=[a-z])/g, (_, c: string) => ` ${c.toLowerCase()}`);
}

const UNIT_WORDS: Record<string, RegExp> = {
  ms: /\s*ms$/i,
  s: /\s*(s|seconds)$/i,
  'GFLOP/s': /\s*gflops$/i,
  'GB/s': /\s*gbps$/i,
  bytes: /\s*bytes$/i,
  GFLOP: /\s*gflops?$/i,
  FLOP: /\s*flops?$/i,
  'tokens/s': /\s*tokens per second$/i,
};

/**
 * A metric's column header: its name in words with the unit once ("step (ms)", not
 * "stepMs (ms)"; "GFLOP/s", not "gflops (GFLOP/s)"), and an arrow saying which way is better.
 */
export function metricHeader(name: string, metric: Metric): string {
  let label = words(name);
  const strip = UNIT_WORDS[metric.unit];
  if (strip) label = label.replace(strip, '');
  const dir = metricDirection(name, metric);
  const arrow = dir === 'lower' ? ' ↓' : dir === 'higher' ? ' ↑' : '';
  if (!label) return `${metric.unit}${arrow}`;
  return `${label}${metric.unit ? ` (${metric.unit})` : ''}${arrow}`;
}

/** A table as both renderers get it: the same cells in report.md and report.html. */
export interface Table {
  title?: string;
  /** Settings shared by every row (params with one value), said once instead of a column each. */
  caption?: string;
  head: string[];
  /** 'r' for numbers. */
  align: ('l' | 'r')[];
  rows: string[][];
}

/** Most columns of a results table (the report must fit a 1,400 px window). */
export const MAX_COLUMNS = 12;

/**
 * Groups results into tables: by `kind` where a result has one, otherwise by the metrics it
 * carries (a group whose metrics are a subset of another's joins it when the columns stay
 * within {@link MAX_COLUMNS}). Keys are table titles, in first-seen order.
 */
export function groupResults(results: Result[]): Map<string, Result[]> {
  const groups: { title: string; explicit: boolean; metrics: Set<string>; params: Set<string>; rows: Result[] }[] = [];
  for (const r of results) {
    const mk = Object.keys(r.metrics);
    const sig = r.kind ?? `\u0000${[...mk].sort().join(',')}`;
    let g = groups.find((x) => (x.explicit ? x.title === r.kind : `\u0000${[...x.metrics].sort().join(',')}` === sig));
    if (!g) {
      g = { title: r.kind ?? '', explicit: r.kind !== undefined, metrics: new Set(), params: new Set(), rows: [] };
      groups.push(g);
    }
    mk.forEach((m) => g.metrics.add(m));
    Object.keys(r.params).forEach((p) => g.params.add(p));
    g.rows.push(r);
  }
  // Merge inferred groups into a superset group when the merged table stays narrow enough.
  for (let i = groups.length - 1; i >= 0; i--) {
    const g = groups[i]!;
    if (g.explicit) continue;
    const host = groups.find(
      (h) =>
        h !== g &&
        !h.explicit &&
        [...g.metrics].every((m) => h.metrics.has(m)) &&
        1 + new Set([...h.params, ...g.params]).size + h.metrics.size <= MAX_COLUMNS,
    );
    if (host) {
      host.rows.push(...g.rows);
      g.params.forEach((p) => host.params.add(p));
      groups.splice(i, 1);
    }
  }
  const out = new Map<string, Result[]>();
  for (const g of groups) {
    let title = g.title;
    if (!g.explicit) {
      // The words every result name starts with, else the metrics the table holds.
      const first = g.rows[0]!.name.split(' ');
      let n = first.length;
      for (const r of g.rows) {
        const w = r.name.split(' ');
        let k = 0;
        while (k < n && w[k] === first[k]) k++;
        n = k;
      }
      title = n > 0 ? first.slice(0, n).join(' ') : [...g.metrics].map(words).join(', ');
    }
    while (out.has(title)) title += ' ';
    out.set(title, g.rows);
  }
  return out;
}

/** One kind of results as tables: columns only for what varies or was measured, at most MAX_COLUMNS each. */
export function resultTables(title: string, rows: Result[]): Table[] {
  const names = [...new Set(rows.map((r) => r.name))];
  const params = [...new Set(rows.flatMap((r) => Object.keys(r.params)))];
  // A param that only repeats the result's name (`predicted: 'wsd@150'` in 'wsd@150') gets no column.
  const echoesName = (p: string) => rows.every((r) => String(r.params[p]) === r.name);
  const varying = params.filter(
    (p) => new Set(rows.map((r) => JSON.stringify(r.params[p]))).size > 1 && !echoesName(p),
  );
  const constant = params.filter((p) => !varying.includes(p) && !echoesName(p));
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  const sample = (m: string) => rows.find((r) => r.metrics[m])!.metrics[m]!;
  const captionParts = constant.map((p) => `${words(p)}: ${formatParam(rows[0]!.params[p])}`);
  const showName = names.length > 1;
  if (!showName && names[0] !== title.trim()) captionParts.unshift(names[0]!);
  let keyCols = [...(showName ? ['result'] : []), ...varying.map(words)];
  let keyCells = (r: Result) => [...(showName ? [r.name] : []), ...varying.map((p) => formatParam(r.params[p]))];
  if (keyCols.length > MAX_COLUMNS / 2) {
    // Too many varying settings for columns: one column says them all.
    keyCols = ['result'];
    keyCells = (r: Result) => [
      [showName ? r.name : '', varying.map((p) => `${words(p)}=${formatParam(r.params[p])}`).join(', ')]
        .filter(Boolean)
        .join(': '),
    ];
  }
  // Split the metrics evenly over as few tables as the column limit allows (8 + 1, not 11 + 1...).
  const room = Math.max(1, MAX_COLUMNS - keyCols.length);
  const per = Math.ceil(metrics.length / Math.max(1, Math.ceil(metrics.length / room)));
  const tables: Table[] = [];
  for (let i = 0; i < Math.max(1, metrics.length); i += per) {
    const ms = metrics.slice(i, i + per);
    tables.push({
      title:
        metrics.length > per ? `${title.trim()} (${i / per + 1} of ${Math.ceil(metrics.length / per)})` : title.trim(),
      ...(captionParts.length && i === 0 ? { caption: captionParts.join(' · ') } : {}),
      head: [...keyCols, ...ms.map((m) => metricHeader(m, sample(m)))],
      align: [...keyCols.map(() => 'l' as const), ...ms.map(() => 'r' as const)],
      rows: rows.map((r) => [
        ...keyCells(r),
        ...ms.map((m) => (r.metrics[m] ? formatValue(r.metrics[m]!.value, r.metrics[m]!.unit) : '')),
      ]),
    });
  }
  return tables;
}

function esc(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function tableMarkdown(t: Table): string {
  return (
    [
      `| ${t.head.map(esc).join(' | ')} |`,
      `| ${t.align.map((a) => (a === 'r' ? '---:' : '---')).join(' | ')} |`,
      ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
    ].join('\n') + '\n'
  );
}

/** Results as markdown tables, one per kind (see {@link groupResults} and {@link resultTables}). */
export function resultsTable(results: Result[]): string {
  if (results.length === 0) return '_no results_\n';
  const out: string[] = [];
  for (const [title, rows] of groupResults(results)) {
    for (const t of resultTables(title, rows)) {
      if (t.title) out.push(`#### ${t.title}`, '');
      if (t.caption) out.push(`_${t.caption}_`, '');
      out.push(tableMarkdown(t));
    }
  }
  return out.join('\n');
}

function checksTable(checks: Check[]): Table {
  return {
    head: ['target', 'met', 'detail'],
    align: ['l', 'l', 'l'],
    rows: checks.map((c) => [c.name, c.pass ? 'yes' : '**no**', c.detail]),
  };
}

function envTable(e: Environment): Table {
  return {
    head: ['node', 'platform', 'backend', 'adapter', 'cpu', 'cores', 'memory', 'mode', 'seed'],
    align: ['l', 'l', 'l', 'l', 'l', 'r', 'r', 'l', 'r'],
    rows: [
      [
        e.node,
        e.platform,
        `${e.backend} (${e.backendReason})`,
        e.adapter ?? 'none',
        e.cpu,
        String(e.cores),
        `${e.memoryGiB} GiB`,
        e.mode,
        String(e.seed),
      ],
    ],
  };
}

/** The report's parts in reading order; report.md and report.html render the same list. */
type Block =
  | { type: 'h1' | 'h2' | 'h3'; text: string }
  | { type: 'p'; text: string; cls?: 'err' | 'note' }
  | { type: 'code'; text: string }
  | { type: 'table'; table: Table }
  | { type: 'charts'; charts: (Chart & { svg?: string })[] }
  | { type: 'images'; images: SuiteReport['images'] };

function headline(s: SuiteReport): number {
  const i = s.charts.findIndex((c) => c.headline);
  return i >= 0 ? i : 0;
}

function blocks(report: Report): Block[] {
  const e = report.environment;
  const out: Block[] = [
    { type: 'h1', text: 'blockwise bench report' },
    { type: 'code', text: `${e.command}` },
    { type: 'p', text: `on ${e.date}` },
    { type: 'table', table: envTable(e) },
  ];
  if (e.backend === 'webgpu' && typeof e.adapter === 'string' && e.adapter.endsWith('(software)')) {
    out.push({
      type: 'p',
      cls: 'note',
      text: 'Note: WebGPU ran on a software adapter (no GPU): times are CPU times, and quick runs shrink sizes where a suite says so below.',
    });
  }
  for (const s of report.suites) {
    out.push({ type: 'h2', text: s.name }, { type: 'p', text: `${s.description} (${s.seconds.toFixed(1)} s)` });
    for (const n of s.notes ?? []) out.push({ type: 'p', text: `Note: ${n}`, cls: 'note' });
    if (s.error) out.push({ type: 'p', text: `The suite failed: ${s.error.split('\n')[0]}`, cls: 'err' });
    if (s.checks.length) out.push({ type: 'h3', text: 'Targets' }, { type: 'table', table: checksTable(s.checks) });
    const h = headline(s);
    if (s.charts[h]) out.push({ type: 'charts', charts: [s.charts[h]!] });
    if (s.results.length) {
      out.push({ type: 'h3', text: 'Results' });
      for (const [title, rows] of groupResults(s.results))
        for (const t of resultTables(title, rows)) out.push({ type: 'table', table: t });
    }
    const rest = s.charts.filter((_, i) => i !== h);
    if (rest.length) out.push({ type: 'h3', text: 'Charts' }, { type: 'charts', charts: rest });
    if (s.images.length) out.push({ type: 'h3', text: 'Samples' }, { type: 'images', images: s.images });
  }
  return out;
}

/** Renders `report.md`: environment, then per suite its notes, targets, headline chart, results by kind, other charts and images. */
export function renderMarkdown(report: Report): string {
  const lines: string[] = [];
  for (const b of blocks(report)) {
    switch (b.type) {
      case 'h1':
        lines.push(`# ${b.text}`, '');
        break;
      case 'h2':
        lines.push(`## ${b.text}`, '');
        break;
      case 'h3':
        lines.push(`### ${b.text}`, '');
        break;
      case 'p':
        lines.push(b.cls === 'err' ? `**${b.text}**` : b.cls === 'note' ? `> ${b.text}` : b.text, '');
        break;
      case 'code':
        lines.push(`\`${b.text}\``, '');
        break;
      case 'table':
        if (b.table.title) lines.push(`#### ${b.table.title}`, '');
        if (b.table.caption) lines.push(`_${esc(b.table.caption)}_`, '');
        lines.push(tableMarkdown(b.table));
        break;
      case 'charts':
        for (const c of b.charts) if (c.svg) lines.push(`![${c.title}](${c.svg})`, '');
        break;
      case 'images':
        for (const im of b.images) {
          if (im.realPath)
            lines.push(
              `| ${esc(im.title ?? im.name)} | real samples |`,
              '| --- | --- |',
              `| ![${im.name}](${im.path}) | ![real](${im.realPath}) |`,
              '',
            );
          else lines.push(`![${im.title ?? im.name}](${im.path})`, '', `_${esc(im.title ?? im.name)}_`, '');
        }
        break;
    }
  }
  return lines.join('\n');
}

function h(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function tableHtml(t: Table): string {
  const cell = (c: string) => h(c).replace(/\*\*(.+?)\*\*/g, '<b>$1</b>');
  const head = t.head.map((c, i) => `<th class="${t.align[i]}">${cell(c)}</th>`).join('');
  const body = t.rows
    .map((r) => `<tr>${r.map((c, i) => `<td class="${t.align[i]}">${cell(c)}</td>`).join('')}</tr>`)
    .join('\n');
  return `${t.title ? `<h4>${h(t.title)}</h4>` : ''}${t.caption ? `<p class="cap">${h(t.caption)}</p>` : ''}<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** Reads a package's browser build, or returns null (e.g. inside a bundle without node_modules). */
function script(pkg: string, file: string): string | null {
  try {
    const require = createRequire(import.meta.url);
    let dir = dirname(require.resolve(pkg));
    while (
      !existsSync(join(dir, 'package.json')) ||
      JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== pkg
    ) {
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
  const libs = [
    script('vega', 'build/vega.min.js'),
    script('vega-lite', 'build/vega-lite.min.js'),
    script('vega-embed', 'build/vega-embed.min.js'),
  ];
  const interactive = libs.every((l) => l !== null);
  const specs: Record<string, unknown> = {};
  const parts: string[] = [];
  const png = (path: string) => `data:image/png;base64,${readFileSync(join(outDir, path)).toString('base64')}`;
  let n = 0;
  let open = false;
  for (const b of blocks(report)) {
    switch (b.type) {
      case 'h1':
        parts.push(`<h1>${h(b.text)}</h1>`);
        break;
      case 'h2':
        if (open) parts.push('</section>');
        parts.push(`<section><h2>${h(b.text)}</h2>`);
        open = true;
        break;
      case 'h3':
        parts.push(`<h3>${h(b.text)}</h3>`);
        break;
      case 'p':
        parts.push(`<p${b.cls ? ` class="${b.cls}"` : ''}>${h(b.text)}</p>`);
        break;
      case 'code':
        parts.push(`<p><code>${h(b.text)}</code></p>`);
        break;
      case 'table':
        parts.push(`<div class="tw">${tableHtml(b.table)}</div>`);
        break;
      case 'charts':
        parts.push('<div class="row">');
        for (const c of b.charts) {
          const id = `chart-${n++}`;
          if (interactive) {
            specs[id] = chartSpec(c);
            parts.push(`<div class="chart" id="${id}"></div>`);
          } else if (c.svg) {
            // No Vega browser builds at hand (a bundled run): inline the SVG that Vega rendered.
            parts.push(`<div class="chart">${readFileSync(join(outDir, c.svg), 'utf8')}</div>`);
          }
        }
        parts.push('</div>');
        break;
      case 'images':
        parts.push('<div class="row">');
        for (const im of b.images) {
          const cap = h(im.title ?? im.name);
          if (im.realPath) {
            parts.push(
              `<figure class="pair"><div><img src="${png(im.path)}" alt="${h(im.name)}"><img src="${png(im.realPath)}" alt="real samples"></div><figcaption>${cap}; right: real samples</figcaption></figure>`,
            );
          } else {
            parts.push(
              `<figure><img src="${png(im.path)}" alt="${h(im.name)}"><figcaption>${cap}</figcaption></figure>`,
            );
          }
        }
        parts.push('</div>');
        break;
    }
  }
  if (open) parts.push('</section>');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>blockwise bench report</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1300px;padding:0 16px;color:#222;line-height:1.4}
h4{margin:1em 0 .2em;font-size:14px}.cap{margin:0 0 .3em;color:#555;font-size:13px}
.tw{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;margin:.3em 0 1em;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px;vertical-align:top}
th{background:#f3f3f3;font-weight:600}th.l,td.l{text-align:left}th.r,td.r{text-align:right;font-variant-numeric:tabular-nums}
td.l{max-width:30em;overflow-wrap:anywhere}
.row{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}.chart{max-width:100%;overflow:hidden}
.err{color:#b00}.note{background:#fff8e0;border-left:3px solid #e0b000;padding:4px 8px}
figure{margin:.5em 0;max-width:100%}figure img{image-rendering:pixelated;max-width:100%}.pair div{display:flex;gap:16px}
figcaption{font-size:13px;color:#555;max-width:640px}code{background:#f6f6f6}
</style>
${interactive ? libs.map((l) => `<script>${l}</script>`).join('\n') : ''}
</head><body>
${parts.join('\n')}
${
  interactive
    ? `<script>
const specs = ${JSON.stringify(specs).replace(/</g, '\\u003c')};
for (const [id, spec] of Object.entries(specs)) vegaEmbed('#' + id, spec, { actions: false });
</script>`
    : ''
}
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
