import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main, parseArgs } from './cli.js';
import type { Report } from './report.js';
import { testEnvironment } from './testReport.js';

const dir = mkdtempSync(join(tmpdir(), 'blockwise-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let err: string[] = [];
let out: string[] = [];
beforeEach(() => {
  err = [];
  out = [];
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.map(String).join(' ')));
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.map(String).join(' ')));
});
afterEach(() => vi.restoreAllMocks());

/** Runs the CLI in-process; expects exit status 2 and exactly one stderr line, no stack. */
async function usageError(argv: string[]): Promise<string> {
  const code = await main(argv);
  expect(code, `exit status of ${argv.join(' ')}`).toBe(2);
  expect(out).toEqual([]);
  const text = err.join('\n');
  expect(text.split('\n'), text).toHaveLength(1);
  expect(text).not.toMatch(/\n\s+at |Error:/);
  expect(text).toMatch(/^blockwise-bench: /);
  return text;
}

function report(ms: number, acc: number, extra = false): Report {
  return {
    environment: testEnvironment(),
    suites: [
      {
        name: 'demo',
        description: 'a demo suite',
        seconds: 1,
        checks: [],
        images: [],
        charts: [],
        results: [
          {
            name: 'matmul',
            params: { n: 256 },
            metrics: { ms: { value: ms, unit: 'ms' }, gflops: { value: 4, unit: 'GFLOP/s' } },
          },
          { name: 'matmul', params: { n: 512 }, metrics: { ms: { value: 4 * ms, unit: 'ms' } } },
          {
            name: 'train',
            params: {},
            metrics: { accuracy: { value: acc, unit: '%' }, density: { value: acc / 100, unit: '' } },
          },
          ...(extra ? [{ name: 'only here', params: {}, metrics: { x: { value: 1, unit: '' } } }] : []),
        ],
      },
    ],
  };
}

describe('command line: run options', () => {
  it('parses options', () => {
    expect(
      parseArgs([
        '--suite',
        'backends,schedules',
        '--suite=lm',
        '--full',
        '--backend=cpu',
        '--seed',
        '7',
        '--no-progress',
      ]),
    ).toMatchObject({
      command: 'run',
      suites: ['backends', 'schedules', 'lm'],
      full: true,
      backend: 'cpu',
      seed: 7,
      progress: false,
    });
    expect(parseArgs([])).toMatchObject({
      command: 'run',
      suites: [],
      full: false,
      backend: 'wasm',
      out: 'results',
      seed: 1,
      progress: true,
    });
    expect(parseArgs(['compare', 'a', 'b', '--json'])).toMatchObject({
      command: 'compare',
      a: 'a',
      b: 'b',
      json: true,
      threshold: 0.1,
    });
  });

  it('documents --no-progress and the exit statuses in --help', async () => {
    expect(await main(['--help'])).toBe(0);
    expect(out.join('\n')).toMatch(/--no-progress\s+no progress bars/);
    expect(out.join('\n')).toMatch(/exit status: 0 done, 1 a suite failed, 2 a usage error/);
  });

  it.each([
    [['--frobnicate'], /unknown option --frobnicate/],
    [['--suit', 'lm'], /unknown option --suit \(did you mean --suite\?\)/],
    [['--backend', 'nope'], /--backend: unknown backend 'nope'; backends are auto, cpu, wasm/],
    [['--backend'], /--backend needs a value/],
    [['--quick', '--full'], /--quick and --full exclude each other/],
    [['--quick=yes'], /--quick takes no value/],
    [['--suite', ','], /--suite: no suite named in ','/],
    [['--suite', 'schedulez'], /unknown suite 'schedulez' \(did you mean schedules\?\)/],
    [['--seed', 'x'], /--seed must be an integer, got 'x'/],
    [['--seed', '1.5'], /--seed must be an integer, got '1.5'/],
    [['extra'], /unexpected argument 'extra'/],
  ])('%j exits 2 with one line', async (argv, message) => {
    expect(await usageError(argv)).toMatch(message);
  });

  it('an unwritable --out exits 2 at once (no hang under /proc) and writes nothing', async () => {
    expect(await usageError(['--out', '/proc/x', '--suite', 'schedules'])).toMatch(/--out: cannot create \/proc\/x/);
    err = [];
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    expect(await usageError(['--out', join(file, 'sub'), '--suite', 'schedules'])).toMatch(
      /--out: .*a-file is not a folder/,
    );
  });

  it('a backend that cannot start exits 2 and leaves no results folder behind', async () => {
    const target = join(dir, 'fresh', 'results');
    // tfjs-node is not a dependency of the bench: initBackend('tensorflow') fails here.
    expect(await usageError(['--backend', 'tensorflow', '--out', target, '--suite', 'schedules'])).toMatch(
      /--backend tensorflow: cannot start it here/,
    );
    expect(existsSync(join(dir, 'fresh'))).toBe(false);
  });
});

describe('command line: compare', () => {
  const a = join(dir, 'a.json');
  const b = join(dir, 'b.json');
  beforeEach(() => {
    writeFileSync(a, JSON.stringify(report(10, 90, true)));
    writeFileSync(b, JSON.stringify(report(5, 80)));
  });

  it.each([
    ['missing', () => join(dir, 'missing.json'), /compare: cannot read .*missing\.json: no such file/],
    [
      'empty',
      () => (writeFileSync(join(dir, 'empty.json'), ''), join(dir, 'empty.json')),
      /empty\.json is not a blockwise report: empty/,
    ],
    [
      'truncated',
      () => (writeFileSync(join(dir, 't.json'), readFileSync(a, 'utf8').slice(0, 100)), join(dir, 't.json')),
      /t\.json is not a blockwise report: truncated JSON/,
    ],
    [
      'not JSON',
      () => (writeFileSync(join(dir, 'n.json'), 'hello\nworld'), join(dir, 'n.json')),
      /n\.json is not a blockwise report: not JSON/,
    ],
    [
      'JSON but no report',
      () => (writeFileSync(join(dir, 'o.json'), '{"a": 1}'), join(dir, 'o.json')),
      /o\.json is not a blockwise report \(needs "environment"/,
    ],
    [
      'a folder without report.json',
      () => (mkdirSync(join(dir, 'run'), { recursive: true }), join(dir, 'run')),
      /cannot read .*run\/report\.json: no such file/,
    ],
  ])('a %s report exits 2 naming the file', async (_what, make, message) => {
    expect(await usageError(['compare', a, make()])).toMatch(message);
  });

  it.skipIf(process.getuid?.() === 0)('an unreadable report exits 2 naming the file', async () => {
    const f = join(dir, 'locked.json');
    writeFileSync(f, '{}');
    chmodSync(f, 0o000);
    expect(await usageError(['compare', f, b])).toMatch(/cannot read .*locked\.json: permission denied/);
  });

  it('prints the summary first, then the changed metrics, within 100 columns', async () => {
    expect(await main(['compare', a, b])).toBe(0);
    const text = out.join('\n');
    const lines = text.split('\n');
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(100);
    const head = lines.findIndex((l) =>
      /^suite\s+matched\s+better\s+worse\s+same\s+other\s+time B\/A\s+only A\s+only B$/.test(l),
    );
    expect(head).toBeGreaterThan(0);
    // demo: 5 matched metrics. ms at n=256 and n=512 halve (time: better), GFLOP/s unchanged,
    // accuracy 90 -> 80 (worse), density 0.9 -> 0.8 has no direction (other).
    // Time ratio: geometric mean of 0.5 and 0.5 = 0.5.
    expect(lines[head + 1]).toMatch(/^demo\s+5\s+2\s+1\s+1\s+1\s+0\.50x\s+1\s+0$/);
    expect(text.indexOf('changed beyond 10%')).toBeGreaterThan(text.indexOf(lines[head + 1]!));
    expect(text).toMatch(/matmul 256\s+ms \(ms\)\s+10\s+5\s+0\.500\s+\+ better/);
    expect(text).toMatch(/train\s+accuracy \(%\)\s+90\s+80\s+0\.889\s+- worse/);
    expect(text).toMatch(/train\s+density\s+0\.9000\s+0\.8000\s+0\.889\s+~ changed/);
    expect(text).not.toMatch(/gflops/); // unchanged: only with --all
    expect(text).toContain('only in A: 1 result(s) (demo 1)');
  });

  it('--all lists every metric; --threshold moves the noise line; --json is for machines', async () => {
    expect(await main(['compare', a, b, '--all'])).toBe(0);
    expect(out.join('\n')).toMatch(/matmul 256\s+gflops \(GFLOP\/s\)\s+4\s+4\s+1\.000/);
    out = [];
    expect(await main(['compare', a, b, '--threshold', '0.6'])).toBe(0);
    expect(out.join('\n')).toMatch(/^demo\s+5\s+0\s+0\s+5\s+0\s+0\.50x/m);
    out = [];
    expect(await main(['compare', a, b, '--json'])).toBe(0);
    const j = JSON.parse(out.join('\n'));
    expect(j.suites[0]).toMatchObject({
      suite: 'demo',
      matched: 5,
      better: 2,
      worse: 1,
      same: 1,
      changed: 1,
      onlyA: 1,
      onlyB: 0,
    });
    expect(j.suites[0].timeRatio).toBeCloseTo(0.5, 12);
    expect(j.metrics.find((m: { metric: string }) => m.metric === 'accuracy')).toMatchObject({
      a: 90,
      b: 80,
      direction: 'higher',
      verdict: 'worse',
    });
    [err, out] = [[], []];
    expect(await usageError(['compare', a, b, '--threshold', 'x'])).toMatch(
      /--threshold must be a number in \[0, 1\), got 'x'/,
    );
  });
});

describe('the blockwise-bench binary', () => {
  it('exits 2 with one line and no stack trace for a bad backend', () => {
    const tsx = createRequire(import.meta.url).resolve('tsx/cli');
    const r = spawnSync(
      process.execPath,
      [tsx, fileURLToPath(new URL('./main.ts', import.meta.url)), '--backend', 'nope'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^blockwise-bench: --backend: unknown backend 'nope'/),
    ]);
  });
});
