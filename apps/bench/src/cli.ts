import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseArgs as parseNodeArgs } from 'node:util';
import { initBackend, nearestName, type BackendInfo, type BackendName } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { compareReports, DEFAULT_THRESHOLD, formatComparison } from './compare.js';
import { benchData } from './data.js';
import { UsageError } from './errors.js';
import { imageGrid, encodeGrayPng } from './png.js';
import { createProgress } from './progress.js';
import { writeReport, type Report, type SuiteReport } from './report.js';
import type { SuiteContext } from './suite.js';
import { suites } from './suites/index.js';

const BACKENDS: readonly BackendName[] = ['auto', 'cpu', 'wasm', 'webgpu', 'webgl', 'tensorflow'];

const USAGE = `blockwise-bench: end-to-end benchmarks of the blockwise packages

usage:
  blockwise-bench [--suite NAME[,NAME...]] [--backend NAME] [--quick | --full]
                  [--out DIR] [--seed N] [--json] [--no-progress] [--debug]
  blockwise-bench compare A B [--json] [--all] [--threshold F]
  blockwise-bench --list | --help

run options:
  --suite NAMES   suites to run, comma-separated or repeated (default: all):
                  ${suites.map((s) => s.name).join(', ')}
  --backend NAME  tfjs backend: ${BACKENDS.join(', ')} (default: wasm)
  --quick         small sizes, a few minutes in all (default)
  --full          the sizes the issues ask for (up to an hour)
  --out DIR       folder for results (default: results); each run writes DIR/<timestamp>/
  --seed N        random seed, an integer (default 1)
  --json          also print report.json to stdout
  --no-progress   no progress bars on stderr (logs and checks still print)
  --debug         print stack traces of errors

compare A B       B against A, metric by metric; A and B are report.json files or run folders.
                  Prints a summary per suite (metrics better / worse beyond the noise
                  threshold, geometric mean of the B/A time ratios), then the changed metrics.
  --json          the comparison as JSON (for machines)
  --all           list every matched metric and every unmatched result
  --threshold F   relative change counted as noise (default ${DEFAULT_THRESHOLD})

exit status: 0 done, 1 a suite failed, 2 a usage error (bad option, unwritable --out,
unreadable report); nothing is written when the start fails.`;

export { UsageError };

/** What `blockwise-bench [options]` runs. */
export interface RunOptions {
  suites: string[];
  backend: BackendName;
  full: boolean;
  out: string;
  seed: number;
  json: boolean;
  progress: boolean;
  debug: boolean;
}

/** What the command line asks for. */
export type Command =
  | ({ command: 'run' } & RunOptions)
  | { command: 'list' }
  | { command: 'help' }
  | { command: 'compare'; a: string; b: string; json: boolean; all: boolean; threshold: number; debug: boolean };

const RUN_FLAGS = {
  suite: { type: 'string', multiple: true },
  suites: { type: 'string', multiple: true },
  backend: { type: 'string' },
  quick: { type: 'boolean' },
  full: { type: 'boolean' },
  out: { type: 'string' },
  seed: { type: 'string' },
  json: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
  debug: { type: 'boolean' },
  list: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const COMPARE_FLAGS = {
  json: { type: 'boolean' },
  all: { type: 'boolean' },
  threshold: { type: 'string' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** node:util.parseArgs with its errors rewritten as one-line usage errors. */
function parseWith<T extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>>(
  argv: string[],
  options: T,
) {
  try {
    return parseNodeArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const msg = e instanceof Error ? e.message : String(e);
    const flag = /'(-[^' ]+)/.exec(msg)?.[1] ?? '';
    const names = Object.keys(options);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const near = nearestName(flag.replace(/^-+/, '').replace(/=.*/, ''), names);
      throw new UsageError(`unknown option ${flag}${near ? ` (did you mean --${near}?)` : ''}; see --help`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const name = /'(--?[A-Za-z-]+)/.exec(msg)?.[1] ?? flag;
      const key = name.replace(/^-+/, '');
      const kind = (options as Record<string, { type: string }>)[key]?.type ?? (key === 'h' ? 'boolean' : 'string');
      throw new UsageError(kind === 'boolean' ? `${name} takes no value` : `${name} needs a value`);
    }
    throw new UsageError(msg.split('\n')[0]!);
  }
}

/**
 * Parses the command line (node:util.parseArgs); throws a {@link UsageError} with a one-line
 * message naming the bad option or value.
 */
export function parseArgs(argv: string[]): Command {
  if (argv[0] === 'compare') {
    const { values: v, positionals } = parseWith(argv.slice(1), COMPARE_FLAGS);
    if (v.help) return { command: 'help' };
    if (positionals.length !== 2) {
      throw new UsageError(
        `compare needs two reports (report.json files or run folders), got ${positionals.length}: blockwise-bench compare A B`,
      );
    }
    const threshold = v.threshold === undefined ? DEFAULT_THRESHOLD : Number(v.threshold);
    if (!Number.isFinite(threshold) || threshold < 0 || threshold >= 1 || v.threshold?.trim() === '') {
      throw new UsageError(`--threshold must be a number in [0, 1), got '${v.threshold}'`);
    }
    return {
      command: 'compare',
      a: positionals[0]!,
      b: positionals[1]!,
      json: !!v.json,
      all: !!v.all,
      threshold,
      debug: !!v.debug,
    };
  }
  const { values: v, positionals } = parseWith(argv, RUN_FLAGS);
  if (v.help) return { command: 'help' };
  if (positionals.length) {
    throw new UsageError(
      `unexpected argument '${positionals[0]}'${positionals[0] === 'compare' ? ' (compare must come first)' : ''}; see --help`,
    );
  }
  if (v.list) return { command: 'list' };
  if (v.quick && v.full) throw new UsageError('--quick and --full exclude each other: give one');
  const backend = v.backend ?? 'wasm';
  if (!BACKENDS.includes(backend as BackendName)) {
    const near = nearestName(backend, BACKENDS);
    throw new UsageError(
      `--backend: unknown backend '${backend}'${near ? ` (did you mean ${near}?)` : ''}; backends are ${BACKENDS.join(', ')}`,
    );
  }
  const names = suites.map((s) => s.name);
  const raw = [...(v.suite ?? []), ...(v.suites ?? [])];
  const picked = raw
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  if (raw.length > 0 && picked.length === 0)
    throw new UsageError(`--suite: no suite named in '${raw.join(',')}'; suites are ${names.join(', ')}`);
  for (const s of picked) {
    if (!names.includes(s)) {
      const near = nearestName(s, names);
      throw new UsageError(
        `--suite: unknown suite '${s}'${near ? ` (did you mean ${near}?)` : ''}; suites are ${names.join(', ')}`,
      );
    }
  }
  let seed = 1;
  if (v.seed !== undefined) {
    seed = Number(v.seed);
    if (v.seed.trim() === '' || !Number.isSafeInteger(seed))
      throw new UsageError(`--seed must be an integer, got '${v.seed}'`);
  }
  if (v.out !== undefined && v.out.trim() === '') throw new UsageError('--out needs a folder, got an empty string');
  return {
    command: 'run',
    suites: [...new Set(picked)],
    backend: backend as BackendName,
    full: !!v.full,
    out: v.out ?? 'results',
    seed,
    json: !!v.json,
    progress: !v['no-progress'],
    debug: !!v.debug,
  };
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
}

/**
 * Creates `dir` one level at a time and returns the folders it created (deepest last), so a
 * failed start can remove them. Not `mkdirSync(..., { recursive: true })`: under /proc that
 * loops forever in Node 20.
 */
export function makeOutDir(dir: string, flag = '--out'): string[] {
  const missing: string[] = [];
  let at = dir;
  while (!existsSync(at)) {
    missing.unshift(at);
    const up = dirname(at);
    if (up === at) break;
    at = up;
  }
  try {
    if (!statSync(at).isDirectory()) throw new UsageError(`${flag}: ${at} is not a folder`);
    accessSync(at, constants.W_OK);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${flag}: cannot write in ${at} (${(e as { code?: string }).code ?? String(e)})`);
  }
  const created: string[] = [];
  for (const d of missing) {
    try {
      mkdirSync(d);
      created.push(d);
    } catch (e) {
      removeDirs(created);
      throw new UsageError(`${flag}: cannot create ${d} (${(e as { code?: string }).code ?? String(e)})`);
    }
  }
  return created;
}

/** Removes folders made by {@link makeOutDir} (deepest first), if still empty. */
function removeDirs(created: string[]): void {
  for (const d of [...created].reverse()) {
    try {
      rmdirSync(d);
    } catch {
      // not empty or gone: leave it
    }
  }
}

function environment(o: RunOptions, info: BackendInfo): Report['environment'] {
  const cpuList = cpus();
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    backend: info.backend,
    backendReason: info.reason,
    adapter: info.adapter
      ? `${info.adapter.vendor} ${info.adapter.device || info.adapter.architecture} ${info.adapter.description}`.trim() +
        (info.adapter.isSoftware ? ' (software)' : '')
      : null,
    cpu: cpuList[0]?.model ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    mode: o.full ? 'full' : 'quick',
    seed: o.seed,
    command: `blockwise-bench ${process.argv.slice(2).join(' ')}`.trim(),
    date: new Date().toISOString(),
    tfjs: tf.version_core,
  };
}

async function run(o: RunOptions): Promise<number> {
  const base = process.env.INIT_CWD ?? process.cwd();
  const outDir = join(isAbsolute(o.out) ? o.out : resolve(base, o.out), stamp());
  const created = makeOutDir(outDir);
  let info: BackendInfo;
  try {
    info = await initBackend(o.backend);
  } catch (e) {
    removeDirs(created);
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
    if (o.debug) console.error(e);
    throw new UsageError(`--backend ${o.backend}: cannot start it here: ${msg}`);
  }
  const selected = o.suites.length ? suites.filter((s) => o.suites.includes(s.name)) : suites;
  const softwareAdapter = info.backend === 'webgpu' && !!info.adapter?.isSoftware;
  const report: Report = { environment: environment(o, info), suites: [] };
  console.error(
    `blockwise-bench: ${selected.length} suite(s) on ${info.backend} (${info.reason}), ${o.full ? 'full' : 'quick'}, writing ${outDir}`,
  );
  let failed = 0;
  for (const suite of selected) {
    const sr: SuiteReport = {
      name: suite.name,
      description: suite.description,
      seconds: 0,
      results: [],
      checks: [],
      charts: [],
      images: [],
      notes: [],
    };
    const ctx: SuiteContext = {
      backend: info.backend,
      softwareAdapter,
      quick: !o.full,
      full: o.full,
      seed: o.seed,
      progress: createProgress(o.progress),
      log: (msg) => console.error(`  [${suite.name}] ${msg}`),
      note: (msg) => {
        if (!sr.notes!.includes(msg)) sr.notes!.push(msg);
      },
      chart: (c) => sr.charts.push(structuredClone(c)),
      writeFile: (name, data) => {
        const file = `${suite.name}-${name}`.replace(/[^A-Za-z0-9._-]/g, '_');
        writeFileSync(join(outDir, file), data);
        return file;
      },
      image: (name, pixels, width, height, opts = {}) => {
        const g = imageGrid(pixels, width, height, opts.cols ?? 10, opts.scale ?? 4);
        const path = ctx.writeFile(`${name}.png`, encodeGrayPng(g.gray, g.width, g.height));
        let realPath: string | undefined;
        if (opts.real) {
          const r = imageGrid(opts.real, width, height, opts.cols ?? 10, opts.scale ?? 4);
          realPath = ctx.writeFile(`${name}-real.png`, encodeGrayPng(r.gray, r.width, r.height));
        }
        sr.images.push({ name, path, ...(opts.title ? { title: opts.title } : {}), ...(realPath ? { realPath } : {}) });
        return path;
      },
      data: benchData,
    };
    console.error(`- ${suite.name}: ${suite.description}`);
    const t0 = performance.now();
    try {
      await initBackend(info.backend);
      sr.results = await suite.run(ctx);
      sr.checks = suite.validate ? suite.validate(sr.results, ctx) : [];
    } catch (e) {
      failed++;
      const first = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      sr.error = o.debug && e instanceof Error ? (e.stack ?? first) : first;
      console.error(`  [${suite.name}] FAILED: ${sr.error}${o.debug ? '' : ' (--debug for the stack trace)'}`);
    }
    sr.seconds = (performance.now() - t0) / 1000;
    for (const n of sr.notes!) console.error(`  note: ${n}`);
    for (const c of sr.checks) console.error(`  ${c.pass ? 'met ' : 'MISS'} ${c.name}: ${c.detail}`);
    console.error(`  ${suite.name} done in ${sr.seconds.toFixed(1)} s`);
    report.suites.push(sr);
  }
  await writeReport(report, outDir);
  if (o.json) process.stdout.write(readFileSync(join(outDir, 'report.json'), 'utf8'));
  console.error(`report: ${join(outDir, 'report.md')} and report.html`);
  return failed ? 1 : 0;
}

/**
 * Runs the CLI with the given arguments; resolves to the exit status (0 done, 1 a suite failed,
 * 2 a usage error). Usage errors print one line on stderr; other errors too, with the stack
 * under `--debug`.
 */
export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    const cmd = parseArgs(argv);
    switch (cmd.command) {
      case 'help':
        console.log(USAGE);
        return 0;
      case 'list':
        for (const s of suites) console.log(`${s.name.padEnd(12)} ${s.description}`);
        return 0;
      case 'compare': {
        const base = process.env.INIT_CWD ?? process.cwd();
        const c = compareReports(resolve(base, cmd.a), resolve(base, cmd.b), { threshold: cmd.threshold });
        console.log(cmd.json ? JSON.stringify(c, null, 2) : formatComparison(c, { all: cmd.all }));
        return 0;
      }
      case 'run':
        return await run(cmd);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`blockwise-bench: ${e.message}`);
      return 2;
    }
    if (debug) console.error(e);
    else
      console.error(
        `blockwise-bench: ${e instanceof Error ? e.message.split('\n')[0] : String(e)} (--debug for the stack trace)`,
      );
    return 1;
  }
}
