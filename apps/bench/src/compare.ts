import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './errors.js';
import type { Report } from './report.js';
import { metricDirection, type Metric } from './suite.js';

/** Relative change below which `compare` calls a metric unchanged (timings on shared machines wobble). */
export const DEFAULT_THRESHOLD = 0.1;

/** One metric present in both reports. */
export interface MetricChange {
  suite: string;
  result: string;
  params: Record<string, string | number | boolean>;
  metric: string;
  unit: string;
  a: number;
  b: number;
  /** b / a (1 when both are 0, Infinity when only a is 0). */
  ratio: number;
  direction: 'lower' | 'higher' | null;
  /** Beyond the threshold in the good or bad direction; 'changed' when the metric has no direction. */
  verdict: 'better' | 'worse' | 'same' | 'changed';
}

/** Per-suite counts, printed first. */
export interface SuiteSummary {
  suite: string;
  matched: number;
  better: number;
  worse: number;
  same: number;
  changed: number;
  /** Geometric mean of B/A over the time metrics (ms, s); null when none matched. */
  timeRatio: number | null;
  onlyA: number;
  onlyB: number;
}

/** What `compare` found (`--json` prints this). */
export interface Comparison {
  a: { path: string; backend: string; mode: string; date: string };
  b: { path: string; backend: string; mode: string; date: string };
  threshold: number;
  suites: SuiteSummary[];
  metrics: MetricChange[];
  onlyA: { suite: string; result: string; params: Record<string, unknown> }[];
  onlyB: { suite: string; result: string; params: Record<string, unknown> }[];
}

/** Reads a report (a report.json or a run folder holding one); bad files are usage errors naming the file. */
export function loadReport(path: string): { report: Report; file: string } {
  let file = path;
  let text: string;
  try {
    if (statSync(path).isDirectory()) file = join(path, 'report.json');
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'a folder'
            : (code ?? String(e));
    throw new UsageError(`compare: cannot read ${file}: ${why}`);
  }
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch (e) {
    const hint =
      text.trim().length === 0
        ? 'empty'
        : /end of (JSON )?input|Unterminated/i.test(String(e))
          ? 'truncated JSON'
          : 'not JSON';
    throw new UsageError(
      `compare: ${file} is not a blockwise report: ${hint} (${clip((e as Error).message.replace(/\s+/g, ' '), 80)})`,
    );
  }
  const rep = r as Partial<Report> | null;
  const suitesOk =
    Array.isArray(rep?.suites) &&
    rep!.suites.every(
      (s) =>
        typeof s?.name === 'string' &&
        Array.isArray(s.results) &&
        s.results.every((x) => typeof x?.name === 'string' && typeof x.metrics === 'object' && x.metrics !== null),
    );
  if (!rep || typeof rep !== 'object' || typeof rep.environment !== 'object' || !suitesOk) {
    throw new UsageError(
      `compare: ${file} is not a blockwise report (needs "environment" and "suites" with named results and metrics)`,
    );
  }
  return { report: rep as Report, file };
}

function key(suite: string, name: string, params: Record<string, unknown>): string {
  const p = Object.keys(params ?? {})
    .sort()
    .map((k) => `${k}=${String(params[k])}`)
    .join(',');
  return `${suite}\u0000${name}\u0000${p}`;
}

const isTime = (m: Metric) => m.unit === 'ms' || m.unit === 's';

/**
 * Compares report B against report A: matches results by suite, name and params, and for every
 * metric both carry gives B/A and whether it got better or worse beyond `threshold` (relative),
 * using each metric's direction (`Metric.better` or the inferred one).
 */
export function compareReports(pathA: string, pathB: string, options: { threshold?: number } = {}): Comparison {
  const threshold = options.threshold ?? DEFAULT_THRESHOLD;
  const A = loadReport(pathA);
  const B = loadReport(pathB);
  type Entry = {
    suite: string;
    name: string;
    params: Record<string, string | number | boolean>;
    metrics: Record<string, Metric>;
  };
  const index = (r: Report) => {
    const m = new Map<string, Entry>();
    for (const s of r.suites) {
      for (const res of s.results) {
        m.set(key(s.name, res.name, res.params), {
          suite: s.name,
          name: res.name,
          params: res.params ?? {},
          metrics: res.metrics,
        });
      }
    }
    return m;
  };
  const ia = index(A.report);
  const ib = index(B.report);
  const metrics: MetricChange[] = [];
  for (const [k, ea] of ia) {
    const eb = ib.get(k);
    if (!eb) continue;
    for (const [metric, va] of Object.entries(ea.metrics)) {
      const vb = eb.metrics[metric];
      if (!vb || typeof va?.value !== 'number' || typeof vb.value !== 'number') continue;
      const ratio = va.value === 0 ? (vb.value === 0 ? 1 : Infinity) : vb.value / va.value;
      const direction = metricDirection(metric, va) ?? metricDirection(metric, vb) ?? null;
      // Relative change against the larger magnitude, so a sign flip or a zero counts as a change.
      const scale = Math.max(Math.abs(va.value), Math.abs(vb.value));
      const rel = scale === 0 ? 0 : Math.abs(vb.value - va.value) / scale;
      let verdict: MetricChange['verdict'] = 'same';
      if (rel > threshold || Number.isNaN(rel)) {
        if (!direction) verdict = 'changed';
        else verdict = vb.value < va.value === (direction === 'lower') ? 'better' : 'worse';
      }
      metrics.push({
        suite: ea.suite,
        result: ea.name,
        params: ea.params,
        metric,
        unit: va.unit,
        a: va.value,
        b: vb.value,
        ratio,
        direction,
        verdict,
      });
    }
  }
  const onlyA = [...ia]
    .filter(([k]) => !ib.has(k))
    .map(([, e]) => ({ suite: e.suite, result: e.name, params: e.params }));
  const onlyB = [...ib]
    .filter(([k]) => !ia.has(k))
    .map(([, e]) => ({ suite: e.suite, result: e.name, params: e.params }));
  const names = [...new Set([...A.report.suites.map((s) => s.name), ...B.report.suites.map((s) => s.name)])];
  const summaries: SuiteSummary[] = names.map((suite) => {
    const ms = metrics.filter((m) => m.suite === suite);
    const times = ms.filter((m) => isTime({ value: m.a, unit: m.unit }) && m.a > 0 && m.b > 0);
    const count = (v: MetricChange['verdict']) => ms.filter((m) => m.verdict === v).length;
    return {
      suite,
      matched: ms.length,
      better: count('better'),
      worse: count('worse'),
      same: count('same'),
      changed: count('changed'),
      timeRatio: times.length ? Math.exp(times.reduce((s, m) => s + Math.log(m.ratio), 0) / times.length) : null,
      onlyA: onlyA.filter((x) => x.suite === suite).length,
      onlyB: onlyB.filter((x) => x.suite === suite).length,
    };
  });
  const side = (x: { report: Report; file: string }) => ({
    path: x.file,
    backend: String(x.report.environment.backend ?? '?'),
    mode: String(x.report.environment.mode ?? '?'),
    date: String(x.report.environment.date ?? '?'),
  });
  return { a: side(A), b: side(B), threshold, suites: summaries, metrics, onlyA, onlyB };
}

/** Shortens `s` to `n` characters with an ellipsis. */
function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

function num(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}

/** A result's label: its name and the values of the params that tell apart results of that name. */
function labels(metrics: MetricChange[]): Map<MetricChange, string> {
  const out = new Map<MetricChange, string>();
  const groups = new Map<string, MetricChange[]>();
  for (const m of metrics)
    groups.set(`${m.suite}\u0000${m.result}`, [...(groups.get(`${m.suite}\u0000${m.result}`) ?? []), m]);
  for (const g of groups.values()) {
    const keys = [...new Set(g.flatMap((m) => Object.keys(m.params)))].filter(
      (k) => new Set(g.map((m) => String(m.params[k]))).size > 1,
    );
    for (const m of g)
      out.set(m, keys.length ? `${m.result} ${keys.map((k) => String(m.params[k])).join(' ')}` : m.result);
  }
  return out;
}

/**
 * The comparison for a terminal, at most 100 columns: a summary per suite first, then the
 * metrics that changed beyond the threshold (every matched metric with `all`).
 */
export function formatComparison(c: Comparison, options: { all?: boolean } = {}): string {
  const W = 100;
  const pct = Math.round(c.threshold * 100);
  const lines = [
    clip(`A: ${c.a.path} (${c.a.backend}, ${c.a.mode}, ${c.a.date})`, W),
    clip(`B: ${c.b.path} (${c.b.backend}, ${c.b.mode}, ${c.b.date})`, W),
    `better / worse: moved more than ${pct}% in the metric's good / bad direction; time = geometric`,
    'mean of B/A over time metrics (below 1: B is faster)',
    '',
  ];
  const head = ['suite', 'matched', 'better', 'worse', 'same', 'other', 'time B/A', 'only A', 'only B'];
  const rows = c.suites.map((s) =>
    [
      s.suite,
      s.matched,
      s.better,
      s.worse,
      s.same,
      s.changed,
      s.timeRatio === null ? '–' : `${s.timeRatio.toFixed(2)}x`,
      s.onlyA,
      s.onlyB,
    ].map(String),
  );
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmtRow = (r: string[]) =>
    r
      .map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  lines.push(fmtRow(head), ...rows.map(fmtRow));
  const shown = options.all ? c.metrics : c.metrics.filter((m) => m.verdict !== 'same');
  lines.push(
    '',
    options.all
      ? 'every matched metric:'
      : shown.length
        ? `changed beyond ${pct}% (--all for every metric):`
        : `no metric moved more than ${pct}%.`,
  );
  if (shown.length) {
    const lab = labels(shown);
    const mark = { better: '+ better', worse: '- worse', same: '', changed: '~ changed' } as const;
    // Fixed columns: metric 22, A 10, B 10, B/A 8, verdict 9, separators: the label gets the rest.
    const labelW = W - (22 + 10 + 10 + 8 + 9 + 2 * 5);
    let suite = '';
    for (const m of shown) {
      if (m.suite !== suite) {
        suite = m.suite;
        lines.push(`[${suite}]`);
      }
      const metric = clip(m.unit ? `${m.metric} (${m.unit})` : m.metric, 22);
      const ratio = Number.isFinite(m.ratio) ? `${m.ratio.toFixed(3)}` : String(m.ratio);
      lines.push(
        [
          clip(lab.get(m)!, labelW).padEnd(labelW),
          metric.padEnd(22),
          clip(num(m.a), 10).padStart(10),
          clip(num(m.b), 10).padStart(10),
          ratio.padStart(8),
          mark[m.verdict].padEnd(9),
        ]
          .join('  ')
          .trimEnd(),
      );
    }
  }
  const only = (what: string, list: Comparison['onlyA']) => {
    if (!list.length) return;
    const per = new Map<string, number>();
    for (const x of list) per.set(x.suite, (per.get(x.suite) ?? 0) + 1);
    lines.push(
      '',
      clip(`only in ${what}: ${list.length} result(s) (${[...per].map(([s, n]) => `${s} ${n}`).join(', ')})`, W),
    );
    if (options.all)
      for (const x of list)
        lines.push(
          clip(
            `  ${x.suite} / ${x.result} ${Object.entries(x.params)
              .map(([k, v]) => `${k}=${String(v)}`)
              .join(' ')}`,
            W,
          ),
        );
  };
  only('A', c.onlyA);
  only('B', c.onlyB);
  return lines.join('\n');
}
