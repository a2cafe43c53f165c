import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { initBackend, type BackendName } from '@blockwise/tensor';
import * as tf from '@tensorflow/tfjs-core';
import { compareReports } from './compare.js';
import { benchData } from './data.js';
import { imageGrid, encodeGrayPng } from './png.js';
import { createProgress } from './progress.js';
import { writeReport, type Report, type SuiteReport } from './report.js';
import type { SuiteContext } from './suite.js';
import { suites } from './suites/index.js';

const USAGE = `blockwise-bench: end-to-end benchmarks of the blockwise packages

usage:
  blockwise-bench [--suite NAME[,NAME...]] [--backend NAME] [--quick | --full]
                  [--out DIR] [--seed N] [--json] [--no-progress]
  blockwise-bench compare A B     ratio of every metric, B over A (reports or run folders)
  blockwise-bench --list          list the suites

options:
  --suite     suites to run (default: all): ${suites.map((s) => s.name).join(', ')}
  --backend   tfjs backend: auto, cpu, wasm, webgpu, webgl, tensorflow (default: wasm)
  --quick     small sizes, a few minutes in all (default)
  --full      the sizes the issues ask for (up to an hour)
  --out       folder for results (default: results/); each run writes results/<timestamp>/
  --seed      random seed (default 1)
  --json      also print report.json to stdout`;

interface Options {
  suites: string[];
  backend: BackendName;
  full: boolean;
  out: string;
  seed: number;
  json: boolean;
  progress: boolean;
}

/** Parses the command line; throws with a message naming a bad option. */
export function parseArgs(argv: string[]): Options | { list: true } | { compare: [string, string] } {
  if (argv[0] === 'compare') {
    if (argv.length !== 3) throw new Error('compare needs two reports: blockwise-bench compare A B');
    return { compare: [argv[1]!, argv[2]!] };
  }
  const o: Options = { suites: [], backend: 'wasm', full: false, out: 'results', seed: 1, json: false, progress: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--suite':
      case '--suites':
        o.suites.push(...value().split(',').map((s) => s.trim()).filter(Boolean));
        break;
      case '--backend':
        o.backend = value() as BackendName;
        break;
      case '--quick':
        o.full = false;
        break;
      case '--full':
        o.full = true;
        break;
      case '--out':
        o.out = value();
        break;
      case '--seed': {
        const v = value();
        o.seed = Number(v);
        if (!Number.isInteger(o.seed)) throw new Error(`--seed must be an integer, got ${v}`);
        break;
      }
      case '--json':
        o.json = true;
        break;
      case '--no-progress':
        o.progress = false;
        break;
      case '--list':
        return { list: true };
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
      // falls through (exit)
      default:
        throw new Error(`unknown option ${a}\n\n${USAGE}`);
    }
  }
  const names = suites.map((s) => s.name);
  for (const s of o.suites) {
    if (!names.includes(s)) throw new Error(`--suite: unknown suite '${s}'; suites are ${names.join(', ')}`);
  }
  return o;
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
}

async function run(o: Options): Promise<number> {
  const base = process.env.INIT_CWD ?? process.cwd();
  const outDir = join(isAbsolute(o.out) ? o.out : resolve(base, o.out), stamp());
  mkdirSync(outDir, { recursive: true });
  const info = await initBackend(o.backend);
  const selected = o.suites.length ? suites.filter((s) => o.suites.includes(s.name)) : suites;
  const cpuList = cpus();
  const report: Report = {
    environment: {
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      backend: info.backend,
      backendReason: info.reason,
      adapter: info.adapter ? `${info.adapter.vendor} ${info.adapter.device || info.adapter.architecture} ${info.adapter.description}`.trim() + (info.adapter.isSoftware ? ' (software)' : '') : null,
      cpu: cpuList[0]?.model ?? 'unknown',
      cores: cpuList.length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      mode: o.full ? 'full' : 'quick',
      seed: o.seed,
      command: `blockwise-bench ${process.argv.slice(2).join(' ')}`.trim(),
      date: new Date().toISOString(),
      tfjs: tf.version_core,
    },
    suites: [],
  };
  console.error(`blockwise-bench: ${selected.length} suite(s) on ${info.backend} (${info.reason}), ${o.full ? 'full' : 'quick'}, writing ${outDir}`);
  let failed = 0;
  for (const suite of selected) {
    const sr: SuiteReport = { name: suite.name, description: suite.description, seconds: 0, results: [], checks: [], charts: [], images: [] };
    const ctx: SuiteContext = {
      backend: info.backend,
      quick: !o.full,
      full: o.full,
      seed: o.seed,
      progress: createProgress(o.progress),
      log: (msg) => console.error(`  [${suite.name}] ${msg}`),
      chart: (c) => sr.charts.push(structuredClone(c)),
      writeFile: (name, data) => {
        const file = `${suite.name}-${name}`.replace(/[^A-Za-z0-9._-]/g, '_');
        writeFileSync(join(outDir, file), data);
        return file;
      },
      image: (name, pixels, width, height, opts = {}) => {
        const g = imageGrid(pixels, width, height, opts.cols ?? 10, opts.scale ?? 4);
        const path = ctx.writeFile(`${name}.png`, encodeGrayPng(g.gray, g.width, g.height));
        sr.images.push({ name, path, ...(opts.title ? { title: opts.title } : {}) });
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
      sr.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      console.error(`  [${suite.name}] FAILED: ${sr.error}`);
    }
    sr.seconds = (performance.now() - t0) / 1000;
    for (const c of sr.checks) console.error(`  ${c.pass ? 'met ' : 'MISS'} ${c.name}: ${c.detail}`);
    console.error(`  ${suite.name} done in ${sr.seconds.toFixed(1)} s`);
    report.suites.push(sr);
  }
  await writeReport(report, outDir);
  if (o.json) process.stdout.write(readFileSync(join(outDir, 'report.json'), 'utf8'));
  console.error(`report: ${join(outDir, 'report.md')} and report.html`);
  return failed ? 1 : 0;
}

/** Runs the CLI with the given arguments; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    console.error(`blockwise-bench: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  if ('list' in parsed) {
    for (const s of suites) console.log(`${s.name.padEnd(12)} ${s.description}`);
    return 0;
  }
  if ('compare' in parsed) {
    const base = process.env.INIT_CWD ?? process.cwd();
    console.log(compareReports(resolve(base, parsed.compare[0]), resolve(base, parsed.compare[1])));
    return 0;
  }
  return run(parsed);
}
