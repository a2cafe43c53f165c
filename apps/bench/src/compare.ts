import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Report } from './report.js';

function load(path: string): Report {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'report.json') : path;
  if (!existsSync(file)) throw new Error(`compare: no report at ${file}`);
  const r = JSON.parse(readFileSync(file, 'utf8')) as Report;
  if (!Array.isArray(r.suites)) throw new Error(`compare: ${file} is not a blockwise report (no suites)`);
  return r;
}

function key(suite: string, name: string, params: Record<string, unknown>): string {
  const p = Object.keys(params).sort().map((k) => `${k}=${String(params[k])}`).join(',');
  return `${suite} / ${name}${p ? ` [${p}]` : ''}`;
}

/**
 * Prints the ratio B/A of every metric present in both reports, matching results by suite,
 * result name and params; lists what only one side has.
 */
export function compareReports(pathA: string, pathB: string): string {
  const a = load(pathA);
  const b = load(pathB);
  const index = (r: Report) => {
    const m = new Map<string, Record<string, { value: number; unit: string }>>();
    for (const s of r.suites) for (const res of s.results) m.set(key(s.name, res.name, res.params), res.metrics);
    return m;
  };
  const ia = index(a);
  const ib = index(b);
  const lines = [`B / A   (A: ${a.environment.backend} ${a.environment.date}; B: ${b.environment.backend} ${b.environment.date})`, ''];
  const rows: string[][] = [['result', 'metric', 'A', 'B', 'B/A']];
  for (const [k, ma] of ia) {
    const mb = ib.get(k);
    if (!mb) continue;
    for (const [metric, va] of Object.entries(ma)) {
      const vb = mb[metric];
      if (!vb) continue;
      const ratio = va.value === 0 ? (vb.value === 0 ? 1 : Infinity) : vb.value / va.value;
      rows.push([k, `${metric}${va.unit ? ` (${va.unit})` : ''}`, va.value.toPrecision(4), vb.value.toPrecision(4), ratio.toFixed(3)]);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) lines.push(r.map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  '));
  const onlyA = [...ia.keys()].filter((k) => !ib.has(k));
  const onlyB = [...ib.keys()].filter((k) => !ia.has(k));
  if (onlyA.length) lines.push('', `only in A: ${onlyA.length} result(s)`, ...onlyA.map((k) => `  ${k}`));
  if (onlyB.length) lines.push('', `only in B: ${onlyB.length} result(s)`, ...onlyB.map((k) => `  ${k}`));
  return lines.join('\n');
}
